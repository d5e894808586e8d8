/**
 * One launchd domain (docs/launchd-semantics.md §3): `system`, `gui/<uid>` or `user/<uid>`,
 * holding its jobs by label. It implements the domain verbs with launchd's checks and codes:
 * bootstrap (paths or JobSpecs), bootout, enable/disable (persisted overrides), kickstart [-k],
 * kill, legacy start/stop, list and print. Bootout is asynchronous, as modern launchd's: the label
 * stays registered (print finds it, a second bootstrap fails) until the process has exited.
 *
 * Over 400 lines on purpose: every verb reads and changes the one label table under the same
 * invariants (a label removed only once its process exited, overrides persisted before they
 * count); split by verb, each file would have to re-state them.
 */
import { constants } from 'node:os';
import type { JobSpec, SessionType } from '@launchfleet/shared/job';
import { messageOf } from '@launchfleet/shared/errors';
import type { MachineConfig } from '../core/machine-config.ts';
import { pidOf } from '../core/job-state.ts';
import type { CalendarScheduler } from '../calendar-scheduler.ts';
import { JobRunner } from '../job-runner.ts';
import type { RunnerDomain, RuntimePorts } from '../runner-ports.ts';
import type { SocketActivationHook } from '../sockets/socket-activation-hook.ts';
import type { SupervisorLog } from '../supervisor-log.ts';
import { listRow, type JobStatus, type ListRow } from '../job-status.ts';
import type { JobEventListener } from '../job-runner-events.ts';
import { LaunchdCode, fail, failure, type LaunchdFailure, type LaunchdResult } from './launchd-errors.ts';
import type { PlistLoader } from './plist-loader.ts';
import type { OverrideStore } from './override-store.ts';
import { checkPlistPath, entryPath, labelIsSafe, safeAbsolutePath } from './path-safety.ts';

export type DomainKindName = 'system' | 'gui' | 'user';

/** A job whose process a detach left running. */
export interface DetachedJob {
  readonly domain: string;
  readonly spec: JobSpec;
  readonly pid: number;
}

export interface DomainOptions {
  readonly kind: DomainKindName;
  /** 0 for system; the session user otherwise. */
  readonly uid: number;
  readonly ports: RuntimePorts;
  readonly config: MachineConfig;
  readonly calendar: CalendarScheduler;
  readonly log: SupervisorLog;
  readonly agentUid: number;
  readonly loader: PlistLoader;
  readonly overrides: OverrideStore;
  readonly sockets?: SocketActivationHook;
  readonly globalEnvironment?: Readonly<Record<string, string>>;
  /** Every job status change in this domain (metrics, the controller link). */
  readonly onStatus?: (status: JobStatus) => void;
  /** Exits, spawns, timer firings and removals of this domain's jobs (metrics). */
  readonly onJobEvent?: JobEventListener;
}

/** What a bootstrap of paths did. */
export interface BootstrapReport {
  /** Labels loaded. */
  readonly loaded: readonly string[];
  /** Paths or jobs refused, with launchd's code. */
  readonly failures: readonly LaunchdFailure[];
  /** Directory entries passed over silently (dot-files, symlinks at login, other sessions' agents). */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

export interface BootstrapPathOptions {
  /** The uid asking (ownership rule: root or this user). */
  readonly requesterUid: number;
  /**
   * Loading at domain creation (boot or login) rather than an explicit `bootstrap`: agents of
   * another session type are skipped silently (842) instead of failing with 134, and symlinked
   * entries are ignored (macOS 14+, E1).
   */
  readonly atCreation?: boolean;
  /**
   * Legacy `load -F` (§3.3, §2.6): skip the ownership, permission and file-type checks (only
   * "the path exists" remains) and ignore the Disabled key and its override.
   */
  readonly force?: boolean;
}

export class Domain {
  readonly kind: DomainKindName;
  readonly uid: number;
  /** 'system', 'gui/501', 'user/501'. */
  readonly target: string;
  /** The session type jobs must match (agents, §1.7): System, Aqua (gui) or Background (user). */
  readonly sessionType: SessionType;
  private readonly jobs = new Map<string, JobRunner>();
  private readonly lastActive = new Map<string, boolean>();
  /** label -> runners whose OtherJobEnabled/OtherJobActive name it (launchd's curious jobs), so a change costs O(watchers). */
  private readonly curious = new Map<string, Set<JobRunner>>();
  private tearingDown = false;
  private readonly o: DomainOptions;
  private readonly runnerDomain: RunnerDomain;

