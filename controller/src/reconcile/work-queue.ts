/**
 * A work queue of keys with controller-runtime's (client-go's) guarantees:
 *
 * - De-duplication: a key waiting in the queue is there once, however often it is added.
 * - One at a time per key: a key being processed is not handed out again; added meanwhile, it
 *   is queued once more when its processing is `done`.
 * - Delayed adds (`addAfter`): one timer per key, the earliest wins.
 * - Per-key backoff (`addRateLimited`): base x 2^(failures-1), capped; `forget` resets it.
 *
 * Invariants: every key is in at most one of `#queue` (waiting) and `#processing`; `#dirty`
 * holds exactly the keys waiting plus those added while processing.
 */
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 200, capMs: 60_000 };

/** The delay after `failures` failures in a row (>= 1). */
export function backoffDelay(failures: number, p: BackoffPolicy): number {
  return Math.min(p.capMs, p.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export class WorkQueue {
  readonly #scheduler: Scheduler;
  readonly #backoff: BackoffPolicy;
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, { dueAt: number; timer: TimerHandle }>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #now: () => number;
  #shutDown = false;

  constructor(scheduler: Scheduler, now: () => number, backoff: BackoffPolicy = defaultBackoff) {
    this.#scheduler = scheduler;
    this.#now = now;
    this.#backoff = backoff;
  }

  /** Keys waiting (not counting delayed ones or those being processed). */
  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const w = this.#waiters.shift();
    if (w) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      w(key);
    } else this.#queue.push(key);
  }

  /** Adds `key` after `ms`; an earlier pending add of the same key stands. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const dueAt = this.#now() + ms;
    const cur = this.#delayed.get(key);
    if (cur && cur.dueAt <= dueAt) return;
    cur?.timer.cancel();
    const timer = this.#scheduler.after(ms, () => {
      if (this.#delayed.get(key)?.timer !== timer) return;
      this.#delayed.delete(key);
      this.add(key);
    });
    this.#delayed.set(key, { dueAt, timer });
  }

  /** Adds `key` after its backoff, one more failure in a row. */
  addRateLimited(key: string): number {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    const ms = backoffDelay(n, this.#backoff);
    this.addAfter(key, ms);
    return ms;
  }

  /** The key succeeded (or gave up): its next failure starts the backoff again. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Failures of `key` in a row. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process; undefined once shut down. */
  get(): Promise<string | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Processing of `key` ended; if it was added meanwhile, it waits again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  /** Stops handing out keys; waiting `get`s resolve undefined; delayed adds are dropped. */
  shutDown(): void {
    this.#shutDown = true;
    for (const d of this.#delayed.values()) d.timer.cancel();
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }
}
