/**
 * The runtime of one loaded job: it holds the machine's state, feeds it events, and carries out
 * its effects through the ports (the only supervisor code that touches them). Events are
 * processed one at a time in arrival order; an event raised while effects run is queued.
 *
 * Resources a job holds, all released on removal: at most one machine timer (throttle,
 * exit-timeout or kill-grace: they belong to exclusive states), one StartInterval timer (its slots
 * are core/interval-schedule.ts's), one entry
 * in the agent's shared calendar scheduler, and path watches (WatchPaths and QueueDirectories only
 * while idle; PathState always). No per-job polling: conditions are re-read on watch events and
 * after each exit ("re-list, never count").
 */
import type { JobSpec } from '@launchfleet/shared/job/job-spec';
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/time/clock';
import { messageOf } from '@launchfleet/shared/errors';
import type { Disposable, FileSystemPort } from '../ports/file-system.ts';
import type { ProcessExit, ProcessSpawner, SpawnRequest, StdioTarget } from '../ports/process-spawner.ts';
import type { UserDb } from '../ports/user-db.ts';
import {
  intervalAfterSleep,
  intervalFired,
  intervalSchedule,
  nextDueMs,
  type IntervalSchedule,
} from './core/interval-schedule.ts';
import { step } from './core/job-machine.ts';
import type { DemandSourceKind, JobEffect, StandingSourceKind } from './core/job-effects.ts';
import type { JobEvent, TimerId } from './core/job-events.ts';
import { jobStateReport } from '@launchfleet/shared/job/job-state';
import {
  STATE_TABLE,
  initialJobState,
  pidOf,
  type JobState,
  type ObservedConditions,
} from './core/job-state.ts';
import type { MachineConfig } from './core/machine-config.ts';
import type { CalendarScheduler } from './calendar-scheduler.ts';
import type { JobStatus } from './job-status.ts';
import type { JobSocketsStatus } from './sockets/socket-status.ts';
import type { JobRunnerEvent } from './job-runner-events.ts';
import { buildSpawnRequest, unsupportedKeyWarnings, type SpawnDomain } from './spawn-request.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Structured log sink: (level, label, message). */
export type SupervisorLog = (level: LogLevel, label: string, message: string) => void;

/** The ports a runner uses. */
export interface RuntimePorts {
  readonly spawner: ProcessSpawner;
  readonly fs: FileSystemPort;
  readonly users: UserDb;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
}

/**
 * Hook for socket activation (SPEC §4; implemented by supervisor/sockets/socket-manager.ts): the
 * domain opens a job's sockets at load (a failure refuses the load) and closes them at removal;
 * the runner arms watches while the job is idle (`onReadable` is a kickstart-type demand) and
 * asks `fds` what to hand over at spawn.
 */
export interface SocketActivationHook {
  arm(spec: JobSpec, onReadable: () => void): Disposable;
  fds(spec: JobSpec): SocketHandoff;
  /** Creates and binds the job's sockets; called once by the domain before the job loads. */
  open?(
    spec: JobSpec,
    ctx: SocketJobContext,
  ): Promise<{ readonly ok: true } | { readonly ok: false; readonly message: string }>;
  /** Closes the job's sockets (unload); idempotent. */
  close?(spec: JobSpec): void;
  /** The job's sockets for status/print. */
  status?(spec: JobSpec): JobSocketsStatus | undefined;
}

/** What a job receives at spawn from its sockets. */
export interface SocketHandoff {
  /** Fds at 3..n (systemd protocol), with their LISTEN_FDNAMES (the group name per fd). */
  readonly passFds: readonly number[];
  readonly listenFdNames: readonly string[];
  /** inetdCompatibility: the socket on the standard streams instead of their paths or /dev/null. */
  readonly stdio?: {
    readonly stdin?: StdioTarget;
    readonly stdout?: StdioTarget;
    readonly stderr?: StdioTarget;
  };
  /** Variables added to the job's environment (SecureSocketWithKey). */
  readonly env?: Readonly<Record<string, string>>;
}