  constructor(o: DomainOptions) {
    this.o = o;
    this.kind = o.kind;
    this.uid = o.uid;
    this.target = o.kind === 'system' ? 'system' : `${o.kind}/${o.uid}`;
    this.sessionType = o.kind === 'system' ? 'System' : o.kind === 'gui' ? 'Aqua' : 'Background';
    this.runnerDomain = {
      kind: o.kind,
      uid: o.uid,
      agentUid: o.agentUid,
      target: this.target,
      calendar: o.calendar,
      otherJob: (label) => {
        const r = this.jobs.get(label);
        return { loaded: r !== undefined, active: r !== undefined && pidOf(r.current.sub) !== undefined };
      },
      ...(o.sockets ? { sockets: o.sockets } : {}),
      ...(o.globalEnvironment ? { globalEnvironment: o.globalEnvironment } : {}),
    };
  }

  /** Labels loaded (including those being booted out). */
  labels(): string[] {
    return [...this.jobs.keys()].sort();
  }

  /** The runner of a label (tests, metrics). */
  runner(label: string): JobRunner | undefined {
    return this.jobs.get(label);
  }

  get isTearingDown(): boolean {
    return this.tearingDown;
  }

  // ---- bootstrap -------------------------------------------------------------------------------

  /** Loads a normalised job. Codes: 124 tearing down, 110 bad label, 37 already loaded, 134 session, 119 disabled. */
  async bootstrapSpec(
    spec: JobSpec,
    source: { path?: string; atCreation?: boolean; force?: boolean } = {},
  ): Promise<LaunchdResult> {
    const where = { label: spec.label, ...(source.path !== undefined ? { path: source.path } : {}) };
    if (this.tearingDown)
      return fail(LaunchdCode.DOMAIN_TEARING_DOWN, `${this.target} is tearing down`, where);
    if (!labelIsSafe(spec.label) || /^com\.apple\.launch(d|ctl)/i.test(spec.label))
      return fail(
        LaunchdCode.INVALID_LABEL,
        `Label cannot be used as a service name: ${JSON.stringify(spec.label)}`,
        where,
      );
    if (this.jobs.has(spec.label))
      return fail(LaunchdCode.ALREADY_LOADED, 'service already bootstrapped', where);
    if (this.kind !== 'system' && !this.sessionMatches(spec))
      return fail(
        LaunchdCode.SESSION_MISMATCH,
        `Service cannot load in requested session (${this.sessionType}; the job wants ${sessionTypes(spec).join(', ')})`,
        where,
      );
    if (source.force !== true && this.isDisabled(spec))
      return fail(LaunchdCode.DISABLED, 'Service is disabled', where);
    const runner = new JobRunner({
      spec,
      domain: this.runnerDomain,
      ports: this.o.ports,
      config: this.o.config,
      log: this.o.log,
      ...(source.path !== undefined ? { path: source.path } : {}),
      onStatus: (r) => this.onRunnerStatus(r),
      onRemoved: (r) => this.onRunnerRemoved(r),
      ...(this.o.onJobEvent ? { onEvent: (r, ev) => this.o.onJobEvent?.(this.target, r.label, ev) } : {}),
    });
    this.jobs.set(spec.label, runner);
    for (const other of otherLabels(spec)) {
      let set = this.curious.get(other);
      if (!set) this.curious.set(other, (set = new Set()));
      set.add(runner);
    }
    this.notifyCurious(spec.label);
    // docs/launchd-semantics.md §4.1: the sockets exist from load; a socket that cannot be created refuses
    // the load.
    if (spec.sockets.length > 0 && this.o.sockets?.open) {
      const opened = await this.o.sockets.open(spec, {
        target: this.target,
        spawnConnection: (fd) => runner.spawnConnection(fd),
      });
      if (!opened.ok) {
        runner.send({ type: 'unload' });
        await runner.whenRemoved();
        return fail(LaunchdCode.EIO, opened.message, where);
      }
      // A bootout that overtook the open already removed the runner; its sockets go with it.
      if (runner.removed) this.o.sockets.close?.(spec);
    }
    await runner.load(false);
    return { ok: true, value: undefined };
  }

