/**
 * The desired-state reconcile loop (runtime): drives the supervisor, through the DomainManager,
 * to the verified desired jobs (held and persisted by desired-jobs.ts), one pass at a time. The
 * plan is core/reconcile-plan.ts; how each action is carried out, reconcile-actions.ts.
 *
 * ```
 *   watch (verified bundle / removal) ─┐
 *   drift (file watch, job removed) ───┼─▶ requestPass() ─▶ observe ─▶ planReconcile (pure) ─▶ act ─▶ events
 *   periodic level check ──────────────┘        ▲                                            │
 *                                               └──────────── a request during a pass ◀──────┘
 * ```
 * Passes never overlap; requests made during a pass coalesce into one more pass. Every action
 * is idempotent and the plan is recomputed from scratch each time, so a failed or interrupted
 * pass is simply redone.
 *
 * Each action says how it went (@launchfleet/shared/reconcile, controller-runtime's contract): `done`,
 * `again` (an I/O error, a domain tearing down, a bootout that failed) or `terminal` (a plist
 * launchd refuses, a label held by a local job: not tried again until a new version). A job
 * (domain target + label) that should be tried again waits its own exponential backoff (1 s,
 * 2 s, 4 s ... 30 s) in a de-duplicating queue; passes in between leave it alone, and one timer
 * asks for a pass when the earliest is due, so a failure is retried without waiting for the
 * periodic level check, and a failing job neither busy-loops nor delays the others. A new
 * version or a removal of its label starts the job's backoff afresh. Update in place is "bootout (waiting for the old process to exit, up
 * to its ExitTimeOut), then bootstrap the new spec": launchd has no in-place reload either, and
 * it keeps the one-instance invariant.
 */
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import { messageOf } from '@launchfleet/shared/errors';
import { type BackoffPolicy, RetryQueue } from '@launchfleet/shared/reconcile';
import type { NodeEvent } from '@launchfleet/shared/messages';
import type { AppliedVersion, JobBundle, TrustStore } from '@launchfleet/shared/signing';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import {
  type DesiredJob,
  type ObservedJob,
  type ObservedState,
  type ReconcileAction,
  jobKey,
  planReconcile,
} from './core/reconcile-plan.ts';
import { DesiredJobs } from './desired-jobs.ts';
import type { BundleMeta } from './desired-watch.ts';
import type { DesiredStore } from './desired-store.ts';
import type { DriftDetector } from './drift.ts';
import type { ManagedFiles } from './managed-files.ts';
import { ReconcileActions } from './reconcile-actions.ts';

export interface ReconcilerOptions {
  readonly domainManager: DomainManager;
  readonly files: ManagedFiles;
  readonly store: DesiredStore;
  readonly drift: DriftDetector;
  readonly loader: PlistLoader;
  readonly log: SupervisorLog;
  readonly wallMs: () => number;
  /** Monotonic ms (the retry queue's times) and the timer that asks for a retry pass. */
  readonly monotonicMs: () => number;
  readonly scheduler: Scheduler;
  /** Per-job retry backoff (default: `defaultRetryPolicy`). */
  readonly retryPolicy?: BackoffPolicy;
  /** Raises an event (the reporter's outbox). */
  readonly emit: (e: Omit<NodeEvent, 'source'>) => void;
  /** After each pass (tests, status refresh). */
  readonly onPass?: (actions: readonly ReconcileAction[]) => void;
}

/** A job the reconciler is retrying (`Reconciler.retrying()`). */
export interface RetryingJobView {
  readonly target: string;
  readonly label: string;
  readonly failures: number;
  readonly why: string;
  readonly nextAttemptAt?: number;
}

/**
 * The agent's reconcile retries: first after 1 s, then 2, 4, ... never more than 30 s apart, the
 * period of the level check that retried every failure before (so no job waits longer than then).
 */
export const defaultRetryPolicy: BackoffPolicy = { baseMs: 1000, capMs: 30_000 };

