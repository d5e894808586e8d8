/**
 * The desired-state reconcile loop (runtime): drives the supervisor, through the DomainManager,
 * to the verified desired jobs (held and persisted by desired-jobs.ts), one pass at a time.
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
 * Each action says how it went (core/retry-queue.ts, controller-runtime's contract): `done`,
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
import type { NodeEvent } from '@launchfleet/shared/messages';
import type { AppliedVersion, JobBundle, TrustStore } from '@launchfleet/shared/signing';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { Domain } from '../supervisor/domains/domain.ts';
import { LaunchdCode } from '../supervisor/domains/launchd-errors.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import type { JobRunner, SupervisorLog } from '../supervisor/job-runner.ts';
import {
  type DesiredJob,
  type FailureRecord,
  type ObservedJob,
  type ObservedState,
  type ReconcileAction,
  jobKey,
  planReconcile,
} from './core/reconcile-plan.ts';
import type { BackoffPolicy } from './core/backoff.ts';
import { again, done, type ReconcileResult, RetryQueue, terminal } from './core/retry-queue.ts';
import { type DesiredEntry, DesiredJobs, parseDesired } from './desired-jobs.ts';
import type { BundleMeta } from './desired-watch.ts';
import type { DesiredStore } from './desired-store.ts';
import type { DriftDetector } from './drift.ts';
import type { ManagedFiles } from './managed-files.ts';

interface Record_ {
  readonly target: string;
  readonly label: string;
  readonly version: number;
  /** The digest of the plist the runner was bootstrapped from. */
  readonly plistDigest: string;
  readonly runner: JobRunner | undefined;
}

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
  /** Per-job retry backoff (default: core/retry-queue.ts `defaultRetryPolicy`). */
  readonly retryPolicy?: BackoffPolicy;
  /** Raises an event (the reporter's outbox). */
  readonly emit: (e: Omit<NodeEvent, 'source'>) => void;
  /** After each pass (tests, status refresh). */
  readonly onPass?: (actions: readonly ReconcileAction[]) => void;
}

/** Codes worth retrying on the next pass (the condition is transient). */
const retryableCodes = new Set<number>([LaunchdCode.DOMAIN_TEARING_DOWN, LaunchdCode.EIO]);

