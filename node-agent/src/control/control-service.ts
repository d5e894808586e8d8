/**
 * The control verbs over the DomainManager: one method per RPC of control.proto, each checked
 * against the caller's scope (authorization.ts) and answering launchd's codes as values
 * (docs/launchd-semantics.md §5.3). Nothing here throws for a bad request; the server maps an
 * unexpected exception to gRPC INTERNAL in one place.
 *
 * Over 400 lines because control.proto has that many RPCs: each method is short (scope check,
 * one DomainManager call, the answer), and keeping them together keeps the scope checks side by
 * side where a reviewer compares them.
 */
import { join } from 'node:path';
import { pidOf as pidOfSub, type JobSubStateKind } from '../supervisor/core/job-state.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { Domain } from '../supervisor/domains/domain.ts';
import {
  LaunchdCode,
  failure,
  type LaunchdFailure,
  type LaunchdResult,
} from '../supervisor/domains/launchd-errors.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import { entryPath, safeAbsolutePath } from '../supervisor/domains/path-safety.ts';
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import type { FileSystemPort } from '../ports/file-system.ts';
import type { UserDb } from '../ports/user-db.ts';
import { EPERM, denyReason, scopeName, type Scope } from './authorization.ts';
import { toServiceStatus, toWireRow, withPreviousLife, type PreviousLives } from './service-status.ts';
import { domainName, parseDomainTarget, parseServiceTarget, type DomainTarget } from './targets.ts';
import type { ControlMethod, ControlMethods, WireError, WireRetryingService } from './wire.ts';

/** A job the fleet link's reconciler is retrying (link/reconciler.ts `RetryingJobView`). */
export interface RetryingJob {
  /** Its domain target: `system`, `gui/501`, ... */
  readonly target: string;
  readonly label: string;
  readonly failures: number;
  readonly why: string;
  readonly nextAttemptAt?: number;
}

export interface ControlServiceOptions {
  readonly manager: DomainManager;
  /** The agent's uid: 0 in production; an unprivileged agent only runs jobs as itself. */
  readonly agentUid: number;
  readonly version: string;
  readonly loader: PlistLoader;
  readonly fs: FileSystemPort;
  readonly users: UserDb;
  /** What the agent's previous lives recorded (runs, last exit). */
  readonly previous: PreviousLives;
  /** A gui/user domain was created or removed (per-user sockets follow). */
  readonly onDomainsChanged: () => void;
  /**
   * The controller's jobs the fleet link is trying again by itself (its reconciler's
   * `retrying()`), shown by `print <domain>` and, for a service that is not loaded, by
   * `print <service-target>`; absent without a controller.
   */
  readonly retrying?: () => readonly RetryingJob[];
  readonly log: SupervisorLog;
}

type Handler<M extends ControlMethod> = (
  scope: Scope,
  req: ControlMethods[M][0],
) => Promise<ControlMethods[M][1]>;

/** How long `kickstart -p` waits for a throttled spawn (lfctl's own deadline is 30 s). */
const KICKSTART_PID_WAIT_MS = 20_000;

/** Sub-states on the way to a process. */
const isPending = (k: JobSubStateKind): boolean => k === 'spawn-scheduled' || k === 'spawning';

const wire = (f: LaunchdFailure): WireError => ({
  code: f.code,
  error: f.error,
  message: f.message,
  ...(f.path !== undefined ? { path: f.path } : {}),
  ...(f.label !== undefined ? { label: f.label } : {}),
});

const denied = (why: string): WireError => wire(failure(EPERM, why));
const permError = (why: string): LaunchdFailure => ({
  code: EPERM,
  error: 'Operation not permitted',
  message: why,
});

/** One failure: its own code; several: 133 "Multiple errors were returned; see stderr". */
function summarize(failures: readonly LaunchdFailure[]): WireError | undefined {
  if (failures.length === 0) return undefined;
  if (failures.length === 1) return wire(failures[0]!);
  return wire(failure(LaunchdCode.MULTIPLE_ERRORS, `${failures.length} paths failed`));
}

export class ControlService {
  private readonly o: ControlServiceOptions;

  constructor(o: ControlServiceOptions) {
    this.o = o;
  }

  /** Runs one RPC for a caller of `scope`. */
  call<M extends ControlMethod>(
    method: M,
    scope: Scope,
    req: ControlMethods[M][0],
  ): Promise<ControlMethods[M][1]> {
    const h = this.handlers[method] as Handler<M>;
    return h(scope, req);
  }

