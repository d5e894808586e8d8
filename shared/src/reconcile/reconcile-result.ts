/**
 * What reconciling one key says: controller-runtime's contract (`reconcile.Result` / an error),
 * one vocabulary for the agent's desired-state reconciler and the controller's reconcile loops.
 *
 * - `done`: the key is where it should be; its backoff is forgotten.
 * - `again`: not there yet and worth trying again: after `afterMs` when the reconciler knows
 *   (a condition that ends at a known time: a health window, a lease, a domain tearing down),
 *   else after the key's own exponential backoff (retry-queue.ts).
 * - `terminal`: trying again cannot help until the input changes (a plist that does not load,
 *   a label held by a local job, a record a human must repair); the key leaves the queue.
 */
export type ReconcileResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'again'; readonly why: string; readonly afterMs?: number }
  | { readonly kind: 'terminal'; readonly why: string };

export const done: ReconcileResult = { kind: 'done' };

/** Try again: after `afterMs` (clamped at 0) when given, else after the key's backoff. */
export function again(why: string, afterMs?: number): ReconcileResult {
  return afterMs === undefined
    ? { kind: 'again', why }
    : { kind: 'again', why, afterMs: Math.max(0, afterMs) };
}

export function terminal(why: string): ReconcileResult {
  return { kind: 'terminal', why };
}