export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #desired: DesiredJobs;
  readonly #records = new Map<string, Record_>();
  readonly #failures = new Map<string, FailureRecord & { readonly reason: string }>();
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
    this.#retries = new RetryQueue(o.retryPolicy);
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
    return [...this.#failures.values()].map((f) => ({
      target: f.target,
      label: f.label,
      version: f.version,
      reason: f.reason,
    }));
  }

  /** The managed version running in (target, label), if the reconciler loaded it. */
  managedVersion(target: string, label: string): number | undefined {
    return this.#records.get(jobKey(target, label))?.version;
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

  /** Jobs waiting to be tried again (target, label, consecutive failures): for tests and status. */
  retrying(): { target: string; label: string; failures: number }[] {
    return this.#retries.keys().map((k) => {
      const [target, label] = splitKey(k);
      return { target, label, failures: this.#retries.failures(k) };
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
    const actions = planReconcile(desired, observed).filter(
      (a) => !this.#retries.held(jobKey(a.target, a.label), now),
    );
    if (actions.length > 0)
      this.#o.log(
        'debug',
        'link',
        `plan: ${actions.map((a) => `${a.type} ${a.target}/${a.label}`).join(', ')}`,
      );
    const acted = new Set<string>();
    for (const a of actions) {
      if (this.#stopped) break;
      const key = jobKey(a.target, a.label);
      acted.add(key);
      let result: ReconcileResult;
      try {
        result = await this.#act(a);
      } catch (e) {
        // An I/O error (a full or read-only state directory): tried again after the job's backoff,
        // not on every pass (the failed write touched the managed directory, whose watch asks for
        // the next pass at once: a busy loop that logged and emitted on every turn).
        result = again(`${a.type}: ${messageOf(e)}`);
        this.#o.log('error', a.label, `${a.type} in ${a.target} failed: ${messageOf(e)}`);
        if (a.type === 'load')
          this.#failures.set(key, {
            target: a.target,
            label: a.label,
            version: a.version,
            retryable: true,
            reason: 'internal',
          });
        this.#o.emit({
          kind: 'load-failed',
          label: a.label,
          domain: a.target,
          reason: 'internal',
          detail: `${a.type}: ${messageOf(e)}`,
        });
      }
      const at = this.#retries.settle(key, result, this.#o.monotonicMs());
      if (at !== undefined && result.kind === 'again')
        this.#o.log(
          'debug',
          a.label,
          `${a.type} in ${a.target}: again in ${Math.round(at - this.#o.monotonicMs())} ms (${result.why})`,
        );
    }
    // A job that was backing off and now needs nothing got there another way: forget its backoff.
    this.#retries.forgetWhere((k) => !acted.has(k) && !this.#retries.held(k, now));
    // Failures of labels no longer desired are forgotten.
    for (const [k, f] of this.#failures) if (!this.#desired.has(f.label)) this.#failures.delete(k);
    const dirs = new Set<string>();
    for (const r of this.#records.values()) dirs.add(this.#o.files.domainDir(r.target));
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
        const rec = this.#records.get(key);
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
      records: [...this.#records.values()].map((r) => ({
        target: r.target,
        label: r.label,
        version: r.version,
        plistDigest: r.plistDigest,
      })),
      // A retryable failure is planned again; the retry queue holds the job until its time.
      failures: [...this.#failures.values()],
    };
  }

  async #act(a: ReconcileAction): Promise<ReconcileResult> {
    const key = jobKey(a.target, a.label);
    switch (a.type) {
      case 'load':
      case 'replace': {
        const d = this.#desired.get(a.label);
        const domain = this.#domain(a.target);
        if (!d || !domain) return done; // gone meanwhile: the next pass plans again
        if (a.type === 'replace') {
          this.#records.delete(key);
          const r = await domain.bootout(a.label, { wait: true });
          if (!r.ok && r.error.code !== LaunchdCode.ESRCH) {
            return this.#fail(
              a.target,
              a.label,
              d.bundle.version,
              `bootout-${r.error.code}`,
              r.error.message,
              true,
            );
          }
        }
        return this.#load(
          domain,
          d,
          a.type === 'load' ? a.drift : undefined,
          a.type === 'replace' ? a.fromVersion : undefined,
          a.type === 'replace',
        );
      }
      case 'adopt': {
        const rec = this.#records.get(key);
        const d = this.#desired.get(a.label);
        // A bundle accepted while this pass awaited something is the next pass's business.
        if (!rec || !d || d.bundle.version !== a.version || d.plistDigest !== rec.plistDigest) return done;
        // Same plist, same runner: only the version it answers to changes (the bundle, verified
        // by the watch, is already stored). A failure of an older version no longer applies.
        this.#records.set(key, { ...rec, version: a.version });
        this.#failures.delete(key);
        const how = `version ${a.version} carries the plist of version ${a.fromVersion} (re-signed): kept running`;
        this.#o.log('info', a.label, `${a.target}: ${how}`);
        this.#o.emit({
          kind: 'job-loaded',
          label: a.label,
          domain: a.target,
          version: a.version,
          reason: 'unchanged',
          detail: how,
        });
        return done;
      }
      case 'rewrite-file': {
        const d = this.#desired.get(a.label);
        if (!d) return done;
        await this.#o.files.write(a.target, a.label, d.bundle.plist);
        this.#drift(
          a.drift,
          a.target,
          a.label,
          d.bundle.version,
          'the managed plist was changed on disk; restored',
        );
        return done;
      }
      case 'enable': {
        const domain = this.#domain(a.target);
        if (!domain) return done;
        const r = await domain.enable(a.label);
        if (!r.ok) throw new Error(`enable: ${r.error.message}`);
        this.#drift(
          a.drift,
          a.target,
          a.label,
          this.#records.get(key)?.version,
          'the managed job was disabled by hand; enabled again',
        );
        return done;
      }
      case 'unload': {
        const rec = this.#records.get(key);
        this.#records.delete(key);
        const domain = this.#domain(a.target);
        if (domain) await domain.bootout(a.label, { wait: true });
        await this.#o.files.remove(a.target, a.label);
        this.#o.emit({
          kind: 'job-unloaded',
          label: a.label,
          domain: a.target,
          reason: 'removed',
          ...(rec && { version: rec.version }),
        });
        this.#o.log('info', a.label, `unloaded from ${a.target} (no longer desired)`);
        return done;
      }
      case 'remove-file':
        await this.#o.files.remove(a.target, a.label);
        return done;
      case 'forget':
        this.#records.delete(key);
        return done;
      case 'conflict':
        return this.#fail(
          a.target,
          a.label,
          a.version,
          'label-conflict',
          `a job not managed by the fleet already holds ${a.label} in ${a.target}`,
          false,
        );
      default: {
        const never: never = a;
        throw new Error(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }

  async #load(
    domain: Domain,
    d: DesiredEntry,
    drift: 'job-unloaded' | undefined,
    fromVersion: number | undefined,
    replaced: boolean,
  ): Promise<ReconcileResult> {
    const { label, version } = d.bundle;
    const path = await this.#o.files.write(domain.target, label, d.bundle.plist);
    const spec = parseDesired(this.#o.loader, d, domain.kind, path);
    if (!spec.ok) return this.#fail(domain.target, label, version, 'invalid-plist', spec.error, false);
    const r = await domain.bootstrapSpec(spec.value, { path });
    const key = jobKey(domain.target, label);
    if (!r.ok) {
      return this.#fail(
        domain.target,
        label,
        version,
        `launchd-${r.error.code}`,
        `${r.error.error}: ${r.error.message}`,
        retryableCodes.has(r.error.code),
      );
    }
    this.#failures.delete(key);
    const runner = domain.runner(label);
    this.#records.set(key, { target: domain.target, label, version, plistDigest: d.plistDigest, runner });
    if (runner) this.#o.drift.watchRunner(runner);
    if (drift) {
      this.#drift(drift, domain.target, label, version, 'the managed job was unloaded by hand; loaded again');
      return done;
    }
    const how = replaced
      ? `updated${fromVersion !== undefined ? ` from version ${fromVersion}` : ''} to version ${version}`
      : `loaded version ${version}`;
    this.#o.log('info', label, `${domain.target}: ${how}`);
    this.#o.emit({
      kind: 'job-loaded',
      label,
      domain: domain.target,
      version,
      reason: replaced ? 'updated' : 'loaded',
      detail: how,
    });
    return done;
  }

  #fail(
    target: string,
    label: string,
    version: number,
    reason: string,
    detail: string,
    retryable: boolean,
  ): ReconcileResult {
    const key = jobKey(target, label);
    const prev = this.#failures.get(key);
    this.#failures.set(key, { target, label, version, retryable, reason });
    const result = retryable ? again(reason) : terminal(reason);
    // Reported once per (target, label, version, reason), not on every retry.
    if (prev?.version === version && prev.reason === reason) return result;
    this.#o.log('warn', label, `${target}: version ${version} not loaded: ${reason}: ${detail}`);
    this.#o.emit({
      kind: 'load-failed',
      label,
      domain: target,
      version,
      reason: reason.slice(0, 64),
      detail,
    });
    return result;
  }

  #drift(
    kind: 'plist-changed' | 'job-unloaded' | 'job-disabled',
    target: string,
    label: string,
    version: number | undefined,
    detail: string,
  ): void {
    this.#o.drift.count(kind);
    this.#o.log('warn', label, `${target}: drift ${kind}: ${detail}`);
    this.#o.emit({
      kind: 'drift',
      label,
      domain: target,
      reason: kind,
      detail,
      ...(version !== undefined && { version }),
    });
  }

  #domain(target: string): Domain | undefined {
    const r = this.#o.domainManager.domain(target);
    return r.ok ? r.value : undefined;
  }
}

/** (target, label) of a jobKey. */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}