  /** Loads plists from paths: files, or directories of *.plist files (not recursive). */
  async bootstrapPaths(paths: readonly string[], opts: BootstrapPathOptions): Promise<BootstrapReport> {
    const loaded: string[] = [];
    const failures: LaunchdFailure[] = [];
    const skipped: { path: string; reason: string }[] = [];
    const fs = this.o.ports.fs;
    if (!fs.stat || !fs.listDir) {
      failures.push(failure(LaunchdCode.EIO, 'the file system adapter cannot stat or list directories'));
      return { loaded, failures, skipped };
    }
    // 842 bulk semantics: read and check everything first, then load ("All specified jobs will be
    // loaded before any of them are allowed to start").
    const specs: { spec: JobSpec; path: string }[] = [];
    for (const given of paths) {
      const path = safeAbsolutePath(given);
      if (path === undefined) {
        failures.push(
          failure(LaunchdCode.INVALID_PATH, `not an absolute path: ${JSON.stringify(given)}`, {
            path: given,
          }),
        );
        continue;
      }
      const st = await fs.stat(path);
      if (opts.atCreation && st === undefined) continue; // a configured directory that does not exist yet
      const bad = checkPlistPath(path, st, opts.force === true ? undefined : opts.requesterUid);
      if (bad) {
        failures.push(bad);
        continue;
      }
      if (st?.kind === 'directory') {
        const names = [...((await fs.listDir(path)) ?? [])].sort();
        for (const name of names) {
          const ep = entryPath(path, name);
          if (ep === undefined) {
            skipped.push({ path: `${path}/${name}`, reason: 'dot-file or unsafe name' });
            continue;
          }
          const est = await fs.stat(ep);
          if (est?.isSymlink && opts.atCreation) {
            skipped.push({ path: ep, reason: 'symlink (loaded only by an explicit bootstrap)' });
            continue;
          }
          if (est?.kind === 'directory') {
            skipped.push({ path: ep, reason: 'directory (not searched recursively)' });
            continue;
          }
          const ebad = checkPlistPath(ep, est, opts.force === true ? undefined : opts.requesterUid);
          if (ebad) {
            if (ebad.code === LaunchdCode.INVALID_PATH) skipped.push({ path: ep, reason: ebad.message });
            else failures.push(ebad);
            continue;
          }
          const r = await this.readSpec(ep);
          if (r.ok) specs.push({ spec: r.value, path: ep });
          else failures.push(r.error);
        }
      } else {
        const r = await this.readSpec(path);
        if (r.ok) specs.push({ spec: r.value, path });
        else failures.push(r.error);
      }
    }
    let loadedInTurn = 0;
    for (const { spec, path } of specs) {
      if (opts.atCreation && this.kind !== 'system' && !this.sessionMatches(spec)) {
        skipped.push({ path, reason: `LimitLoadToSessionType does not include ${this.sessionType}` });
        continue;
      }
      // A job starts as it loads (RunAtLoad), and a load only awaits promises that are already
      // settled: without a turn of the event loop, a directory of 1,000 jobs asked for 1,000
      // starts before the first turn, and the spawner forks a few per turn (direct-spawner.ts).
      // Every start waiting its turn (the machine's "spawning" state, the request, the start's
      // promises) lived through several young-generation GCs, was promoted to V8's old space
      // and died there a moment later: the agent's peak RSS at boot (test/bench/RESULTS.md,
      // issue 19). A turn after every few loads lets the starts asked for run first.
      if (loadedInTurn === loadsPerTurn) {
        loadedInTurn = 0;
        await nextTurn();
      }
      loadedInTurn++;
      const r = await this.bootstrapSpec(spec, {
        path,
        ...(opts.atCreation ? { atCreation: true } : {}),
        ...(opts.force === true ? { force: true } : {}),
      });
      if (r.ok) loaded.push(spec.label);
      else failures.push(r.error);
    }
    return { loaded, failures, skipped };
  }

