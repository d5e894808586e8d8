/**
 * Exponential backoff bounds, shared by every retry in the fleet: the agent's reconnect pacing
 * (node-agent link/core/backoff.ts draws a full-jitter wait below this ceiling) and the
 * reconcile queues' per-key retries (retry-queue.ts waits exactly the ceiling). Pure.
 */

/** Backoff bounds in milliseconds. */
export interface BackoffPolicy {
  /** Upper bound of the first wait (attempt 0). > 0. */
  readonly baseMs: number;
  /** Upper bound of every wait. >= baseMs. */
  readonly capMs: number;
}

/** The exclusive upper bound of the wait before attempt `attempt` (0-based): base x 2^attempt, capped. */
export function backoffCeiling(attempt: number, p: BackoffPolicy): number {
  const n = Math.max(0, Math.min(Math.floor(attempt), 52));
  return Math.min(p.capMs, p.baseMs * 2 ** n);
}
