/**
 * Reconnect pacing: "full jitter" exponential backoff (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"). The n-th consecutive failed attempt waits a uniformly random time in
 * [0, min(cap, base * 2^n)).
 *
 * Why not the NATS client's own reconnect: nats.js 3.4 waits `reconnectTimeWait + rand(0,
 * reconnectJitter)` (a constant plus a small additive jitter, never growing) and dials the
 * first reconnect attempt immediately after a disconnect, so 10,000 agents that lose a broker
 * at the same instant all dial at the same instant, then again in lock-step every few seconds.
 * Full jitter spreads them uniformly over a window that grows while the broker stays away.
 *
 * Pure: the random draw is a parameter (a number in [0, 1)). The bounds (`BackoffPolicy`,
 * `backoffCeiling`) are the fleet's one definition in @launchfleet/shared/reconcile.
 */
import { type BackoffPolicy, backoffCeiling } from '@launchfleet/shared/reconcile';

export { type BackoffPolicy, backoffCeiling };

/** The default for a fleet: first retry within 1 s, never more than 30 s apart. */
export const defaultBackoff: BackoffPolicy = { baseMs: 1000, capMs: 30_000 };

/**
 * The wait before attempt `attempt` (0-based count of consecutive failures so far), given a
 * uniform random `u` in [0, 1). Always in [0, ceiling).
 */
export function fullJitterDelay(attempt: number, p: BackoffPolicy, u: number): number {
  const ceiling = backoffCeiling(attempt, p);
  const r = Number.isFinite(u) ? Math.min(Math.max(u, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(r * ceiling);
}

/** Adds up to `fraction` of `periodMs` of random spread (heartbeats): [period, period*(1+fraction)). */
export function jitteredPeriod(periodMs: number, fraction: number, u: number): number {
  const r = Number.isFinite(u) ? Math.min(Math.max(u, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(periodMs + periodMs * fraction * r);
}

/**
 * The first wait after an established connection was lost: uniform in [0, windowMs), so a fleet
 * that lost its broker at one instant comes back spread over the whole window.
 */
export function spreadDelay(windowMs: number, u: number): number {
  const r = Number.isFinite(u) ? Math.min(Math.max(u, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(r * Math.max(0, windowMs));
}
