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
 * pass is simply redone. Update in place is "bootout (waiting for the old process to exit, up
 * to its ExitTimeOut), then bootstrap the new spec": launchd has no in-place reload either, and
 * it keeps the one-instance invariant.
 */
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
  /** Raises an event (the reporter's outbox). */
  readonly emit: (e: Omit<NodeEvent, 'source'>) => void;
  /** After each pass (tests, status refresh). */
  readonly onPass?: (actions: readonly ReconcileAction[]) => void;
}

/**
 * How long an action that threw (an I/O error: a full or read-only state directory) waits before
 * it is tried again. Not on every pass: the failed write touched the managed directory, whose
 * watch asks for the next pass at once (a busy loop that logged and emitted on every turn).
 */
const ioRetryMs = 5000;

/** Codes worth retrying on the next pass (the condition is transient). */
const retryableCodes = new Set<number>([LaunchdCode.DOMAIN_TEARING_DOWN, LaunchdCode.EIO]);

export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #desired: DesiredJobs;
  readonly #records = new Map<string, Record_>();
  readonly #failures = new Map<
    string,
    FailureRecord & { readonly reason: string; readonly retryAtMs?: number }
  >();
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #passes = 0;

  constructor(o: ReconcilerOptions) {
    this.#o = o;
    this.#desired = new DesiredJobs(o);
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
    this.requestPass(`bundle ${bundle.label} v${bundle.version}`);
  }

  /** The controller removed a label's desired state. */
  remove(label: string, revision: number): void {
    if (this.#desired.remove(label, revision)) this.requestPass(`removed ${label}`);
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
    await this.idle();
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
    const actions = planReconcile(desired, observed);
    if (actions.length > 0)
      this.#o.log(
        'debug',
        'link',
        `plan: ${actions.map((a) => `${a.type} ${a.target}/${a.label}`).join(', ')}`,
      );
    for (const a of actions) {
      if (this.#stopped) break;
      try {
        await this.#act(a);
      } catch (e) {
        this.#o.log('error', a.label, `${a.type} in ${a.target} failed: ${messageOf(e)}`);
        if (a.type === 'load')
          this.#failures.set(jobKey(a.target, a.label), {
            target: a.target,
            label: a.label,
            version: a.version,
            retryable: false,
            reason: 'internal',
            retryAtMs: this.#o.wallMs() + ioRetryMs,
          });
        this.#o.emit({
          kind: 'load-failed',
          label: a.label,
          domain: a.target,
          reason: 'internal',
          detail: `${a.type}: ${messageOf(e)}`,
        });
      }
    }
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
      // An I/O failure holds its job back until its retry time, then the plan tries it again.
      failures: [...this.#failures.values()].filter(
        (f) => f.retryAtMs === undefined || f.retryAtMs > this.#o.wallMs(),
      ),
    };
  }

  async #act(a: ReconcileAction): Promise<void> {
    const key = jobKey(a.target, a.label);
    switch (a.type) {
      case 'load':
      case 'replace': {
        const d = this.#desired.get(a.label);
        const domain = this.#domain(a.target);
        if (!d || !domain) return;
        if (a.type === 'replace') {
          this.#records.delete(key);
          const r = await domain.bootout(a.label, { wait: true });
          if (!r.ok && r.error.code !== LaunchdCode.ESRCH) {
            this.#fail(a.target, a.label, d.bundle.version, `bootout-${r.error.code}`, r.error.message, true);
            return;
          }
        }
        await this.#load(
          domain,
          d,
          a.type === 'load' ? a.drift : undefined,
          a.type === 'replace' ? a.fromVersion : undefined,
          a.type === 'replace',
        );
        return;
      }
      case 'adopt': {
        const rec = this.#records.get(key);
        const d = this.#desired.get(a.label);
        // A bundle accepted while this pass awaited something is the next pass's business.
        if (!rec || !d || d.bundle.version !== a.version || d.plistDigest !== rec.plistDigest) return;
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
        return;
      }
      case 'rewrite-file': {
        const d = this.#desired.get(a.label);
        if (!d) return;
        await this.#o.files.write(a.target, a.label, d.bundle.plist);
        this.#drift(
          a.drift,
          a.target,
          a.label,
          d.bundle.version,
          'the managed plist was changed on disk; restored',
        );
        return;
      }
      case 'enable': {
        const domain = this.#domain(a.target);
        if (!domain) return;
        const r = await domain.enable(a.label);
        if (!r.ok) throw new Error(`enable: ${r.error.message}`);
        this.#drift(
          a.drift,
          a.target,
          a.label,
          this.#records.get(key)?.version,
          'the managed job was disabled by hand; enabled again',
        );
        return;
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
        return;
      }
      case 'remove-file':
        await this.#o.files.remove(a.target, a.label);
        return;
      case 'forget':
        this.#records.delete(key);
        return;
      case 'conflict':
        this.#fail(
          a.target,
          a.label,
          a.version,
          'label-conflict',
          `a job not managed by the fleet already holds ${a.label} in ${a.target}`,
          false,
        );
        return;
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
  ): Promise<void> {
    const { label, version } = d.bundle;
    const path = await this.#o.files.write(domain.target, label, d.bundle.plist);
    const spec = parseDesired(this.#o.loader, d, domain.kind, path);
    if (!spec.ok) {
      this.#fail(domain.target, label, version, 'invalid-plist', spec.error, false);
      return;
    }
    const r = await domain.bootstrapSpec(spec.value, { path });
    const key = jobKey(domain.target, label);
    if (!r.ok) {
      this.#fail(
        domain.target,
        label,
        version,
        `launchd-${r.error.code}`,
        `${r.error.error}: ${r.error.message}`,
        retryableCodes.has(r.error.code),
      );
      return;
    }
    this.#failures.delete(key);
    const runner = domain.runner(label);
    this.#records.set(key, { target: domain.target, label, version, plistDigest: d.plistDigest, runner });
    if (runner) this.#o.drift.watchRunner(runner);
    if (drift) {
      this.#drift(drift, domain.target, label, version, 'the managed job was unloaded by hand; loaded again');
      return;
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
  }

  #fail(
    target: string,
    label: string,
    version: number,
    reason: string,
    detail: string,
    retryable: boolean,
  ): void {
    const key = jobKey(target, label);
    const prev = this.#failures.get(key);
    this.#failures.set(key, { target, label, version, retryable, reason });
    // Reported once per (target, label, version, reason), not on every retry.
    if (prev?.version === version && prev.reason === reason) return;
    this.#o.log('warn', label, `${target}: version ${version} not loaded: ${reason}: ${detail}`);
    this.#o.emit({
      kind: 'load-failed',
      label,
      domain: target,
      version,
      reason: reason.slice(0, 64),
      detail,
    });
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
