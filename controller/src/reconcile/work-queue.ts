/**
 * A work queue of keys with controller-runtime's (client-go's) guarantees, around the fleet's
 * one pure retry queue (@launchfleet/shared/reconcile `RetryQueue`, which the agent's reconciler
 * uses as it is). The pure core keeps the delayed keys and each key's backoff; this wrapper adds
 * what a controller with workers needs:
 *
 * - De-duplication: a key waiting in the queue is there once, however often it is added.
 * - One at a time per key: a key being processed is not handed out again; added meanwhile, it
 *   is queued once more when its processing is `done`.
 * - Delayed adds (`addAfter`): the earliest wins; one timer, for the core's earliest due key.
 * - Per-key backoff (`addRateLimited`): base x 2^(failures-1), capped; `forget` resets it.
 *
 * Invariants: every key is in at most one of `#queue` (waiting) and `#processing`; `#dirty`
 * holds exactly the keys waiting plus those added while processing; a delayed key is in the
 * core with a due time, and the timer is armed for the core's `next()`.
 */
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import { type BackoffPolicy, RetryQueue } from '@launchfleet/shared/reconcile';

export const defaultBackoff: BackoffPolicy = { baseMs: 200, capMs: 60_000 };

export class WorkQueue {
  readonly #scheduler: Scheduler;
  readonly #delayed: RetryQueue;
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #now: () => number;
  #timer: { at: number; handle: TimerHandle } | undefined;
  #shutDown = false;

  constructor(scheduler: Scheduler, now: () => number, backoff: BackoffPolicy = defaultBackoff) {
    this.#scheduler = scheduler;
    this.#now = now;
    this.#delayed = new RetryQueue(backoff);
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
    this.#delayed.add(key, this.#now() + ms);
    this.#arm();
  }

  /** Adds `key` after its backoff, one more failure in a row; returns the backoff. */
  addRateLimited(key: string): number {
    if (this.#shutDown) return 0;
    const ms = this.#delayed.backOff(key, this.#now());
    this.#arm();
    return ms;
  }

  /** The key succeeded (or gave up): its next failure starts the backoff again. */
  forget(key: string): void {
    this.#delayed.resetBackoff(key);
  }

  /** Failures of `key` in a row. */
  failures(key: string): number {
    return this.#delayed.failures(key);
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
    this.#timer?.handle.cancel();
    this.#timer = undefined;
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  /** One timer, for the earliest delayed key: it adds the due keys and arms for the next. */
  #arm(): void {
    const at = this.#delayed.next();
    if (this.#timer?.at === at) return;
    this.#timer?.handle.cancel();
    this.#timer = undefined;
    if (at === undefined || this.#shutDown) return;
    const handle = this.#scheduler.after(Math.max(0, at - this.#now()), () => {
      if (this.#timer?.handle !== handle) return;
      this.#timer = undefined;
      for (const k of this.#delayed.take(this.#now())) this.add(k);
      this.#arm();
    });
    this.#timer = { at, handle };
  }
}