export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #desired: DesiredJobs;
  readonly #actions: ReconcileActions;
  /** Jobs (jobKey) to try again, each after its own backoff. */
  readonly #retries: RetryQueue;
  #retryTimer: TimerHandle | undefined;
  #retryAt: number | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #passes = 0;

  constructor(o: ReconcilerOptions) {
    this.#o = o;
    this.#desired = new DesiredJobs(o);
    this.#actions = new ReconcileActions({ ...o, desired: this.#desired });
    this.#retries = new RetryQueue(o.retryPolicy ?? defaultRetryPolicy);
  }

  /** Loads the last verified state from the state directory (at start, before any network). */
  restore(trust: TrustStore | undefined, nodeId: string): Promise<void> {
    return this.#desired.restore(trust, nodeId);
  }

  /** Applied versions per label (seeds the watch's replay protection). */
  get applied(): ReadonlyMap<string, AppliedVersion> {
    return this.#desired.applied;
  }

  /** Labels whose stored bundle was dropped at restore (desired-jobs.ts `unheld`). */
  get unheld(): ReadonlySet<string> {
    return this.#desired.unheld;
  }

  /** Wire digests of the bundles in force, per label (seeds the watch's re-delivery check). */
  appliedRaw(): Map<string, string> {
    return this.#desired.appliedRaw();
  }

  /** The highest desired-state revision taken into account. */
  get revision(): number {
    return this.#desired.revision;
  }

  /** Passes run so far. */
  get passes(): number {
    return this.#passes;
  }

  /** A verified, new bundle from the watch. */
  accept(bundle: JobBundle, meta: BundleMeta): void {
    this.#desired.accept(bundle, meta);
    this.#forgetRetries(bundle.label);
    this.requestPass(`bundle ${bundle.label} v${bundle.version}`);
  }

  /** The controller removed a label's desired state. */
  remove(label: string, revision: number): void {
    if (!this.#desired.remove(label, revision)) return;
    this.#forgetRetries(label);
    this.requestPass(`removed ${label}`);
  }

  /** Labels the controller wants but whose plist cannot be loaded, with why. */
  invalidJobs(): { label: string; domain: string; version: number; reason: string }[] {
    return this.#desired.invalidJobs();
  }

  /** Current load failures (terminal until a new version), for the status snapshot. */
  failures(): { target: string; label: string; version: number; reason: string }[] {
    return [...this.#actions.failures.values()].map((f) => ({
      target: f.target,
      label: f.label,
      version: f.version,
      reason: f.reason,
    }));
  }

  /** The managed version running in (target, label), if the reconciler loaded it. */
  managedVersion(target: string, label: string): number | undefined {
    return this.#actions.records.get(jobKey(target, label))?.version;
  }

  /** Desired jobs (label -> version). */
  desiredVersions(): Map<string, number> {
    return this.#desired.desiredVersions();
  }

  /** Asks for a reconcile pass (coalesced; never concurrent). */
  requestPass(why: string): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#o.log('debug', 'link', `reconcile: ${why}`);
    this.#running = this.#loop().finally(() => (this.#running = undefined));
  }

  /** Resolves when no pass is running or requested. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
    await this.#desired.saved();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#retryTimer?.cancel();
    this.#retryTimer = undefined;
    await this.idle();
  }

  /**
   * Jobs waiting to be tried again: target, label, consecutive failures, why the last try was
   * not done, and when the next one is (wall ms; absent while it is being tried). For the node's
   * status (reporting/node-snapshot.ts) and tests.
   */
  retrying(): RetryingJobView[] {
    const mono = this.#o.monotonicMs();
    const wall = this.#o.wallMs();
    return this.#retries.entries().map((e) => {
      const [target, label] = splitKey(e.key);
      return {
        target,
        label,
        failures: e.failures,
        why: e.why ?? '',
        ...(e.dueAt !== undefined && { nextAttemptAt: wall + Math.max(0, e.dueAt - mono) }),
      };
    });
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#pass();
      } catch (e) {
        // An unexpected error must not end reconciliation: log it; the next request retries.
        this.#o.log('error', 'link', `reconcile pass failed: ${messageOf(e)}`);
      }
    } while (this.#again && !this.#stopped);
    this.#armRetry();
  }

  /** One timer for the earliest job due to be tried again; it asks for a pass. */
  #armRetry(): void {
    const at = this.#stopped ? undefined : this.#retries.next();
    if (at === this.#retryAt && (at === undefined || this.#retryTimer)) return;
    this.#retryTimer?.cancel();
    this.#retryTimer = undefined;
    this.#retryAt = at;
    if (at === undefined) return;
    this.#retryTimer = this.#o.scheduler.after(Math.max(0, at - this.#o.monotonicMs()), () => {
      this.#retryTimer = undefined;
      this.#retryAt = undefined;
      // Taken as of the time asked for: a timer that fires a little early still takes its jobs.
      const due = this.#retries.take(Math.max(at, this.#o.monotonicMs()));
      this.requestPass(`retry ${due.map((k) => splitKey(k).join('/')).join(', ')}`);
    });
  }

  /** A label's input changed (new version, removed): its jobs' backoff starts afresh. */
  #forgetRetries(label: string): void {
    this.#retries.forgetWhere((k) => splitKey(k)[1] === label);
  }

  async #pass(): Promise<void> {
    this.#passes++;
    this.#desired.persistIfUnsaved();
    const observed = await this.#observe();
    const desired: DesiredJob[] = [...this.#desired.values()].map((d) => ({
      label: d.bundle.label,
      domain: d.bundle.domain,
      version: d.bundle.version,
      plistDigest: d.plistDigest,
      loadable: d.invalid === undefined,
    }));
    const now = this.#o.monotonicMs();
    // A job waiting for its retry time is left alone until then (the retry timer asks for that pass).
    const planned = planReconcile(desired, observed);
    const actions = planned.filter((a) => !this.#retries.held(jobKey(a.target, a.label), now));
    if (actions.length > 0)
      this.#o.log(
        'debug',
        'link',
        `plan: ${actions.map((a) => `${a.type} ${a.target}/${a.label}`).join(', ')}`,
      );
    for (const a of actions) {
      if (this.#stopped) break;
      const key = jobKey(a.target, a.label);
      const result = await this.#actions.run(a);
      const at = this.#retries.settle(key, result, this.#o.monotonicMs());
      if (at !== undefined && result.kind === 'again')
        this.#o.log(
          'debug',
          a.label,
          `${a.type} in ${a.target}: again in ${Math.round(at - this.#o.monotonicMs())} ms (${result.why})`,
        );
    }
    // A job that was backing off and now needs nothing got there another way: forget its backoff.
    // (One the plan still names keeps it, also when its timer fired during this pass.)
    const named = new Set(planned.map((a) => jobKey(a.target, a.label)));
    this.#retries.forgetWhere((k) => !named.has(k));
    // Failures of labels no longer desired are forgotten.
    for (const [k, f] of this.#actions.failures)
      if (!this.#desired.has(f.label)) this.#actions.failures.delete(k);
    const dirs = new Set<string>();
    for (const r of this.#actions.records.values()) dirs.add(this.#o.files.domainDir(r.target));
    this.#o.drift.watchDirs(dirs);
    this.#o.onPass?.(actions);
  }

  async #observe(): Promise<ObservedState> {
    const domains = this.#o.domainManager.domains().filter((d) => !d.isTearingDown);
    const jobs: ObservedJob[] = [];
    for (const d of domains) {
      for (const label of d.labels()) {
        const key = jobKey(d.target, label);
        const runner = d.runner(label);
        if (!runner) continue;
        const rec = this.#actions.records.get(key);
        const managedPath = runner.path === this.#o.files.path(d.target, label);
        if (!this.#desired.has(label) && rec === undefined && !managedPath) continue;
        const s = runner.current;
        jobs.push({
          target: d.target,
          label,
          ours: rec?.runner === runner,
          managedPath,
          disabled: s.disabled,
          stopping: s.removalPending || s.sub.kind === 'removal-pending' || s.sub.kind === 'removed',
        });
      }
    }
    return {
      domains: domains.map((d) => ({ target: d.target, kind: d.kind })),
      jobs,
      files: await this.#o.files.list(),
      records: [...this.#actions.records.values()].map((r) => ({
        target: r.target,
        label: r.label,
        version: r.version,
        plistDigest: r.plistDigest,
      })),
      // A retryable failure is planned again; the retry queue holds the job until its time.
      failures: [...this.#actions.failures.values()],
    };
  }
}

/** (target, label) of a jobKey. */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}