/** What the socket manager may ask of the runner of a job whose sockets it holds. */
export interface SocketJobContext {
  /** 'system', 'gui/501': for messages. */
  readonly target: string;
  /**
   * inetd Wait=false: starts one process of the job with `connFd` on its standard streams. The
   * caller closes its copy of `connFd` once this settles. Not throttled, not tracked by the job
   * machine (AbandonProcessGroup is forced).
   */
  spawnConnection(connFd: number): Promise<ConnectionSpawn>;
}

/** The outcome of spawnConnection. */
export type ConnectionSpawn =
  | { readonly ok: true; readonly pid: number; readonly exited: Promise<void> }
  | { readonly ok: false; readonly message: string };

/** What a runner knows of its domain. */
export interface RunnerDomain extends SpawnDomain {
  /** 'system', 'gui/501', 'user/501'. */
  readonly target: string;
  readonly calendar: CalendarScheduler;
  /** Is another label loaded / running in the same domain (OtherJobEnabled / OtherJobActive)? */
  readonly otherJob: (label: string) => { readonly loaded: boolean; readonly active: boolean };
  readonly sockets?: SocketActivationHook;
}

export interface JobRunnerOptions {
  readonly spec: JobSpec;
  readonly domain: RunnerDomain;
  readonly ports: RuntimePorts;
  readonly config: MachineConfig;
  readonly log: SupervisorLog;
  /** The plist the job came from. */
  readonly path?: string;
  /** Called after every step (metrics, OtherJob* conditions of other jobs, the controller link). */
  readonly onStatus?: (runner: JobRunner) => void;
  /** Called when the machine asks to persist (after each exit). */
  readonly onPersist?: (status: JobStatus) => void;
  /** Called once when the job has been removed from its domain. */
  readonly onRemoved?: (runner: JobRunner, why: string) => void;
  /** Observers of exits, spawns, timer firings and removal (metrics); see job-runner-events.ts. */
  readonly onEvent?: (runner: JobRunner, event: JobRunnerEvent) => void;
}

export class JobRunner {
  readonly spec: JobSpec;
  readonly path: string | undefined;
  private state: JobState = initialJobState();
  private readonly o: JobRunnerOptions;
  private readonly queue: JobEvent[] = [];
  private draining = false;
  private readonly timers = new Map<TimerId, { handle: TimerHandle; dueMono: number }>();
  private interval: { handle: TimerHandle; schedule: IntervalSchedule } | undefined;
  private calendarEntry: (Disposable & { nextMs(): number | undefined }) | undefined;
  private readonly demand = new Map<DemandSourceKind, Disposable[]>();
  private pathStateWatches: Disposable[] = [];
  private readonly warnings: string[];
  private removedWhy: string | undefined;
  private removedWaiters: (() => void)[] = [];
  private stateWaiters: { pred: (s: JobState) => boolean; resolve: () => void }[] = [];

  constructor(o: JobRunnerOptions) {
    this.o = o;
    this.spec = o.spec;
    this.path = o.path;
    // With a socket hook that opens sockets, the "not wired" warning about Sockets is not true.
    this.warnings = unsupportedKeyWarnings(o.spec).filter(
      (w) => !(o.domain.sockets?.open && w.startsWith('Sockets:')),
    );
  }

  get label(): string {
    return this.spec.label;
  }

  /** The machine's current state (read-only snapshot). */
  get current(): JobState {
    return this.state;
  }

  /** True once the job has been removed; the domain drops it. */
  get removed(): boolean {
    return this.removedWhy !== undefined;
  }

  /** Loads the job: reads its KeepAlive conditions, then starts the machine. */
  async load(disabled: boolean): Promise<void> {
    for (const w of this.warnings) this.o.log('warn', this.label, w);
    const observed = await this.observe();
    // A bootout that overtook the load (while the conditions were read) already removed the job.
    if (this.removed) return;
    this.send({ type: 'load', disabled, observed });
  }

