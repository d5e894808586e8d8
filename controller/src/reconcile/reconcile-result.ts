/**
 * What one reconcile of one key says: the fleet's one vocabulary, `@launchfleet/shared/reconcile`
 * (controller-runtime's `Reconcile -> Result` contract), returned by every reconciler here:
 *
 * - `done`: the key is where it should be; nothing more until something changes it.
 * - `again` after N ms: level-based work that must look again (a rollout waiting out its
 *   health window, a lease another controller holds until it expires); `again` without a time:
 *   retried after the key's backoff.
 * - `terminal`: retrying cannot help until the key changes again.
 *
 * And what a reconciler may throw instead:
 * - an error: something failed; the key is retried with a per-key backoff that doubles on each
 *   failure in a row and resets on success.
 * - a terminal error (`TerminalError`, or any Launchfleet error that is not `retryable`, such
 *   as a record a human must repair or credentials NATS refuses): logged and counted, never
 *   retried until the key changes again.
 */
import { LaunchfleetError, messageOf } from '@launchfleet/shared';

/** An error that retrying will not fix: record it, do not requeue (controller-runtime's TerminalError). */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  constructor(cause: unknown) {
    super(messageOf(cause), { cause });
  }
}

/** True when retrying the same reconcile cannot help: where the `retryable` mark is read. */
export function isTerminal(e: unknown): boolean {
  if (e instanceof TerminalError) return true;
  return e instanceof LaunchfleetError && !e.retryable;
}

/** The outcome label of one reconcile, as counted and logged. */
export type ReconcileOutcome = 'done' | 'again' | 'error' | 'terminal';