  // ---- bootout ---------------------------------------------------------------------------------

  /** bootout <domain>/<label>: 3 if unknown. Asynchronous unless `wait`. */
  async bootout(label: string, opts: { wait?: boolean } = {}): Promise<LaunchdResult> {
    const r = this.jobs.get(label);
    if (!r)
      return fail(LaunchdCode.ESRCH, `Could not find service "${label}" in domain ${this.target}`, { label });
    r.send({ type: 'unload' });
    if (opts.wait) await r.whenRemoved();
    return { ok: true, value: undefined };
  }

  /** bootout <domain> <plist-path>: the plist's label; 5 if that label is not loaded (E2). */
  async bootoutPath(given: string, opts: { wait?: boolean } = {}): Promise<LaunchdResult> {
    const path = safeAbsolutePath(given);
    if (path === undefined)
      return fail(LaunchdCode.INVALID_PATH, `not an absolute path: ${given}`, { path: given });
    const r = await this.readSpec(path);
    if (!r.ok) return r;
    if (!this.jobs.has(r.value.label))
      return fail(LaunchdCode.EIO, `${r.value.label} is not loaded in ${this.target}`, {
        path,
        label: r.value.label,
      });
    return this.bootout(r.value.label, opts);
  }

  /** Boots out every job and resolves when all are gone; refuses new bootstraps meanwhile (124). */
  async teardown(): Promise<void> {
    this.tearingDown = true;
    const runners = [...this.jobs.values()];
    for (const r of runners) r.send({ type: 'unload' });
    await Promise.all(runners.map((r) => r.whenRemoved()));
  }

  /**
   * The agent detaches (a package upgrade, docs/upgrades.md): the running processes of jobs that
   * `canLeave` accepts are left running for the next agent; every other job is booted out as
   * by teardown (SIGTERM, ExitTimeOut, SIGKILL). Resolves when those are gone.
   */
  async detach(canLeave: (spec: JobSpec) => boolean): Promise<DetachedJob[]> {
    this.tearingDown = true;
    const left: DetachedJob[] = [];
    const stopping: Promise<void>[] = [];
    for (const r of [...this.jobs.values()]) {
      const pid = canLeave(r.spec) ? r.detach() : undefined;
      if (pid !== undefined) {
        left.push({ domain: this.target, spec: r.spec, pid });
        continue;
      }
      r.send({ type: 'unload' });
      stopping.push(r.whenRemoved());
    }
    await Promise.all(stopping);
    return left;
  }

  // ---- enable / disable --------------------------------------------------------------------------

  /** disable <domain>/<label>: persisted; a running process is left alone but not respawned. */
  disable(label: string): Promise<LaunchdResult> {
    return this.setDisabled(label, true);
  }

  /** enable <domain>/<label>: writes an explicit "enabled" entry. */
  enable(label: string): Promise<LaunchdResult> {
    return this.setDisabled(label, false);
  }

  /** print-disabled: every override of this domain. */
  printDisabled(): [string, boolean][] {
    return this.o.overrides.entries();
  }

  // ---- run control -------------------------------------------------------------------------------

  /**
   * kickstart [-k] [-p]: 113 if unknown, 119 if disabled. With `waitForPid`, resolves after the
   * spawn settled and reports the pid of the new (or already running) process, if any.
   */
  async kickstart(
    label: string,
    opts: { kill?: boolean; waitForPid?: boolean } = {},
  ): Promise<LaunchdResult<{ pid?: number }>> {
    const r = this.jobs.get(label);
    if (!r)
      return fail(LaunchdCode.NO_SERVICE, `Could not find service "${label}" in domain ${this.target}`, {
        label,
      });
    if (r.current.disabled) return fail(LaunchdCode.DISABLED, 'Service is disabled', { label });
    r.send({ type: 'kickstart', kill: opts.kill ?? false });
    if (opts.waitForPid)
      await r.waitFor(
        (s) => s.sub.kind !== 'spawning' && s.sub.kind !== 'stopping-kill' && s.sub.kind !== 'stopping-term',
      );
    const pid = pidOf(r.current.sub);
    return { ok: true, value: pid !== undefined ? { pid } : {} };
  }

