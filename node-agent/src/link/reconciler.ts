/**
 * The desired-state reconcile loop (runtime): holds the verified desired jobs, persists them,
 * and drives the supervisor to them through the DomainManager, one pass at a time.
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
import type { JobSpec } from '@launchfleet/shared/job';
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
import type { BundleMeta } from './desired-watch.ts';
import type { DesiredStore, LoadedBundle } from './desired-store.ts';
import type { DriftDetector } from './drift.ts';
import { type ManagedFiles, plistDigest } from './managed-files.ts';

/** One verified desired job and what the agent made of its plist. */
interface DesiredEntry {
  readonly bundle: JobBundle;
  readonly raw: string;
  readonly rawDigest: string;
  readonly acceptedAt: number;
  readonly plistDigest: string;
  /** Why the plist does not make a loadable job, if it does not. */
  readonly invalid?: string;
}

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
  readonly #desired = new Map<string, DesiredEntry>();
  readonly #records = new Map<string, Record_>();
  readonly #failures = new Map<
    string,
    FailureRecord & { readonly reason: string; readonly retryAtMs?: number }
  >();
  #applied = new Map<string, AppliedVersion>();
  #revision = 0;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #saving: Promise<void> = Promise.resolve();
  /** The last save failed: saved again on the next pass (the disk may have room again). */
  #unsaved = false;
  #passes = 0;
  readonly #unheld = new Set<string>();

  constructor(o: ReconcilerOptions) {
    this.#o = o;
  }

  /** Loads the last verified state from the state directory (at start, before any network). */
  async restore(trust: TrustStore | undefined, nodeId: string): Promise<void> {
    const c = await this.#o.store.load(trust, nodeId);
    this.#applied = c.applied;
    this.#revision = c.revision;
    for (const d of c.dropped) {
      this.#o.log(
        'warn',
        'link',
        `stored desired state: dropped ${d.label ?? 'an entry'}: ${d.reason}: ${d.detail}`,
      );
      this.#o.emit({
        kind: 'bundle-refused',
        reason: d.reason,
        detail: d.detail,
        ...(d.label !== undefined && { label: d.label }),
      });
    }
    for (const b of c.bundles) this.#setDesired(b);
    for (const d of c.dropped)
      if (d.label !== undefined && !this.#desired.has(d.label)) this.#unheld.add(d.label);
    this.#o.log(
      'info',
      'link',
      `restored ${c.bundles.length} verified desired jobs (revision ${c.revision})`,
    );
  }

  /** Applied versions per label (seeds the watch's replay protection). */
  get applied(): ReadonlyMap<string, AppliedVersion> {
    return this.#applied;
  }

  /**
   * Labels whose stored bundle was dropped at restore (it did not verify, or there was no trust
   * store to verify it with): their applied version is known but not held, so the desired
   * state delivering that same version, verified, is taken again rather than ignored as a
   * re-delivery. A removed job is not here: its bundle is gone, not unheld.
   */
  get unheld(): ReadonlySet<string> {
    return this.#unheld;
  }

  /** Wire digests of the bundles in force, per label (seeds the watch's re-delivery check). */
  appliedRaw(): Map<string, string> {
    return new Map([...this.#desired].map(([l, d]) => [l, d.rawDigest]));
  }

  /** The highest desired-state revision taken into account. */
  get revision(): number {
    return this.#revision;
  }

  /** Passes run so far. */
  get passes(): number {
    return this.#passes;
  }

  /** A verified, new bundle from the watch. */
  accept(bundle: JobBundle, meta: BundleMeta): void {
    const prev = this.#applied.get(bundle.label);
    const superseded =
      prev && prev.digest !== meta.digest
        ? [...(prev.superseded ?? []), prev.digest].slice(-16)
        : (prev?.superseded ?? []);
    this.#applied.set(bundle.label, { version: bundle.version, digest: meta.digest, superseded });
    this.#unheld.delete(bundle.label);
    this.#revision = Math.max(this.#revision, meta.revision);
    this.#setDesired({ bundle, raw: meta.raw, rawDigest: meta.rawDigest, acceptedAt: this.#o.wallMs() });
    this.#persist();
    this.requestPass(`bundle ${bundle.label} v${bundle.version}`);
  }

  /** The controller removed a label's desired state. */
  remove(label: string, revision: number): void {
    this.#revision = Math.max(this.#revision, revision);
    this.#unheld.delete(label); // removed now: its last bundle put again is a replay
    if (!this.#desired.delete(label)) return;
    this.#persist();
    this.requestPass(`removed ${label}`);
  }

  /** Labels the controller wants but whose plist cannot be loaded, with why. */
  invalidJobs(): { label: string; domain: string; version: number; reason: string }[] {
    return [...this.#desired.values()]
      .filter((d) => d.invalid !== undefined)
      .map((d) => ({
        label: d.bundle.label,
        domain: d.bundle.domain,
        version: d.bundle.version,
        reason: 'invalid-plist',
      }));
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
    return new Map([...this.#desired].map(([l, d]) => [l, d.bundle.version]));
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
    await this.#saving;
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
    if (this.#unsaved) this.#persist();
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
    const spec = this.#parse(d, domain.kind, path);
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

  #parse(
    d: DesiredEntry,
    kind: Domain['kind'],
    path: string,
  ): { ok: true; value: JobSpec } | { ok: false; error: string } {
    let result;
    try {
      result = this.#o.loader(new TextEncoder().encode(d.bundle.plist), { path, domain: kind });
    } catch (e) {
      return { ok: false, error: `the plist could not be read: ${messageOf(e)}` };
    }
    if (!result.spec) {
      const errors = result.issues.filter((i) => i.severity === 'error');
      return {
        ok: false,
        error:
          errors.map((i) => `${i.keyPath || '(root)'}: ${i.message}`).join('; ') || 'no job in the plist',
      };
    }
    if (result.spec.label !== d.bundle.label)
      return {
        ok: false,
        error: `the plist's Label ${JSON.stringify(result.spec.label)} is not the bundle's ${JSON.stringify(d.bundle.label)}`,
      };
    return { ok: true, value: result.spec };
  }

  #setDesired(b: LoadedBundle | (Omit<LoadedBundle, 'bundle'> & { bundle: JobBundle })): void {
    const kind =
      b.bundle.domain === 'system' ? 'system' : b.bundle.domain.startsWith('gui/') ? 'gui' : 'user';
    const entry: DesiredEntry = {
      bundle: b.bundle,
      raw: b.raw,
      rawDigest: b.rawDigest,
      acceptedAt: b.acceptedAt,
      plistDigest: plistDigest(b.bundle.plist),
    };
    // Checked once on arrival, so a broken bundle is reported once and the old version keeps running.
    const parsed = this.#parse(entry, kind, `${b.bundle.label}.plist`);
    const invalid = parsed.ok ? undefined : parsed.error;
    this.#desired.set(b.bundle.label, invalid === undefined ? entry : { ...entry, invalid });
    if (invalid !== undefined) {
      this.#o.log('warn', b.bundle.label, `version ${b.bundle.version} cannot be loaded: ${invalid}`);
      this.#o.emit({
        kind: 'load-failed',
        label: b.bundle.label,
        domain: b.bundle.domain,
        version: b.bundle.version,
        reason: 'invalid-plist',
        detail: invalid,
      });
    }
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

  #persist(): void {
    const bundles = [...this.#desired.values()].map((d) => ({ raw: d.raw, acceptedAt: d.acceptedAt }));
    const applied = new Map(this.#applied);
    const revision = this.#revision;
    const retry = this.#unsaved;
    this.#saving = this.#saving
      .then(() => this.#o.store.save(bundles, applied, revision))
      .then(() => {
        if (this.#unsaved)
          this.#o.log('info', 'link', `desired state persisted again (${this.#o.store.path})`);
        this.#unsaved = false;
      })
      .catch((e: unknown) => {
        this.#unsaved = true;
        // Once per outage at error level; the retries (one per pass) at debug.
        this.#o.log(
          retry ? 'debug' : 'error',
          'link',
          `cannot persist the desired state to ${this.#o.store.path} (kept in memory, retried on each pass): ${messageOf(e)}`,
        );
      });
  }
}
