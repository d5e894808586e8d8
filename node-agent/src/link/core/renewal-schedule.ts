/**
 * When an agent renews its NATS credentials (pure; the random draws and the clock are parameters).
 *
 * ```
 *  issued ──────────── window ─────────── expires
 *    |   50 % of the lifetime  [50 %, 80 %)  |
 *    |                         ^ renewAt     |
 *    |                         | u uniform   |
 *    └─ scheduled ─────────────┴─ due ───────┴─ expired (re-enrolment with a token)
 *                               retries: full jitter (30 s .. 30 min), never past expiry
 * ```
 *
 * Why a random point of a wide window: every node picks its renewal time uniformly in
 * [50 %, 80 %) of its own credentials' lifetime, so a fleet enrolled in one afternoon still
 * renews spread over 30 % of the lifetime. With 30-day credentials that is 9 days: 50,000 nodes
 * enrolled at the same instant renew at 50,000 / (9 x 86,400 s) = 0.064 per second on average,
 * about 4 a minute, and in steady state (one renewal per node every 15-24 days, 19.5 on
 * average) 50,000 / (19.5 x 86,400 s) = 0.03 per second. Renewals that fail (controller down)
 * retry with full jitter, which also spreads the nodes that were due during an outage.
 * The 20 % left after the window leaves 6 days (of 30) to get through an outage or a trip
 * before the credentials expire.
 *
 * Invariants: a renewal time lies inside the window; a retry time lies in (now, expiry) while
 * the credentials still work; a nudge (the controller asks for a renewal now, e.g. after a key
 * rotation) only ever moves the renewal earlier.
 */

/** Where in its credentials' lifetime a node renews, and how it retries. */
export interface RenewalPolicy {
  /** Start of the renewal window, as a fraction of the lifetime. In (0, windowEnd). */
  readonly windowStart: number;
  /** End of the window (exclusive). In (windowStart, 1). */
  readonly windowEnd: number;
  /** Upper bound of the first retry wait. */
  readonly retryBaseMs: number;
  /** Upper bound of every retry wait. */
  readonly retryCapMs: number;
}

export const defaultRenewalPolicy: RenewalPolicy = {
  windowStart: 0.5,
  windowEnd: 0.8,
  retryBaseMs: 30_000,
  retryCapMs: 30 * 60_000,
};

/** The node's credentials as its JWT states them. */
export interface HeldCredentials {
  /** `iat`, ms. */
  readonly issuedAtMs: number;
  /** `exp`, ms; undefined: the credentials never expire (issued before they did). */
  readonly expiresAtMs: number | undefined;
}

/** Where the credentials stand. */
export type CredentialsState =
  /** Before the renewal time. */
  | 'valid'
  /** Past the renewal time, before expiry: renew when connected. */
  | 'renewal-due'
  /** Past expiry: no server accepts them; the way back is re-enrolment with a bootstrap token. */
  | 'expired'
  /**
   * No expiry: nothing to renew, unless a renewal was planned all the same (the controller
   * asked, e.g. after a key rotation; or a retry of that): then `renewal-due` once it is due.
   */
  | 'no-expiry';

const unit = (u: number): number => (Number.isFinite(u) ? Math.min(Math.max(u, 0), 1 - Number.EPSILON) : 0);

/** The renewal time for draw `u` in [0, 1): inside the window; undefined without expiry. */
export function renewalTime(
  c: HeldCredentials,
  u: number,
  p: RenewalPolicy = defaultRenewalPolicy,
): number | undefined {
  if (c.expiresAtMs === undefined) return undefined;
  const life = Math.max(0, c.expiresAtMs - c.issuedAtMs);
  const f = p.windowStart + (p.windowEnd - p.windowStart) * unit(u);
  // Float rounding can land exactly on the (exclusive) end: keep it inside.
  const last = Math.max(Math.ceil(life * p.windowEnd) - 1, Math.floor(life * p.windowStart));
  return c.issuedAtMs + Math.min(Math.floor(life * f), last);
}

/** The state at `now`, given the renewal time chosen. */
export function credentialsState(
  c: HeldCredentials,
  renewAtMs: number | undefined,
  now: number,
): CredentialsState {
  // Without expiry a renewal is planned only when asked for (a nudge, or its retry). Read as
  // 'no-expiry' then, the renewal timer re-armed itself at once, for ever, and never renewed.
  if (c.expiresAtMs === undefined)
    return renewAtMs !== undefined && now >= renewAtMs ? 'renewal-due' : 'no-expiry';
  if (now >= c.expiresAtMs) return 'expired';
  if (renewAtMs !== undefined && now >= renewAtMs) return 'renewal-due';
  return 'valid';
}

/**
 * When to try again after `failures` failed attempts (1 after the first): full jitter within
 * [retryBase * 2^(failures-1)] capped at retryCap, and, while the credentials still work, no
 * later than halfway to their expiry (so the last tries come before the end, closer and closer).
 */
export function retryTime(
  now: number,
  failures: number,
  u: number,
  expiresAtMs: number | undefined,
  p: RenewalPolicy = defaultRenewalPolicy,
): number {
  const n = Math.max(0, Math.min(Math.floor(failures) - 1, 40));
  let ceiling = Math.min(p.retryCapMs, p.retryBaseMs * 2 ** n);
  if (expiresAtMs !== undefined && expiresAtMs > now) ceiling = Math.min(ceiling, (expiresAtMs - now) / 2);
  return now + 1 + Math.floor(unit(u) * Math.max(0, ceiling));
}

/** A nudge: renew within `withinMs` from now (drawn with `u`), or at the planned time if earlier. */
export function nudgedTime(renewAtMs: number | undefined, now: number, withinMs: number, u: number): number {
  const t = now + Math.floor(unit(u) * Math.max(0, withinMs));
  return renewAtMs === undefined ? t : Math.min(renewAtMs, t);
}
