/**
 * The reconcile queue's pure core: which keys wait, until when, and each key's backoff, with
 * client-go's rate-limited, de-duplicating work-queue guarantees. Times are monotonic
 * milliseconds, passed in; the runtime arms one timer for `next()` (a timer is an effect the
 * core asks for). Used as it is by the agent's reconciler (node-agent link/reconciler.ts) and,
 * wrapped with a scheduler and "one at a time per key", by the controller's work queue
 * (controller reconcile/work-queue.ts).
 *
 * - `settle(key, result, now)` records what reconciling `key` returned (reconcile-result.ts):
 *   `done` and `terminal` take it out and forget its backoff; `again` queues it after `afterMs`,
 *   or after its own backoff (`policy.baseMs` x 2^(consecutive failures), at most
 *   `policy.capMs`), so one failing key is retried soon at first and then ever less often, and
 *   does not slow any other key.
 * - De-duplication: a key is in the queue at most once; asked for again while it waits
 *   (`add`, `backOff`), it keeps the earlier of its two times.
 * - `held(key, now)`: its time has not come yet (the runtime skips it); `take(now)`: the due keys,
 *   earliest first, each taken once (its backoff kept until it is settled or forgotten).
 *
 * Invariant: an entry exists only while the key waits (`dueAt` set) or has a backoff or a
 * reason to report (taken, not yet settled).
 */
import { type BackoffPolicy, backoffCeiling } from './backoff.ts';
import type { ReconcileResult } from './reconcile-result.ts';

/** One key as the queue knows it (for status: what waits, why, and when it is tried next). */
export interface RetryEntry {
  readonly key: string;
  /** Consecutive `again` results without an `afterMs` (the backoff exponent). */
  readonly failures: number;
  /** When the key is due (monotonic ms); undefined once it was taken and not queued again. */
  readonly dueAt: number | undefined;
  /** Why it was last asked to try again (`again`'s `why`), if it was. */
  readonly why: string | undefined;
}

interface Entry {
  failures: number;
  dueAt: number | undefined;
  why: string | undefined;
}

export class RetryQueue {
  readonly #policy: BackoffPolicy;
  readonly #entries = new Map<string, Entry>();

  constructor(policy: BackoffPolicy) {
    this.#policy = policy;
  }

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (!e) this.#entries.set(key, (e = { failures: 0, dueAt: undefined, why: undefined }));
    return e;
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
    const e = this.#entry(key);
    e.why = result.why;
    let wait = result.afterMs;
    if (wait === undefined) wait = backoffCeiling(e.failures++, this.#policy);
    // The key was just tried, so a time it still holds is one asked for meanwhile: the earlier wins.
    const at = now + Math.max(0, wait);
    e.dueAt = e.dueAt !== undefined && e.dueAt > now ? Math.min(e.dueAt, at) : at;
    return e.dueAt;
  }

  /** Queues `key` for `at` (an outside reason to look again); a key already waiting keeps the earlier time. */
  add(key: string, at: number): void {
    const e = this.#entry(key);
    e.dueAt = e.dueAt === undefined ? at : Math.min(e.dueAt, at);
  }

  /**
   * One more failure of `key` in a row: queues it after its backoff (a key already waiting keeps
   * the earlier time). Returns the backoff wait.
   */
  backOff(key: string, now: number, why?: string): number {
    const e = this.#entry(key);
    if (why !== undefined) e.why = why;
    const wait = backoffCeiling(e.failures++, this.#policy);
    e.dueAt = e.dueAt === undefined ? now + wait : Math.min(e.dueAt, now + wait);
    return wait;
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

  /**
   * `key` succeeded (or gave up): its next failure starts the backoff afresh. A time it waits
   * for stands (an outside reason to look again is not a failure).
   */
  resetBackoff(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    if (e.dueAt === undefined) this.#entries.delete(key);
    else {
      e.failures = 0;
      e.why = undefined;
    }
  }

  /** Forgets `key` (its input changed, or it converged another way): next time it starts afresh. */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every key `drop` selects. */
  forgetWhere(drop: (key: string) => boolean): void {
    for (const k of [...this.#entries.keys()]) if (drop(k)) this.#entries.delete(k);
  }

  /** Forgets every key and every time (a queue shut down). */
  clear(): void {
    this.#entries.clear();
  }

  /** Every key the queue knows (waiting, or taken with its backoff kept). */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Every key the queue knows, with its backoff, next time and reason. */
  entries(): RetryEntry[] {
    return [...this.#entries].map(([key, e]) => ({ key, ...e }));
  }

  get size(): number {
    return this.#entries.size;
  }
}
