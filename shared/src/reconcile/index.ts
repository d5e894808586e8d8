/** Reconciling with a result: the vocabulary, the backoff bounds and the pure retry queue. */
export { type BackoffPolicy, backoffCeiling } from './backoff.ts';
export { type ReconcileResult, again, done, terminal } from './reconcile-result.ts';
export { type RetryEntry, RetryQueue } from './retry-queue.ts';
