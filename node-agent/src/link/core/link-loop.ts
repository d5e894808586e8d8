/**
 * The fleet link's connection loop as a pure state machine: after each pass (an enrolment or a
 * session attempt) how long the link waits before the next one, and why. The I/O (enrolling,
 * connecting, the session itself, the timers) stays in fleet-link.ts, which feeds this the
 * outcome of each pass and sleeps for the answer.
 *
 * ```
 *  pass ─▶ failed (enrolment, connect or set-up) ─────────────▶ backoff(attempt), attempt + 1
 *       ─▶ session ended, never connected ──────────────────▶ backoff(attempt), attempt + 1
 *       ─▶ session ended after connecting:
 *            broker lost, no renewal ────────────────────────▶ spread (lame duck: short), attempt = 1
 *            else (renewed credentials, watch ended) ───────▶ backoff(0), attempt = 1
 *       ─▶ NATS refused the credentials (a person must act) ──▶ refused: [cap/2, cap), attempt + 1
 *       ─▶ nothing to connect with yet ─────────────────────▶ again at once
 * ```
 *
 * A session that connected resets the backoff (a flapping one that never connects does not). The
 * spread after a lost broker is that outage's first wait, so the next failure backs off from 1.
 * Renewed credentials close the session on purpose: the link reconnects at once (within the
 * first backoff step), without the spread.
 */
import { type BackoffPolicy, fullJitterDelay, spreadDelay } from './backoff.ts';

/** What the loop remembers between passes. */
export interface LinkLoopState {
  /** Consecutive failed passes (the backoff's attempt number). */
  readonly attempt: number;
}

export const initialLinkLoop: LinkLoopState = { attempt: 0 };

/** How one pass of the loop ended. */
export type LinkPassOutcome =
  | { readonly kind: 'failed' }
  /** NATS refused the credentials (link-failure.ts `authorization`): not worth a quick retry. */
  | { readonly kind: 'refused' }
  | { readonly kind: 'no-identity' }
  | {
      readonly kind: 'session-ended';
      /** The session got as far as connected. */
      readonly connected: boolean;
      /** It ended because its connection closed (not a watch failure, not a renewal). */
      readonly lostBroker: boolean;
      /** Its server announced lame-duck mode before closing. */
      readonly lameDuck: boolean;
      /** New credentials were written meanwhile (the session was closed to use them). */
      readonly renewed: boolean;
    };

/** The link's pacing settings. */
export interface LinkPacing {
  readonly backoff: BackoffPolicy;
  /** Window of the first wait after a lost broker. */
  readonly reconnectSpreadMs: number;
  /** The same after a server in lame-duck mode closed the connection. */
  readonly lameDuckSpreadMs: number;
}

/** The wait before the next pass. `none`: at once, no draw made. */
export interface LinkWait {
  readonly kind: 'none' | 'spread' | 'backoff' | 'refused';
  readonly ms: number;
}

/** The next wait and state after a pass; `random` is drawn once when a wait is random. */
export function nextLinkWait(
  s: LinkLoopState,
  outcome: LinkPassOutcome,
  p: LinkPacing,
  random: () => number,
): { readonly wait: LinkWait; readonly state: LinkLoopState } {
  switch (outcome.kind) {
    case 'no-identity':
      return { wait: { kind: 'none', ms: 0 }, state: s };
    case 'failed':
      return backoffFrom(s.attempt, p, random);
    case 'refused': {
      // Credentials refused stay refused until a person acts: never a hot retry, and still spread
      // (a fleet whose account was removed does not come back in lock-step).
      const cap = p.backoff.capMs;
      return {
        wait: { kind: 'refused', ms: Math.floor(cap / 2 + spreadDelay(cap / 2, random())) },
        state: { attempt: s.attempt + 1 },
      };
    }
    case 'session-ended': {
      if (!outcome.connected) return backoffFrom(s.attempt, p, random);
      if (outcome.lostBroker && !outcome.renewed) {
        const window = outcome.lameDuck ? p.lameDuckSpreadMs : p.reconnectSpreadMs;
        return { wait: { kind: 'spread', ms: spreadDelay(window, random()) }, state: { attempt: 1 } };
      }
      return backoffFrom(0, p, random);
    }
    default: {
      const never: never = outcome;
      throw new TypeError(`unknown pass outcome ${JSON.stringify(never)}`);
    }
  }
}

function backoffFrom(
  attempt: number,
  p: LinkPacing,
  random: () => number,
): { readonly wait: LinkWait; readonly state: LinkLoopState } {
  return {
    wait: { kind: 'backoff', ms: fullJitterDelay(attempt, p.backoff, random()) },
    state: { attempt: attempt + 1 },
  };
}
