/**
 * Owns the agent's domains (docs/launchd-semantics.md §3): the system domain, loaded at start
 * from the configured daemon directories, and per-user domains created on request — `gui/<uid>`
 * for a login session (agent directories plus ~/Library/LaunchAgents, Aqua agents) and
 * `user/<uid>` (agent directories only, Background agents; never the home directory). A per-user
 * domain runs its agents as that user and is torn down (every job booted out: SIGTERM, then
 * SIGKILL after ExitTimeOut) when the session ends.
 *
 * Shared by all domains: one calendar scheduler, one clock-jump detector (sleep/wake and clock
 * changes re-evaluate calendars once, coalesced), and the ports.
 */
import { join } from 'node:path';
import { messageOf } from '@launchfleet/shared/errors';
import type { MachineConfig } from '../core/machine-config.ts';
import { zoneOffset, type ZoneOffsetFn } from '../core/calendar.ts';
import { CalendarScheduler } from '../calendar-scheduler.ts';
import { ClockJumpDetector } from '../clock-jump-detector.ts';
import type { RuntimePorts } from '../runner-ports.ts';
import type { SocketActivationHook } from '../sockets/socket-activation-hook.ts';
import type { SupervisorLog } from '../supervisor-log.ts';
import type { JobStatus } from '../job-status.ts';
import type { JobEventListener } from '../job-runner-events.ts';
import type { JobSpec } from '@launchfleet/shared/job';
import { Domain, type BootstrapReport, type DetachedJob } from './domain.ts';
import { LaunchdCode, fail, type LaunchdResult } from './launchd-errors.ts';
import { OverrideStore } from './override-store.ts';
import type { PlistLoader } from './plist-loader.ts';

export interface DomainManagerOptions {
  readonly ports: RuntimePorts;
  readonly config: MachineConfig;
  /** Where the override databases live (`<stateDir>/overrides/...`). */
  readonly stateDir: string;
  readonly daemonDirectories: readonly string[];
  readonly agentDirectories: readonly string[];
  /** Load ~/Library/LaunchAgents into gui domains. */
  readonly loadHomeAgents: boolean;
  /** The agent's own uid (0 in production). */
  readonly agentUid: number;
  readonly loader: PlistLoader;
  readonly log: SupervisorLog;
  /** Local time for StartCalendarInterval; default: the process's zone. */
  readonly timeZone?: ZoneOffsetFn;
  readonly sockets?: SocketActivationHook;
  readonly clockJump?: { readonly periodMs?: number; readonly toleranceMs?: number };
  readonly onStatus?: (status: JobStatus) => void;
}

/** A parsed domain target. */
export type DomainTarget =
  { readonly kind: 'system' } | { readonly kind: 'gui' | 'user'; readonly uid: number };

/** Parses 'system', 'gui/501', 'user/501' (a trailing '/label' is not part of a domain target). */
export function parseDomainTarget(text: string): DomainTarget | undefined {
  if (text === 'system') return { kind: 'system' };
  const m = /^(gui|user)\/(\d{1,10})$/.exec(text);
  if (!m) return undefined;
  const uid = Number(m[2]);
  return Number.isSafeInteger(uid) && uid <= 0xffffffff ? { kind: m[1] as 'gui' | 'user', uid } : undefined;
}

export class DomainManager {
  private system: Domain | undefined;
  private readonly users = new Map<string, Domain>();
  /** gui/<uid> and user/<uid> share one override store (print-disabled returns the same set, E1). */
  private readonly userOverrides = new Map<number, OverrideStore>();
  private readonly calendar: CalendarScheduler;
  private readonly detector: ClockJumpDetector;
  private readonly o: DomainManagerOptions;
  private readonly jobListeners = new Set<JobEventListener>();
  private readonly domainListeners = new Set<(targets: readonly string[]) => void>();

  /** The flavour's choices every domain runs with. */
  get config(): MachineConfig {
    return this.o.config;
  }

