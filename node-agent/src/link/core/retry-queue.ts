/**
 * What reconciling one key says, and the queue that acts on it: controller-runtime's contract
 * (`reconcile.Result` / an error, and the rate-limited, de-duplicating work queue of
 * client-go), as a pure core.
 *
 * - `done`: the key is where it should be; its backoff is forgotten.
 * - `again`: not there yet and worth trying again: after `afterMs` when the reconciler knows
 *   (a condition that ends at a known time), else after the key's own exponential backoff
 *   (`policy.baseMs` x 2^(consecutive failures), at most `policy.capMs`), so one failing job
 *   is retried soon at first and then ever less often, and does not slow any other key.
 * - `terminal`: trying again cannot help until the input changes (a plist that does not load,
 *   a label held by a local job); the key leaves the queue and its backoff is forgotten.
 *
 * A key is in the queue at most once (de-duplication): asked for again while it waits, it keeps
 * the earlier of its two times. `held(key, now)` says whether its time has not come yet (the
 * runtime skips it then); `next()` is when the earliest one is due (the runtime arms one timer
 * for it). Times are monotonic milliseconds, passed in.
 */
import { type BackoffPolicy, backoffCeiling } from './backoff.ts';

export type ReconcileResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'again'; readonly why: string; readonly afterMs?: number }
  | { readonly kind: 'terminal'; readonly why: string };

export const done: ReconcileResult = { kind: 'done' };

export function again(why: string, afterMs?: number): ReconcileResult {
  return afterMs === undefined ? { kind: 'again', why } : { kind: 'again', why, afterMs };
}

export function terminal(why: string): ReconcileResult {
  return { kind: 'terminal', why };
}

/**
 * The agent's reconcile retries: first after 1 s, then 2, 4, ... never more than 30 s apart, the
 * period of the level check that retried every failure before (so no job waits longer than then).
 */
export const defaultRetryPolicy: BackoffPolicy = { baseMs: 1000, capMs: 30_000 };

interface Entry {
  /** Consecutive `again` results without an `afterMs` (the backoff exponent). */
  failures: number;
  /** When the key is due; undefined once it was taken (tried) and not queued again. */
  dueAt: number | undefined;
}

export class RetryQueue {
  readonly #policy: BackoffPolicy;
  readonly #entries = new Map<string, Entry>();

  constructor(policy: BackoffPolicy = defaultRetryPolicy) {
    this.#policy = policy;
  }

  /**
   * Records what reconciling `key` at `now` returned. Returns when the key is due again, or
   * undefined when it left the queue (`done`, `terminal`).
   */
  settle(key: string, result: ReconcileResult, now: number): number | undefined {
    if (result.kind !== 'again') {
      this.#entries.delete(key);
      return undefined;
    }
    let e = this.#entries.get(key);
    if (!e) this.#entries.set(key, (e = { failures: 0, dueAt: undefined }));
    let wait = result.afterMs;
    if (wait === undefined) wait = backoffCeiling(e.failures++, this.#policy);
    // The key was just tried, so a time it still holds is one asked for meanwhile: the earlier wins.
    const at = now + Math.max(0, wait);
    e.dueAt = e.dueAt !== undefined && e.dueAt > now ? Math.min(e.dueAt, at) : at;
    return e.dueAt;
  }

  /** Queues `key` for `at` (an outside reason to look again); a key already waiting keeps the earlier time. */
  add(key: string, at: number): void {
    const e = this.#entries.get(key);
    if (!e) this.#entries.set(key, { failures: 0, dueAt: at });
    else e.dueAt = e.dueAt === undefined ? at : Math.min(e.dueAt, at);
  }

  /** True while `key` waits for a time after `now`: the runtime leaves it alone until then. */
  held(key: string, now: number): boolean {
    const at = this.#entries.get(key)?.dueAt;
    return at !== undefined && at > now;
  }

  /** The keys due at `now`, earliest first; each is taken (tried now), its backoff kept. */
  take(now: number): string[] {
    const due = [...this.#entries]
      .filter(([, e]) => e.dueAt !== undefined && e.dueAt <= now)
      .sort(([, a], [, b]) => (a.dueAt as number) - (b.dueAt as number));
    for (const [, e] of due) e.dueAt = undefined;
    return due.map(([k]) => k);
  }

  /** When the earliest waiting key is due; undefined when none waits. */
  next(): number | undefined {
    let at: number | undefined;
    for (const e of this.#entries.values())
      if (e.dueAt !== undefined && (at === undefined || e.dueAt < at)) at = e.dueAt;
    return at;
  }

  /** Consecutive backed-off failures of `key` (0 when it is not known). */
  failures(key: string): number {
    return this.#entries.get(key)?.failures ?? 0;
  }

  /** Forgets `key` (its input changed, or it converged another way): next time it starts afresh. */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every key `drop` selects. */
  forgetWhere(drop: (key: string) => boolean): void {
    for (const k of [...this.#entries.keys()]) if (drop(k)) this.#entries.delete(k);
  }

  /** Every key the queue knows (waiting, or taken with its backoff kept). */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  get size(): number {
    return this.#entries.size;
  }
}
