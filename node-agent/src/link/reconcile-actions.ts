/**
 * The reconciler's actions carried out on the supervisor (DomainManager) and the managed files,
 * each ending in a result (@launchfleet/shared/reconcile): `done`, `again` (worth retrying: an I/O error, a
 * domain tearing down, a bootout that failed) or `terminal` (a plist launchd refuses, a label a
 * local job holds). Keeps what the actions leave behind for the next plan: the jobs it loaded
 * (by runner identity: "ours") and the load failures, and raises the events people see
 * (job-loaded, job-unloaded, load-failed once per version and reason, drift).
 *
 * reconciler.ts decides when to run which action (its pass, its retry queue); this file only
 * says how each is done.
 */
import { messageOf } from '@launchfleet/shared/errors';
import type { NodeEvent } from '@launchfleet/shared/messages';
import { again, done, type ReconcileResult, terminal } from '@launchfleet/shared/reconcile';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { Domain } from '../supervisor/domains/domain.ts';
import { LaunchdCode } from '../supervisor/domains/launchd-errors.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import type { JobRunner, SupervisorLog } from '../supervisor/job-runner.ts';
import { type FailureRecord, type ReconcileAction, jobKey } from './core/reconcile-plan.ts';
import { type DesiredEntry, type DesiredJobs, parseDesired } from './desired-jobs.ts';
import type { DriftDetector } from './drift.ts';
import type { ManagedFiles } from './managed-files.ts';

/** A job the reconciler bootstrapped, and from what. */
export interface LoadedJob {
  readonly target: string;
  readonly label: string;
  readonly version: number;
  /** The digest of the plist the runner was bootstrapped from. */
  readonly plistDigest: string;
  readonly runner: JobRunner | undefined;
}

/** A remembered load failure, with its reason for the status snapshot. */
export type LoadFailure = FailureRecord & { readonly reason: string };

export interface ReconcileActionsOptions {
  readonly domainManager: DomainManager;
  readonly files: ManagedFiles;
  readonly drift: DriftDetector;
  readonly loader: PlistLoader;
  readonly log: SupervisorLog;
  readonly emit: (e: Omit<NodeEvent, 'source'>) => void;
  readonly desired: DesiredJobs;
}

/** Codes worth retrying (the condition is transient). */
const retryableCodes = new Set<number>([LaunchdCode.DOMAIN_TEARING_DOWN, LaunchdCode.EIO]);

export class ReconcileActions {
  readonly #o: ReconcileActionsOptions;
  /** Jobs loaded by the reconciler, by jobKey. */
  readonly records = new Map<string, LoadedJob>();
  /** Load failures, by jobKey (terminal ones until a new version). */
  readonly failures = new Map<string, LoadFailure>();

  constructor(o: ReconcileActionsOptions) {
    this.#o = o;
  }

  /** Carries out one action; an exception (an I/O error) is `again`, reported as `internal`. */
  async run(a: ReconcileAction): Promise<ReconcileResult> {
    try {
      return await this.#act(a);
    } catch (e) {
      // A full or read-only state directory: tried again after the job's backoff, not on every
      // pass (the failed write touched the managed directory, whose watch asks for the next pass
      // at once: a busy loop that logged and emitted on every turn).
      this.#o.log('error', a.label, `${a.type} in ${a.target} failed: ${messageOf(e)}`);
      if (a.type === 'load')
        this.failures.set(jobKey(a.target, a.label), {
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
      return again(`${a.type}: ${messageOf(e)}`);
    }
  }

  async #act(a: ReconcileAction): Promise<ReconcileResult> {
    const key = jobKey(a.target, a.label);
    switch (a.type) {
      case 'load':
      case 'replace': {
        const d = this.#o.desired.get(a.label);
        const domain = this.#domain(a.target);
        if (!d || !domain) return done; // gone meanwhile: the next pass plans again
        if (a.type === 'replace') {
          this.records.delete(key);
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
        const rec = this.records.get(key);
        const d = this.#o.desired.get(a.label);
        // A bundle accepted while this pass awaited something is the next pass's business.
        if (!rec || !d || d.bundle.version !== a.version || d.plistDigest !== rec.plistDigest) return done;
        // Same plist, same runner: only the version it answers to changes (the bundle, verified
        // by the watch, is already stored). A failure of an older version no longer applies.
        this.records.set(key, { ...rec, version: a.version });
        this.failures.delete(key);
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
        const d = this.#o.desired.get(a.label);
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
          this.records.get(key)?.version,
          'the managed job was disabled by hand; enabled again',
        );
        return done;
      }
      case 'unload': {
        const rec = this.records.get(key);
        this.records.delete(key);
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
        this.records.delete(key);
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
    this.failures.delete(key);
    const runner = domain.runner(label);
    this.records.set(key, { target: domain.target, label, version, plistDigest: d.plistDigest, runner });
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
    const prev = this.failures.get(key);
    this.failures.set(key, { target, label, version, retryable, reason });
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