  constructor(o: DomainManagerOptions) {
    this.o = o;
    const { clock, scheduler } = o.ports;
    this.calendar = new CalendarScheduler(clock, scheduler, o.timeZone ?? zoneOffset(), {
      weekdayIgnoresMonth: o.config.weekdayIgnoresMonth,
    });
    this.detector = new ClockJumpDetector(
      clock,
      scheduler,
      (delta, slept) => {
        o.log(
          'info',
          'clock',
          `wall clock jumped by ${Math.round(delta / 1000)} s` +
            (slept > 0 ? ` (${Math.round(slept / 1000)} s asleep)` : ' (a clock step, not sleep)') +
            `; re-evaluating calendars${slept > 0 ? ' and intervals' : ''}`,
        );
        this.calendar.recheck(delta < 0);
        // StartInterval runs on the monotonic clock: only time asleep can have passed its slots.
        if (slept > 0) for (const d of this.domains()) d.clockJumped(slept);
      },
      o.clockJump ?? {},
    );
  }

  /** Creates the system domain and loads the daemon directories (as root's launchctl would). */
  async start(): Promise<BootstrapReport> {
    if (this.system) return { loaded: [], failures: [], skipped: [] };
    const overrides = await this.openStore('system');
    this.system = this.newDomain('system', 0, overrides);
    this.detector.start();
    // As root's launchctl would; an unprivileged (development) agent loads its own user's plists.
    const report = await this.system.bootstrapPaths(this.o.daemonDirectories, {
      requesterUid: this.o.agentUid,
      atCreation: true,
    });
    this.logReport('system', report);
    return report;
  }

  /**
   * Creates (or returns) the per-user domain for a session and loads its agents. 112 if the uid
   * has no account. gui domains also load ~/Library/LaunchAgents (owned by the user: the
   * ownership rule uses the user as the requester, as the user's own launchctl did).
   */
  async openSession(
    uid: number,
    kind: 'gui' | 'user',
  ): Promise<LaunchdResult<{ domain: Domain; report: BootstrapReport }>> {
    const key = `${kind}/${uid}`;
    const existing = this.users.get(key);
    if (existing)
      return { ok: true, value: { domain: existing, report: { loaded: [], failures: [], skipped: [] } } };
    const user = await this.o.ports.users.userById(uid);
    if (!user)
      return fail(LaunchdCode.NO_DOMAIN, `Could not find specified domain: no account for uid ${uid}`);
    let overrides = this.userOverrides.get(uid);
    if (!overrides) {
      overrides = await this.openStore(`user-${uid}`);
      this.userOverrides.set(uid, overrides);
    }
    const domain = this.newDomain(kind, uid, overrides);
    this.users.set(key, domain);
    const dirs = [...this.o.agentDirectories];
    if (kind === 'gui' && this.o.loadHomeAgents) dirs.push(join(user.home, 'Library', 'LaunchAgents'));
    let report: BootstrapReport;
    try {
      report = await domain.bootstrapPaths(dirs, { requesterUid: uid, atCreation: true });
    } finally {
      // Told once the session's own agents are loaded (the link then loads its gui/* jobs).
      this.domainsChanged();
    }
    this.logReport(key, report);
    return { ok: true, value: { domain, report } };
  }

  /** Ends a session: boots out every job of the domain (SIGTERM...) and forgets the domain. 112 if unknown. */
  async closeSession(uid: number, kind: 'gui' | 'user'): Promise<LaunchdResult> {
    const key = `${kind}/${uid}`;
    const d = this.users.get(key);
    if (!d) return fail(LaunchdCode.NO_DOMAIN, `Could not find specified domain ${key}`);
    await d.teardown();
    this.users.delete(key);
    this.domainsChanged();
    return { ok: true, value: undefined };
  }