  private readonly handlers: { [M in ControlMethod]: Handler<M> } = {
    Bootstrap: async (scope, req) => {
      const t = parseDomainTarget(req.domain);
      if (!t)
        return {
          error: wire(failure(LaunchdCode.NO_DOMAIN, `Unrecognized target specifier: ${req.domain}`)),
        };
      const paths = req.paths ?? [];
      if (paths.length === 0) return this.createDomain(scope, t);
      const d = this.domainFor(scope, 'Bootstrap', t);
      if (!d.ok) return { error: wire(d.error) };
      const report = await d.value.bootstrapPaths(paths, { requesterUid: this.requester(scope) });
      this.logFailures(scope, 'bootstrap', d.value.target, report.failures);
      return {
        loaded: report.loaded,
        failures: report.failures.map(wire),
        ...(summarize(report.failures) ? { error: summarize(report.failures) } : {}),
      };
    },

    Bootout: async (scope, req) => {
      const svc = parseServiceTarget(req.target);
      if (svc) {
        const d = this.domainFor(scope, 'Bootout', svc.domainTarget);
        if (!d.ok) return { error: wire(d.error) };
        const r = await d.value.bootout(svc.label, req.wait === true ? { wait: true } : {});
        return r.ok ? {} : { error: wire(r.error) };
      }
      const t = parseDomainTarget(req.target);
      if (!t)
        return {
          error: wire(failure(LaunchdCode.NO_DOMAIN, `Unrecognized target specifier: ${req.target}`)),
        };
      const paths = req.paths ?? [];
      if (paths.length === 0) return this.removeDomain(scope, t);
      const d = this.domainFor(scope, 'Bootout', t);
      if (!d.ok) return { error: wire(d.error) };
      const failures: LaunchdFailure[] = [];
      for (const p of paths) {
        const r = await d.value.bootoutPath(p, req.wait === true ? { wait: true } : {});
        if (!r.ok) failures.push(r.error);
      }
      const error = summarize(failures);
      return { failures: failures.map(wire), ...(error ? { error } : {}) };
    },

    Enable: (scope, req) => this.onService(scope, 'Enable', req.target, (d, l) => d.enable(l)),
    Disable: (scope, req) => this.onService(scope, 'Disable', req.target, (d, l) => d.disable(l)),

    Kickstart: async (scope, req) => {
      let pid: number | undefined;
      const r = await this.onService(scope, 'Kickstart', req.target, async (d, l) => {
        const k = await d.kickstart(l, { kill: req.kill === true, waitForPid: req.reportPid === true });
        if (!k.ok) return k;
        pid = k.value.pid;
        // -k restarts through the throttle (docs/launchd-semantics.md §2.5, E1): for -p, wait for that spawn
        // too, bounded below lfctl's deadline (a longer throttle prints no pid).
        const runner = d.runner(l);
        if (req.reportPid === true && pid === undefined && runner?.current.sub.kind === 'spawn-scheduled') {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            runner.waitFor((s) => pidOfSub(s.sub) !== undefined || !isPending(s.sub.kind)),
            new Promise<void>((resolve) => (timer = setTimeout(resolve, KICKSTART_PID_WAIT_MS))),
          ]);
          clearTimeout(timer);
          pid = pidOfSub(runner.current.sub);
        }
        return { ok: true, value: undefined };
      });
      return { ...r, ...(pid !== undefined ? { pid } : {}) };
    },

    Kill: (scope, req) =>
      this.onService(scope, 'Kill', req.target, (d, l) => Promise.resolve(d.kill(l, req.signal))),

    PrintService: async (scope, req) => {
      let service;
      const r = await this.onService(scope, 'PrintService', req.target, (d, l) => {
        const s = d.print(l);
        if (!s.ok) return Promise.resolve(s);
        service = this.status(d, s.value);
        return Promise.resolve({ ok: true, value: undefined });
      });
      // Not loaded, but the fleet link is trying to load it again: say so beside the 113.
      const svc = r.error?.code === LaunchdCode.NO_SERVICE ? parseServiceTarget(req.target) : undefined;
      const retrying = svc && this.retrying(svc.domain).find((x) => x.label === svc.label);
      return { ...r, ...(service ? { service } : {}), ...(retrying ? { retrying } : {}) };
    },

    PrintDomain: async (scope, req) => {
      const t = parseDomainTarget(req.domain);
      if (!t)
        return {
          error: wire(failure(LaunchdCode.NO_DOMAIN, `Unrecognized target specifier: ${req.domain}`)),
        };
      const d = this.domainFor(scope, 'PrintDomain', t);
      if (!d.ok) return { error: wire(d.error) };
      const statuses = d.value.statuses().map((s) => this.merged(s));
      const user = await this.o.users.userById(d.value.uid);
      return {
        domain: d.value.target,
        type: d.value.kind,
        uid: d.value.uid,
        ...(user ? { username: user.name } : {}),
        activeCount: statuses.filter((s) => s.pid !== undefined).length,
        services: statuses.map((s) => toWireRow(s, this.o.manager.config.listStatusWhileRunning)),
        disabled: Object.fromEntries(d.value.printDisabled()),
        retrying: this.retrying(d.value.target),
      };
    },

    PrintDisabled: (scope, req) => {
      const t = parseDomainTarget(req.domain);
      if (!t)
        return Promise.resolve({
          error: wire(failure(LaunchdCode.NO_DOMAIN, `Unrecognized target specifier: ${req.domain}`)),
        });
      const d = this.domainFor(scope, 'PrintDisabled', t);
      if (!d.ok) return Promise.resolve({ error: wire(d.error) });
      return Promise.resolve({
        domain: d.value.target,
        entries: d.value.printDisabled().map(([label, disabled]) => ({ label, disabled })),
      });
    },

    Blame: async (scope, req) => {
      let out: { running: boolean; reason: string } | undefined;
      const r = await this.onService(scope, 'Blame', req.target, (d, l) => {
        const s = d.print(l);
        if (!s.ok) return Promise.resolve(s);
        out = { running: s.value.pid !== undefined, reason: s.value.immediateReason ?? '' };
        return Promise.resolve({ ok: true, value: undefined });
      });
      return { ...r, ...(out ?? {}) };
    },

    List: async (scope, req) => {
      const d = await this.defaultDomain(scope, 'List', req.domain);
      if (!d.ok) return { error: wire(d.error) };
      if (req.label !== undefined && req.label !== '') {
        const s = d.value.print(req.label);
        if (!s.ok) return { domain: d.value.target, error: wire(s.error) };
        return { domain: d.value.target, service: this.status(d.value, s.value) };
      }
      return {
        domain: d.value.target,
        rows: d.value
          .statuses()
          .map((s) => toWireRow(this.merged(s), this.o.manager.config.listStatusWhileRunning)),
      };
    },

    Load: async (scope, req) => {
      const d = await this.defaultDomain(scope, 'Load', req.domain);
      if (!d.ok) return { error: wire(d.error) };
      const failures: LaunchdFailure[] = [];
      const paths = this.absolute(req.paths ?? [], failures);
      if (req.writeOverride === true) {
        for (const f of await this.plistFiles(paths, failures)) {
          const label = await this.readLabel(f, d.value, failures);
          if (label !== undefined) {
            const r = await d.value.enable(label);
            if (!r.ok) failures.push(r.error);
          }
        }
      }
      const report = await d.value.bootstrapPaths(paths, {
        requesterUid: this.requester(scope),
        ...(req.force === true ? { force: true } : {}),
      });
      failures.push(...report.failures);
      this.logFailures(scope, 'load', d.value.target, failures);
      return { domain: d.value.target, labels: report.loaded, failures: failures.map(wire) };
    },

    Unload: async (scope, req) => {
      const d = await this.defaultDomain(scope, 'Unload', req.domain);
      if (!d.ok) return { error: wire(d.error) };
      const failures: LaunchdFailure[] = [];
      const labels: string[] = [];
      const paths = this.absolute(req.paths ?? [], failures);
      for (const f of await this.plistFiles(paths, failures)) {
        const label = await this.readLabel(f, d.value, failures);
        if (label === undefined) continue;
        if (req.writeOverride === true) {
          const r = await d.value.disable(label);
          if (!r.ok) failures.push(r.error);
        }
        // 842's unload is synchronous: the reply waits until the job has exited (waiting4removal).
        const r = await d.value.bootout(label, { wait: true });
        if (r.ok) labels.push(label);
        else failures.push({ ...r.error, path: f });
      }
      return { domain: d.value.target, labels, failures: failures.map(wire) };
    },

    Start: async (scope, req) => {
      const d = await this.defaultDomain(scope, 'Start', req.domain);
      if (!d.ok) return { error: wire(d.error) };
      const r = d.value.start(req.label);
      return r.ok ? {} : { error: wire(r.error) };
    },

    Stop: async (scope, req) => {
      const d = await this.defaultDomain(scope, 'Stop', req.domain);
      if (!d.ok) return { error: wire(d.error) };
      const r = d.value.stop(req.label);
      return r.ok ? {} : { error: wire(r.error) };
    },

    Version: (scope) =>
      Promise.resolve({
        version: this.o.version,
        agentUid: this.o.agentUid,
        pid: process.pid,
        scope: scopeName(scope),
      }),
  };

  // ---- helpers ------------------------------------------------------------------------------

  /** The uid whose plists pass the ownership rule (root, or the requesting user). */
  private requester(scope: Scope): number {
    return scope.kind === 'public' ? -1 : scope.uid;
  }

  private domainFor(scope: Scope, method: ControlMethod, t: DomainTarget): LaunchdResult<Domain> {
    const why = denyReason(scope, method, t);
    if (why !== undefined) return { ok: false, error: permError(why) };
    return this.o.manager.domain(domainName(t));
  }

  /**
   * The legacy verbs' domain (docs/launchd-semantics.md §3.1): the one named, else the system domain for
   * the owner, else the caller's gui domain (its user domain when it has no gui session).
   */
  private defaultDomain(
    scope: Scope,
    method: ControlMethod,
    named: string | undefined,
  ): Promise<LaunchdResult<Domain>> {
    if (named !== undefined && named !== '') {
      const t = parseDomainTarget(named);
      if (!t)
        return Promise.resolve({
          ok: false,
          error: failure(LaunchdCode.NO_DOMAIN, `Unrecognized target specifier: ${named}`),
        });
      return Promise.resolve(this.domainFor(scope, method, t));
    }
    switch (scope.kind) {
      case 'owner':
        return Promise.resolve(this.domainFor(scope, method, { kind: 'system' }));
      case 'user': {
        const gui = this.o.manager.domain(`gui/${scope.uid}`);
        return Promise.resolve(
          gui.ok
            ? this.domainFor(scope, method, { kind: 'gui', uid: scope.uid })
            : this.domainFor(scope, method, { kind: 'user', uid: scope.uid }),
        );
      }
      case 'public':
        return Promise.resolve(this.domainFor(scope, method, { kind: 'system' }));
      default: {
        const never: never = scope;
        return Promise.resolve({
          ok: false,
          error: failure(LaunchdCode.EINVAL, `unknown scope ${String(never)}`),
        });
      }
    }
  }

  /** The jobs of `target` the fleet link is retrying, soonest first, as the wire says them. */
  private retrying(target: string): WireRetryingService[] {
    return (this.o.retrying?.() ?? [])
      .filter((r) => r.target === target)
      .sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || (a.label < b.label ? -1 : 1))
      .map((r) => ({
        label: r.label,
        failures: r.failures,
        why: r.why,
        nextAttemptAtMs: r.nextAttemptAt ?? 0,
      }));
  }

  private async onService(
    scope: Scope,
    method: ControlMethod,
    target: string,
    act: (d: Domain, label: string) => Promise<LaunchdResult>,
  ): Promise<{ error?: WireError }> {
    const svc = parseServiceTarget(target);
    if (!svc)
      return {
        error: wire(
          failure(
            LaunchdCode.EINVAL,
            `Unrecognized target specifier: ${JSON.stringify(target)} (expected system/<label>, gui/<uid>/<label> or user/<uid>/<label>)`,
          ),
        ),
      };
    const d = this.domainFor(scope, method, svc.domainTarget);
    if (!d.ok) return { error: wire(d.error) };
    const r = await act(d.value, svc.label);
    return r.ok ? {} : { error: wire(r.error) };
  }

  private async createDomain(scope: Scope, t: DomainTarget): Promise<{ error?: WireError }> {
    if (scope.kind !== 'owner') return { error: denied('only root may create a domain') };
    if (t.kind === 'system')
      return {
        error: wire(failure(LaunchdCode.ALREADY_LOADED, 'the system domain is already bootstrapped')),
      };
    if (t.uid !== this.o.agentUid && this.o.agentUid !== 0)
      return {
        error: denied(`an unprivileged agent (uid ${this.o.agentUid}) runs jobs only as its own user`),
      };
    if (this.o.manager.domain(domainName(t)).ok)
      return { error: wire(failure(LaunchdCode.ALREADY_LOADED, `${domainName(t)} is already bootstrapped`)) };
    const r = await this.o.manager.openSession(t.uid, t.kind);
    if (!r.ok) return { error: wire(r.error) };
    this.o.log('info', domainName(t), `domain created by ${scopeName(scope)}`);
    this.o.onDomainsChanged();
    return {};
  }

  private async removeDomain(scope: Scope, t: DomainTarget): Promise<{ error?: WireError }> {
    if (scope.kind !== 'owner') return { error: denied('only root may remove a domain') };
    if (t.kind === 'system')
      return { error: wire(failure(LaunchdCode.UNSUPPORTED, 'the system domain cannot be booted out')) };
    const r = await this.o.manager.closeSession(t.uid, t.kind);
    if (!r.ok) return { error: wire(r.error) };
    this.o.log('info', domainName(t), `domain removed by ${scopeName(scope)}`);
    this.o.onDomainsChanged();
    return {};
  }

  private merged(s: JobStatus): JobStatus {
    return withPreviousLife(s, this.o.previous(s.domain, s.label));
  }

  private status(d: Domain, s: JobStatus): ReturnType<typeof toServiceStatus> {
    return toServiceStatus(this.merged(s), d.runner(s.label)?.spec);
  }

  private absolute(paths: readonly string[], failures: LaunchdFailure[]): string[] {
    const out: string[] = [];
    for (const p of paths) {
      const a = safeAbsolutePath(p);
      if (a === undefined)
        failures.push(
          failure(LaunchdCode.INVALID_PATH, `not an absolute path: ${JSON.stringify(p)}`, { path: p }),
        );
      else out.push(a);
    }
    return out;
  }

  /** Files and the *.plist entries of directories (not recursive, dot-files skipped). */
  private async plistFiles(paths: readonly string[], failures: LaunchdFailure[]): Promise<string[]> {
    const { fs } = this.o;
    const out: string[] = [];
    for (const p of paths) {
      const st = await fs.stat?.(p);
      if (!st) {
        failures.push(
          failure(LaunchdCode.INVALID_PATH, `Couldn't stat("${p}"): No such file or directory`, { path: p }),
        );
        continue;
      }
      if (st.kind !== 'directory') {
        out.push(p);
        continue;
      }
      for (const name of [...((await fs.listDir?.(p)) ?? [])].sort()) {
        const e = entryPath(p, name);
        if (e !== undefined && /\.plist$/i.test(name)) out.push(e);
      }
    }
    return out;
  }

  private async readLabel(path: string, d: Domain, failures: LaunchdFailure[]): Promise<string | undefined> {
    const bytes = await this.o.fs.readFile(path).catch(() => undefined);
    if (!bytes) {
      failures.push(failure(LaunchdCode.INVALID_PATH, `no plist was returned for: ${path}`, { path }));
      return undefined;
    }
    try {
      const r = this.o.loader(bytes, { path, domain: d.kind });
      if (r.spec) return r.spec.label;
      const first = r.issues.find((i) => i.severity === 'error');
      failures.push(
        failure(
          LaunchdCode.INVALID_PLIST,
          first ? `${first.keyPath || '(root)'}: ${first.message}` : 'no job in the plist',
          {
            path,
          },
        ),
      );
    } catch (e) {
      failures.push(
        failure(LaunchdCode.INVALID_PLIST, `the plist could not be read: ${String(e)}`, { path }),
      );
    }
    return undefined;
  }

  private logFailures(scope: Scope, verb: string, target: string, failures: readonly LaunchdFailure[]): void {
    for (const f of failures)
      this.o.log(
        'warn',
        target,
        `${verb} by ${scopeName(scope)}: ${f.path ?? f.label ?? ''}: ${f.code}: ${f.error} (${f.message})`,
      );
  }
}

/** For tests and the docs: where the per-user sockets of a run directory live. */
export function userSocketPath(runDir: string, uid: number): string {
  return join(runDir, 'user', `${uid}.sock`);
}