  /**
   * kill <signal> <target>: a plain kill(2) of the running process. 22 for an unknown signal,
   * 113 if unknown or disabled (E13: launchctl cannot resolve a disabled job's process), 3 if
   * there is no process.
   */
  kill(label: string, signal: string | number): LaunchdResult {
    const name = signalName(signal);
    if (name === undefined) return fail(LaunchdCode.EINVAL, `unknown signal ${String(signal)}`, { label });
    const r = this.jobs.get(label);
    if (!r || r.current.disabled)
      return fail(LaunchdCode.NO_SERVICE, `Could not find service "${label}" in domain ${this.target}`, {
        label,
      });
    if (pidOf(r.current.sub) === undefined)
      return fail(LaunchdCode.ESRCH, `${label} is not running`, { label });
    r.send({ type: 'kill-signal', signal: name });
    return { ok: true, value: undefined };
  }

  /** Legacy `start <label>`: kickstart without -k; 3 ("Not loaded") if unknown. */
  start(label: string): LaunchdResult {
    const r = this.jobs.get(label);
    if (!r) return fail(LaunchdCode.ESRCH, `${label}: Not loaded`, { label });
    r.send({ type: 'kickstart', kill: false });
    return { ok: true, value: undefined };
  }

  /** Legacy `stop <label>`: SIGTERM then SIGKILL after ExitTimeOut; KeepAlive decides what follows. */
  stop(label: string): LaunchdResult {
    const r = this.jobs.get(label);
    if (!r) return fail(LaunchdCode.ESRCH, `${label}: Not loaded`, { label });
    r.send({ type: 'stop' });
    return { ok: true, value: undefined };
  }

  // ---- observation -------------------------------------------------------------------------------

  /** launchctl list rows, by label. */
  list(): ListRow[] {
    return this.labels().flatMap((l) => {
      const r = this.jobs.get(l);
      return r ? [listRow(r.status(), this.o.config.listStatusWhileRunning)] : [];
    });
  }

  /** print <domain>/<label>: 113 if not loaded. */
  print(label: string): LaunchdResult<JobStatus> {
    const r = this.jobs.get(label);
    if (!r)
      return fail(LaunchdCode.NO_SERVICE, `Could not find service "${label}" in domain for ${this.target}`, {
        label,
      });
    return { ok: true, value: r.status() };
  }

  /** Every job's status. */
  statuses(): JobStatus[] {
    return this.labels().flatMap((l) => {
      const r = this.jobs.get(l);
      return r ? [r.status()] : [];
    });
  }

  /** A clock jump: StartInterval coalescing (D4). */
  clockJumped(deltaMs: number): void {
    for (const r of this.jobs.values()) r.onClockJump(deltaMs);
  }

  // ---- internals ---------------------------------------------------------------------------------

  private async readSpec(path: string): Promise<LaunchdResult<JobSpec>> {
    const bytes = await this.o.ports.fs.readFile(path).catch(() => undefined);
    if (!bytes) return fail(LaunchdCode.INVALID_PATH, `cannot read ${path}`, { path });
    let result;
    try {
      result = this.o.loader(bytes, { path, domain: this.kind });
    } catch (e) {
      return fail(LaunchdCode.INVALID_PLIST, `the plist could not be read: ${messageOf(e)}`, { path });
    }
    for (const i of result.issues)
      if (i.severity === 'warning') this.o.log('warn', path, `${i.keyPath || '(root)'}: ${i.message}`);
    if (result.spec) return { ok: true, value: result.spec };
    const errors = result.issues.filter((i) => i.severity === 'error');
    const first = errors[0];
    const text =
      errors.map((i) => `${i.keyPath || '(root)'}: ${i.message}`).join('; ') || 'no job in the plist';
    const code =
      first?.keyPath === 'Label' || first?.code?.includes('label')
        ? LaunchdCode.INVALID_LABEL
        : first?.keyPath === 'Program' ||
            first?.keyPath === 'ProgramArguments' ||
            first?.code === 'missing-program'
          ? LaunchdCode.INVALID_PROGRAM
          : LaunchdCode.INVALID_PLIST;
    return fail(code, text, { path });
  }