  /** Feeds one event to the machine (queued if an event is being processed). */
  send(event: JobEvent): void {
    this.queue.push(event);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
        const now = this.o.ports.clock.monotonicMs();
        const r = step(this.spec, this.state, e, now, this.o.config);
        const runsBefore = this.state.runs;
        this.state = r.state;
        // Before the effects, so an exit is reported before the removal the same step may cause.
        for (let n = runsBefore; n < r.state.runs && r.state.lastExit; n++)
          this.o.onEvent?.(this, {
            type: 'exited',
            status: r.state.lastExit,
            result: r.state.result,
          });
        for (const eff of r.effects) this.perform(eff);
      }
    } finally {
      this.draining = false;
    }
    if (this.stateWaiters.length > 0) {
      const ready = this.stateWaiters.filter((w) => w.pred(this.state) || this.removed);
      this.stateWaiters = this.stateWaiters.filter((w) => !ready.includes(w));
      for (const w of ready) w.resolve();
    }
  }

  /** Resolves once the machine's state satisfies `pred` (or the job is removed). */
  waitFor(pred: (s: JobState) => boolean): Promise<void> {
    if (pred(this.state) || this.removed) return Promise.resolve();
    return new Promise((resolve) => this.stateWaiters.push({ pred, resolve }));
  }

  /** Resolves when the job has been removed (bootout completion). */
  whenRemoved(): Promise<void> {
    if (this.removed) return Promise.resolve();
    return new Promise((resolve) => this.removedWaiters.push(resolve));
  }

  /** The domain says another job was loaded, removed, started or stopped: re-read OtherJob* conditions. */
  otherJobsChanged(): void {
    const ka = this.spec.keepAlive;
    if (ka.otherJobEnabled.size === 0 && ka.otherJobActive.size === 0) return;
    if (this.removed) return;
    const next = this.observeOtherJobs(this.state.observed);
    if (
      sameMap(next.otherJobLoaded, this.state.observed.otherJobLoaded) &&
      sameMap(next.otherJobActive, this.state.observed.otherJobActive)
    )
      return;
    this.send({ type: 'trigger', kind: 'other-job', observed: next });
  }

  /** The agent detected sleep or a clock change of `deltaMs` (D4: StartInterval during sleep). */
  onClockJump(deltaMs: number): void {
    const iv = this.interval;
    if (!iv || this.o.config.intervalDuringSleep !== 'coalesce') return;
    const r = intervalAfterSleep(iv.schedule, this.o.ports.clock.monotonicMs(), deltaMs);
    if (!r.fire) return;
    this.armInterval(r.schedule);
    this.send({ type: 'trigger', kind: 'interval' });
  }

  /** The status snapshot. */
  status(): JobStatus {
    const s = this.state;
    const clock = this.o.ports.clock;
    const monoNow = clock.monotonicMs();
    const wallNow = clock.wallMs();
    const toWall = (mono: number): number => wallNow - (monoNow - mono);
    const coarse = STATE_TABLE[s.sub.kind];
    const pid = pidOf(s.sub);
    const timer = (id: TimerId): number | undefined => {
      const t = this.timers.get(id);
      return t ? toWall(t.dueMono) : undefined;
    };
    const timers = {
      ...(timer('throttle') !== undefined ? { throttle: timer('throttle') } : {}),
      ...(timer('exit-timeout') !== undefined ? { exitTimeout: timer('exit-timeout') } : {}),
      ...(timer('kill-grace') !== undefined ? { killGrace: timer('kill-grace') } : {}),
      ...(this.interval ? { nextInterval: toWall(nextDueMs(this.interval.schedule)) } : {}),
      ...(this.calendarEntry?.nextMs() !== undefined ? { nextCalendar: this.calendarEntry.nextMs() } : {}),
    } as JobStatus['timers'];
    return {
      label: this.label,
      domain: this.o.domain.target,
      ...(this.path !== undefined ? { path: this.path } : {}),
      type: this.o.domain.kind === 'system' ? 'LaunchDaemon' : 'LaunchAgent',
      state: coarse.print,
      ...jobStateReport(s.sub.kind, s.result),
      ...(pid !== undefined ? { pid } : {}),
      runs: s.runs,
      forks: s.spawns,
      ...(s.lastExit?.kind === 'code' ? { lastExitCode: s.lastExit.code } : {}),
      ...(s.lastExit?.kind === 'signal' ? { lastTerminatingSignal: s.lastExit.signal } : {}),
      ...(s.immediateReason !== undefined ? { immediateReason: s.immediateReason } : {}),
      ...(s.throttledUntilMs !== undefined ? { throttledUntil: toWall(s.throttledUntilMs) } : {}),
      minimumRuntime: s.minimumRuntimeSec,
      exitTimeout: this.spec.exitTimeOut ?? this.o.config.defaultExitTimeOutSec,
      successiveCrashes: s.successiveCrashes,
      ...(s.crashLooping
        ? { crashLooping: { since: toWall(s.crashLooping.sinceMs), count: s.crashLooping.count } }
        : {}),
      ...(s.spawnFailure
        ? {
            spawnFailure: {
              at: toWall(s.spawnFailure.atMs),
              stage: s.spawnFailure.stage,
              errno: s.spawnFailure.errno,
              exitStatus: s.spawnFailure.exitStatus,
              message: s.spawnFailure.message,
            },
          }
        : {}),
      disabled: s.disabled,
      timers,
      watchPaths: this.spec.watchPaths,
      queueDirectories: this.spec.queueDirectories,
      armed: [...this.demand.keys()],
      program: this.spec.program,
      arguments: this.spec.programArguments,
      warnings: this.warnings,
      ...this.socketStatus(),
      history: s.history.map(({ atMs, ...h }) => ({ ...h, at: toWall(atMs) })),
    };
  }

  // ---- effects -------------------------------------------------------------------------------

  private perform(e: JobEffect): void {
    const { spawner } = this.o.ports;
    switch (e.type) {
      case 'spawn':
        this.spawn();
        return;
      case 'signal':
        if (!spawner.signal(e.pid, e.signal as NodeJS.Signals))
          this.o.log('debug', this.label, `signal ${e.signal} to ${e.pid}: no such process`);
        return;
      case 'signal-group':
        spawner.signalGroup(e.pgid, e.signal as NodeJS.Signals);
        return;
      case 'start-timer':
        this.startTimer(e.timer, e.ms);
        return;
      case 'cancel-timer':
        this.timers.get(e.timer)?.handle.cancel();
        this.timers.delete(e.timer);
        return;
      case 'arm-demand':
        for (const k of e.sources) this.armDemand(k);
        return;
      case 'disarm-demand':
        for (const k of e.sources) this.disarmDemand(k);
        return;
      case 'arm-standing':
        for (const k of e.sources) this.armStanding(k);
        return;
      case 'disarm-standing':
        for (const k of e.sources) this.disarmStanding(k);
        return;
      case 'persist-status':
        this.o.onPersist?.(this.status());
        return;
      case 'emit-status':
        this.o.onStatus?.(this);
        return;
      case 'remove-job':
        this.release();
        this.removedWhy = e.why;
        this.o.log('info', this.label, `removed: ${e.why}`);
        this.o.onRemoved?.(this, e.why);
        this.o.onEvent?.(this, { type: 'removed', why: e.why });
        for (const w of this.removedWaiters.splice(0)) w();
        return;
      case 'log':
        this.o.log(e.level, this.label, e.message);
        return;
      default: {
        const never: never = e;
        this.o.log('error', this.label, `can't happen: unknown effect ${JSON.stringify(never)}`);
      }
    }
  }

  private spawn(): void {
    const { spawner, users } = this.o.ports;
    const handoff = this.o.domain.sockets?.fds(this.spec);
    const extras = handoff ? { passFds: handoff.passFds, listenFdNames: handoff.listenFdNames } : {};
    let reaped: ProcessExit | undefined;
    let started = false;
    const decidedAt = this.o.ports.clock.monotonicMs();
    const onExit = (exit: ProcessExit): void => {
      // The spawner promises onExit after ok; buffer it anyway if it overtakes the promise.
      if (!started) reaped = exit;
      else this.deliverExit(exit);
    };
    const run = async (): Promise<void> => {
      const plan = await buildSpawnRequest(this.spec, this.o.domain, users, this.o.config, extras);
      if (!plan.ok) {
        this.send({ type: 'spawn-failed', ...plan.failure });
        return;
      }
      for (const w of plan.warnings) this.o.log('warn', this.label, w);
      const r = await spawner.spawn(withHandoff(plan.req, handoff), onExit);
      if (!r.ok) {
        this.send({ type: 'spawn-failed', ...r.failure });
        return;
      }
      for (const w of r.warnings ?? [])
        this.o.log('warn', this.label, `${w.stage}: ${w.errno}: ${w.message}`);
      started = true;
      this.o.onEvent?.(this, {
        type: 'spawned',
        reason: this.state.immediateReason,
        latencyMs: this.o.ports.clock.monotonicMs() - decidedAt,
      });
      this.send({ type: 'spawned', pid: r.pid });
      if (reaped) this.deliverExit(reaped);
    };
    run().catch((err: unknown) => {
      // A spawner that throws is a bug in an adapter; the job records it as a spawn failure.
      this.send({
        type: 'spawn-failed',
        stage: 'spawn',
        errno: 'EIO',
        exitStatus: 78,
        message: messageOf(err),
      });
    });
  }

  /**
   * inetd Wait=false (SPEC §4.3): one process per accepted connection, with the connection on
   * stdin/stdout/stderr (stdout/stderr keep their paths when set, as launchproxy does). The job
   * machine never sees these processes: they are not throttled and are not the job's pid.
   */
  async spawnConnection(connFd: number): Promise<ConnectionSpawn> {
    if (this.removed) return { ok: false, message: 'the job was removed' };
    const plan = await buildSpawnRequest(this.spec, this.o.domain, this.o.ports.users, this.o.config);
    if (!plan.ok) return { ok: false, message: `${plan.failure.stage}: ${plan.failure.message}` };
    const conn: StdioTarget = { kind: 'fd', fd: connFd };
    const req: SpawnRequest = {
      ...plan.req,
      stdin: conn,
      stdout: this.spec.standardOutPath !== undefined ? plan.req.stdout : conn,
      stderr: this.spec.standardErrorPath !== undefined ? plan.req.stderr : conn,
      passFds: [],
      setListenPid: false,
    };
    let resolveExit: () => void = () => undefined;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const r = await this.o.ports.spawner.spawn(req, (exit) => {
      this.o.log(
        'debug',
        this.label,
        `inetd instance ${exit.pid} exited (${exit.signal ?? `status ${String(exit.code)}`})`,
      );
      resolveExit();
    });
    if (!r.ok) return { ok: false, message: `${r.failure.stage}: ${r.failure.errno}: ${r.failure.message}` };
    return { ok: true, pid: r.pid, exited };
  }

  private socketStatus(): Pick<JobStatus, 'sockets' | 'inetd'> {
    const s = this.spec.sockets.length > 0 ? this.o.domain.sockets?.status?.(this.spec) : undefined;
    if (!s) return {};
    // "active" means handed to a running job; once that process is gone (throttled, exited,
    // disabled) and nothing watches the socket, it is paused. Wait=false's "active" (at its cap
    // of instances) does not depend on the job's own process.
    const running = pidOf(this.state.sub) !== undefined;
    const agentAccepts = this.spec.inetdCompatibility?.wait === false;
    const sockets = s.sockets.map((k) =>
      k.state === 'active' && !running && !(agentAccepts && k.type !== 'dgram')
        ? { ...k, state: 'paused' as const }
        : k,
    );
    return { sockets, ...(s.inetd ? { inetd: s.inetd } : {}) };
  }

  private deliverExit(exit: ProcessExit): void {
    const needsObserve = this.spec.keepAlive.pathState.size > 0 || this.spec.queueDirectories.length > 0;
    const ev = { type: 'exited', pid: exit.pid, code: exit.code, signal: exit.signal } as const;
    if (!needsObserve) {
      this.send(ev);
      return;
    }
    // launchd re-checks PathState and QueueDirectories after each exit.
    this.observe().then(
      (observed) => this.send({ ...ev, observed }),
      () => this.send(ev),
    );
  }

  private startTimer(id: TimerId, ms: number): void {
    this.timers.get(id)?.handle.cancel();
    const dueMono = this.o.ports.clock.monotonicMs() + ms;
    const entry = {
      dueMono,
      handle: this.o.ports.scheduler.after(ms, () => {
        if (this.timers.get(id) !== entry) return; // cancelled or replaced
        this.timers.delete(id);
        this.send({ type: 'timer-fired', timer: id });
      }),
    };
    this.timers.set(id, entry);
  }

  private armDemand(kind: DemandSourceKind): void {
    if (this.demand.has(kind) || this.removed) return;
    const { fs } = this.o.ports;
    const ds: Disposable[] = [];
    switch (kind) {
      case 'watch-path':
        for (const p of this.spec.watchPaths)
          ds.push(fs.watch(p, () => this.send({ type: 'trigger', kind: 'watch-path' })));
        break;
      case 'queue-dir':
        if (this.spec.queueDirectories.length === 0) break;
        for (const p of this.spec.queueDirectories) ds.push(fs.watch(p, () => this.relistQueues()));
        // The directory may already hold work: re-list now.
        this.relistQueues();
        break;
      case 'socket':
        if (this.spec.sockets.length > 0 && this.o.domain.sockets)
          ds.push(this.o.domain.sockets.arm(this.spec, () => this.send({ type: 'trigger', kind: 'socket' })));
        break;
      default: {
        const never: never = kind;
        this.o.log('error', this.label, `can't happen: demand source ${String(never)}`);
      }
    }
    if (ds.length > 0) this.demand.set(kind, ds);
  }

  private disarmDemand(kind: DemandSourceKind): void {
    for (const d of this.demand.get(kind) ?? []) d.dispose();
    this.demand.delete(kind);
  }

  private relistQueues(): void {
    const { fs } = this.o.ports;
    Promise.all(this.spec.queueDirectories.map((d) => fs.dirHasEntries(d).catch(() => false))).then(
      (r) => {
        const nonEmpty = r.some(Boolean);
        if (this.removed || nonEmpty === this.state.observed.queueNonEmpty) return;
        this.send({
          type: 'trigger',
          kind: 'queue-dir',
          observed: { ...this.state.observed, queueNonEmpty: nonEmpty },
        });
      },
      (err: unknown) =>
        this.o.log('warn', this.label, `re-listing QueueDirectories failed: ${messageOf(err)}`),
    );
  }

  private armStanding(kind: StandingSourceKind): void {
    switch (kind) {
      case 'interval':
        if (!this.interval && this.spec.startInterval !== undefined && this.spec.startInterval > 0)
          this.armInterval(intervalSchedule(this.o.ports.clock.monotonicMs(), this.spec.startInterval));
        return;
      case 'calendar':
        this.calendarEntry ??= this.o.domain.calendar.add(this.spec.startCalendarInterval, (dueWall) => {
          const lagMs = dueWall === undefined ? 0 : Math.max(0, this.o.ports.clock.wallMs() - dueWall);
          this.o.onEvent?.(this, { type: 'timer-fired', source: 'calendar', lagMs });
          this.send({ type: 'trigger', kind: 'calendar' });
        });
        return;
      case 'path-state':
        if (this.pathStateWatches.length > 0) return;
        for (const p of this.spec.keepAlive.pathState.keys())
          this.pathStateWatches.push(this.o.ports.fs.watch(p, () => this.repollPathState()));
        return;
      case 'other-job':
        // Pushed by the domain through otherJobsChanged(); nothing to arm.
        return;
      default: {
        const never: never = kind;
        this.o.log('error', this.label, `can't happen: standing source ${String(never)}`);
      }
    }
  }

  private disarmStanding(kind: StandingSourceKind): void {
    switch (kind) {
      case 'interval':
        this.interval?.handle.cancel();
        this.interval = undefined;
        return;
      case 'calendar':
        this.calendarEntry?.dispose();
        this.calendarEntry = undefined;
        return;
      case 'path-state':
        for (const w of this.pathStateWatches) w.dispose();
        this.pathStateWatches = [];
        return;
      case 'other-job':
        return;
      default: {
        const never: never = kind;
        this.o.log('error', this.label, `can't happen: standing source ${String(never)}`);
      }
    }
  }

  /**
   * StartInterval: one timer for the schedule's next slot (core/interval-schedule.ts decides what
   * each firing means: an early one re-arms for the rest, a late one fires its slot once).
   */
  private armInterval(schedule: IntervalSchedule): void {
    this.interval?.handle.cancel();
    const delay = Math.max(0, nextDueMs(schedule) - this.o.ports.clock.monotonicMs());
    const handle = this.o.ports.scheduler.after(delay, () => {
      if (this.interval?.handle !== handle) return; // cancelled or replaced
      const f = intervalFired(schedule, this.o.ports.clock.monotonicMs());
      this.armInterval(f.schedule);
      if (!f.fire) return;
      if (f.coalesced > 0)
        this.o.log(
          'debug',
          this.label,
          `StartInterval: ${f.coalesced} slot(s) passed while late: fired once`,
        );
      this.o.onEvent?.(this, { type: 'timer-fired', source: 'interval', lagMs: f.lagMs });
      this.send({ type: 'trigger', kind: 'interval' });
    });
    this.interval = { handle, schedule };
  }

  private repollPathState(): void {
    this.observe().then(
      (observed) => {
        if (this.removed || sameMap(observed.pathExists, this.state.observed.pathExists)) return;
        this.send({ type: 'trigger', kind: 'path-state', observed });
      },
      (err: unknown) => this.o.log('warn', this.label, `checking PathState failed: ${messageOf(err)}`),
    );
  }

  /** Reads the KeepAlive facts the machine cannot see (never inside the machine). */
  private async observe(): Promise<ObservedConditions> {
    const { fs } = this.o.ports;
    const ka = this.spec.keepAlive;
    const pathExists = new Map<string, boolean>();
    for (const p of ka.pathState.keys()) pathExists.set(p, await fs.exists(p).catch(() => false));
    let queueNonEmpty = false;
    for (const d of this.spec.queueDirectories)
      if (await fs.dirHasEntries(d).catch(() => false)) {
        queueNonEmpty = true;
        break;
      }
    return this.observeOtherJobs({ ...this.state.observed, pathExists, queueNonEmpty });
  }

  private observeOtherJobs(base: ObservedConditions): ObservedConditions {
    const ka = this.spec.keepAlive;
    const loaded = new Map<string, boolean>();
    const active = new Map<string, boolean>();
    for (const l of new Set([...ka.otherJobEnabled.keys(), ...ka.otherJobActive.keys()])) {
      const o = this.o.domain.otherJob(l);
      loaded.set(l, o.loaded);
      active.set(l, o.active);
    }
    return { ...base, otherJobLoaded: loaded, otherJobActive: active };
  }

  private release(): void {
    // Sockets are closed at unload; a unix socket's path stays (842, core.c:5859-5871).
    this.o.domain.sockets?.close?.(this.spec);
    for (const t of this.timers.values()) t.handle.cancel();
    this.timers.clear();
    for (const k of [...this.demand.keys()]) this.disarmDemand(k);
    for (const k of ['interval', 'calendar', 'path-state'] as const) this.disarmStanding(k);
  }
}

/** The request with a socket handoff's standard streams and environment applied. */
function withHandoff(req: SpawnRequest, h: SocketHandoff | undefined): SpawnRequest {
  if (!h || (h.stdio === undefined && h.env === undefined)) return req;
  return {
    ...req,
    ...(h.stdio?.stdin ? { stdin: h.stdio.stdin } : {}),
    ...(h.stdio?.stdout ? { stdout: h.stdio.stdout } : {}),
    ...(h.stdio?.stderr ? { stderr: h.stdio.stderr } : {}),
    ...(h.env ? { env: { ...req.env, ...h.env } } : {}),
  };
}

function sameMap<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
