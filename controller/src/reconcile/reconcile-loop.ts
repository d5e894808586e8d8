/**
 * Runs a reconciler over a work queue: `workers` keys at a time (never one key twice at once),
 * each outcome handled as controller-runtime's `reconcileHandler` does and counted by outcome:
 *
 *   done           -> forget the key's failures
 *   again after N  -> forget its failures, add it back after N ms
 *   again (no time)-> add it back after its per-key backoff (doubles per failure in a row)
 *   error (thrown) -> the same, counted as an error
 *   terminal       -> forget it (a `terminal` result, or a thrown error `isTerminal` says
 *                     retrying cannot fix); logged, not retried until the key changes again
 */
import { messageOf } from '@launchfleet/shared';
import type { ReconcileResult } from '@launchfleet/shared/reconcile';
import { type ReconcileOutcome, isTerminal } from './reconcile-result.ts';
import type { WorkQueue } from './work-queue.ts';

export interface ReconcileLoopOptions {
  /** For log lines and the outcome counter. */
  readonly name: string;
  readonly queue: WorkQueue;
  readonly reconcile: (key: string) => Promise<ReconcileResult>;
  readonly workers?: number;
  readonly log?: (line: string) => void;
  /** Counts every outcome (metrics). */
  readonly onOutcome?: (outcome: ReconcileOutcome, key: string) => void;
}

export class ReconcileLoop {
  readonly #o: ReconcileLoopOptions;
  #running: Promise<void>[] = [];
  /** Reconciles by outcome (tests, logs). */
  readonly outcomes: Record<ReconcileOutcome, number> = { done: 0, again: 0, error: 0, terminal: 0 };

  constructor(o: ReconcileLoopOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#running.length > 0) return;
    this.#running = Array.from({ length: Math.max(1, this.#o.workers ?? 1) }, () => this.#work());
  }

  /** Shuts the queue down and waits for the reconciles under way. */
  async stop(): Promise<void> {
    this.#o.queue.shutDown();
    await Promise.all(this.#running);
    this.#running = [];
  }

  async #work(): Promise<void> {
    const { queue } = this.#o;
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        await this.reconcileOnce(key);
      } finally {
        queue.done(key);
      }
    }
  }

  /** One reconcile of `key` and its outcome (exported for tests: a pass without workers). */
  async reconcileOnce(key: string): Promise<ReconcileOutcome> {
    const { queue, log } = this.#o;
    let outcome: ReconcileOutcome;
    try {
      const r = await this.#o.reconcile(key);
      switch (r.kind) {
        case 'done':
          queue.forget(key);
          outcome = 'done';
          break;
        case 'again':
          if (r.afterMs === undefined) {
            const ms = queue.addRateLimited(key);
            log?.(`${this.#o.name}: ${key}: ${r.why} (again in ${ms} ms)`);
          } else {
            queue.forget(key);
            queue.addAfter(key, r.afterMs);
          }
          outcome = 'again';
          break;
        case 'terminal':
          queue.forget(key);
          log?.(`${this.#o.name}: ${key}: ${r.why} (not retried)`);
          outcome = 'terminal';
          break;
      }
    } catch (e) {
      if (isTerminal(e)) {
        queue.forget(key);
        log?.(`${this.#o.name}: ${key}: ${messageOf(e)} (not retried)`);
        outcome = 'terminal';
      } else {
        const ms = queue.addRateLimited(key);
        log?.(`${this.#o.name}: ${key}: ${messageOf(e)} (again in ${ms} ms)`);
        outcome = 'error';
      }
    }
    this.outcomes[outcome]++;
    this.#o.onOutcome?.(outcome, key);
    return outcome;
  }
}