  private sessionMatches(spec: JobSpec): boolean {
    const want = this.sessionType.toLowerCase();
    return sessionTypes(spec).some((t) => t.toLowerCase() === want);
  }

  /** The override wins over the plist's Disabled key (§2.6). */
  private isDisabled(spec: JobSpec): boolean {
    return this.o.overrides.get(spec.label) ?? spec.disabled;
  }

  private async setDisabled(label: string, disabled: boolean): Promise<LaunchdResult> {
    if (!labelIsSafe(label))
      return fail(LaunchdCode.INVALID_LABEL, `invalid label ${JSON.stringify(label)}`, { label });
    try {
      await this.o.overrides.set(label, disabled);
    } catch (e) {
      return fail(LaunchdCode.EIO, `could not persist the override: ${messageOf(e)}`, { label });
    }
    this.jobs.get(label)?.send({ type: disabled ? 'disable' : 'enable' });
    return { ok: true, value: undefined };
  }

  private onRunnerStatus(r: JobRunner): void {
    const active = pidOf(r.current.sub) !== undefined;
    if (this.lastActive.get(r.label) !== active) {
      this.lastActive.set(r.label, active);
      this.notifyCurious(r.label);
    }
    this.o.onStatus?.(r.status());
  }

  private onRunnerRemoved(r: JobRunner): void {
    if (this.jobs.get(r.label) === r) this.jobs.delete(r.label);
    this.lastActive.delete(r.label);
    for (const other of otherLabels(r.spec)) {
      const set = this.curious.get(other);
      set?.delete(r);
      if (set?.size === 0) this.curious.delete(other);
    }
    this.notifyCurious(r.label);
  }

  /** launchd's job_dispatch_curious_jobs: re-evaluate jobs whose OtherJob* conditions name `label`. */
  private notifyCurious(label: string): void {
    for (const other of this.curious.get(label) ?? []) if (other.label !== label) other.otherJobsChanged();
  }
}

/** Jobs a bulk load loads in one turn of the event loop: the direct spawner's forks per turn. */
const loadsPerTurn = 8;

/** Resolves in the next turn of the event loop, after the I/O and immediates already due. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** print-disabled lines (E16): `"<label>" => disabled|enabled`. */
export function formatPrintDisabled(entries: readonly (readonly [string, boolean])[]): string {
  const lines = entries.map(([label, disabled]) => `\t"${label}" => ${disabled ? 'disabled' : 'enabled'}`);
  return ['disabled services = {', ...lines, '}'].join('\n');
}

/** The labels a job's OtherJob* conditions name. */
function otherLabels(spec: JobSpec): Set<string> {
  return new Set([...spec.keepAlive.otherJobEnabled.keys(), ...spec.keepAlive.otherJobActive.keys()]);
}

/** The session types a job accepts; a missing key means Aqua (§1.7). */
function sessionTypes(spec: JobSpec): readonly string[] {
  return spec.limitLoadToSessionType.length > 0 ? spec.limitLoadToSessionType : ['Aqua'];
}

/** 'TERM', 'SIGTERM', 15 or '15' -> 'SIGTERM'; undefined if unknown. */
export function signalName(signal: string | number): string | undefined {
  const table = constants.signals as Record<string, number | undefined>;
  const asNumber = typeof signal === 'number' ? signal : /^\d+$/.test(signal) ? Number(signal) : undefined;
  if (asNumber !== undefined) return Object.keys(table).find((k) => table[k] === asNumber);
  const upper = String(signal).toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return table[name] !== undefined ? name : undefined;
}