  /** The domain for a target string; 112 if it does not exist (a gui domain without a session). */
  domain(target: string): LaunchdResult<Domain> {
    const t = parseDomainTarget(target);
    if (!t) return fail(LaunchdCode.NO_DOMAIN, `Could not find specified domain: ${target}`);
    const d = t.kind === 'system' ? this.system : this.users.get(`${t.kind}/${t.uid}`);
    if (!d) return fail(LaunchdCode.NO_DOMAIN, `Could not find specified domain: ${target}`);
    return { ok: true, value: d };
  }

  /** Every live domain, system first. */
  domains(): Domain[] {
    return [...(this.system ? [this.system] : []), ...this.users.values()];
  }

  /** Detaches every domain (Domain.detach): the processes left running, per job. */
  async detach(canLeave: (spec: JobSpec) => boolean): Promise<DetachedJob[]> {
    this.detector.stop();
    const users = await Promise.all([...this.users.values()].map((d) => d.detach(canLeave)));
    const system = (await this.system?.detach(canLeave)) ?? [];
    this.calendar.close();
    return [...users.flat(), ...system];
  }

  /** Tears everything down (agent shutdown): user domains first, then the system domain. */
  async stop(): Promise<void> {
    this.detector.stop();
    await Promise.all([...this.users.values()].map((d) => d.teardown()));
    this.users.clear();
    await this.system?.teardown();
    this.system = undefined;
    this.calendar.close();
  }

  /**
   * Observes exits, spawns, timer firings and removals of every job of every domain (metrics).
   * Returns the unsubscribe function. A listener that throws is logged, never fatal to the job.
   */
  onJobEvent(listener: JobEventListener): () => void {
    this.jobListeners.add(listener);
    return () => this.jobListeners.delete(listener);
  }

  /**
   * Observes the set of live domains: called with every live target (system first) when a
   * session's domain appeared (after its agents loaded) or went (after its teardown). Not called
   * for the system domain's start nor at stop/detach. Returns the unsubscribe function. A
   * listener that throws is logged.
   */
  onDomainsChanged(listener: (targets: readonly string[]) => void): () => void {
    this.domainListeners.add(listener);
    return () => this.domainListeners.delete(listener);
  }

  private domainsChanged(): void {
    const targets = this.domains().map((d) => d.target);
    for (const l of this.domainListeners)
      try {
        l(targets);
      } catch (e) {
        this.o.log('error', 'domains', `domain listener failed: ${messageOf(e)}`);
      }
  }

  /** Runs the clock-jump check now (tests, or a SIGCONT/resume hook). */
  checkClock(): number {
    return this.detector.check();
  }

  private newDomain(kind: 'system' | 'gui' | 'user', uid: number, overrides: OverrideStore): Domain {
    return new Domain({
      kind,
      uid,
      ports: this.o.ports,
      config: this.o.config,
      calendar: this.calendar,
      log: this.o.log,
      agentUid: this.o.agentUid,
      loader: this.o.loader,
      overrides,
      ...(this.o.sockets ? { sockets: this.o.sockets } : {}),
      ...(this.o.onStatus ? { onStatus: this.o.onStatus } : {}),
      onJobEvent: (domain, label, ev) => {
        for (const l of this.jobListeners)
          try {
            l(domain, label, ev);
          } catch (e) {
            this.o.log('error', label, `job event listener failed: ${messageOf(e)}`);
          }
      },
    });
  }

  private async openStore(name: string): Promise<OverrideStore> {
    const store = new OverrideStore(this.o.ports.fs, join(this.o.stateDir, 'overrides', `${name}.json`));
    const r = await store.load();
    if (r.warning) this.o.log('warn', 'overrides', r.warning);
    return store;
  }

  private logReport(target: string, r: BootstrapReport): void {
    for (const f of r.failures)
      this.o.log('warn', target, `${f.path ?? f.label ?? ''}: ${f.code}: ${f.error} (${f.message})`);
    for (const s of r.skipped) this.o.log('debug', target, `${s.path}: skipped: ${s.reason}`);
    this.o.log('info', target, `loaded ${r.loaded.length} jobs`);
  }
}
