/**
 * The runtime of one loaded job: an event queue and effect interpreter. It holds the machine's
 * state, feeds it one event at a time in arrival order (an event raised while effects run is
 * queued), and carries out its effects through the ports: spawn and signal the process, the
 * machine's own timers (throttle, ExitTimeOut, kill grace: they belong to exclusive states, so at
 * most one is armed), and arm/disarm requests, which it hands to the trigger adapters in
 * triggers/. The status snapshot is job-status-snapshot.ts's; one start (the spawn effect) is
 * job-spawn.ts's; the socket seam is sockets/socket-activation-hook.ts's.
 *
 * Resources a job holds, all released on removal: at most one machine timer, what its trigger
 * adapters armed (one StartInterval timer, one entry in the domain's calendar scheduler, path
 * watches, socket watches) and its sockets. No per-job polling: conditions are re-read on watch
 * events and after each exit ("re-list, never count").
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { TimerHandle } from '@launchfleet/shared/clock';
import type { AdoptedProcess } from '../ports/process-adoption.ts';
import type { ProcessExit, ProcessSpawner } from '../ports/process-spawner.ts';
import { step } from './core/job-machine.ts';
import type { JobEffect } from './core/job-effects.ts';
import type { JobEvent, TimerId } from './core/job-events.ts';
import { initialJobState, isIdle, type JobState } from './core/job-state.ts';
import type { MachineConfig } from './core/machine-config.ts';
import type { JobStatus } from './job-status.ts';
import { jobStatusSnapshot } from './job-status-snapshot.ts';
import type { JobRunnerEvent } from './job-runner-events.ts';
import type { RunnerDomain, RuntimePorts } from './runner-ports.ts';
import { spawnInetdConnection } from './sockets/inetd-connection.ts';
import type { ConnectionSpawn } from './sockets/socket-activation-hook.ts';
import { firstWarmUp, startJobProcess, warmJobStart } from './job-spawn.ts';
import { unsupportedKeyWarnings } from './spawn-request.ts';
import type { SupervisorLog } from './supervisor-log.ts';
import { DemandSources } from './triggers/demand-sources.ts';
import { JobConditions, sameMap } from './triggers/job-conditions.ts';
import { StandingSources } from './triggers/standing-sources.ts';
import type { TriggerTarget } from './triggers/trigger-target.ts';

// The link (being rewritten under issue 12) imports these from here; new code imports them from
// their own modules.
export type { LogLevel, SupervisorLog } from './supervisor-log.ts';
export type { RunnerDomain, RuntimePorts } from './runner-ports.ts';

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

/** Spawners (agents) whose machine code was warmed by a socket job's load (see `load`). */
const machinesWarmed = new WeakSet<ProcessSpawner>();

export class JobRunner {
  readonly spec: JobSpec;
  readonly path: string | undefined;
  private state: JobState = initialJobState();
  private readonly o: JobRunnerOptions;
  private readonly queue: JobEvent[] = [];
  private draining = false;
  private readonly timers = new Map<TimerId, { handle: TimerHandle; dueMono: number }>();
  private readonly conditions: JobConditions;
  private readonly demand: DemandSources;
  private readonly standing: StandingSources;
  private readonly warnings: string[];
  private removedWhy: string | undefined;
  private removedWaiters: (() => void)[] = [];
  private stateWaiters: { pred: (s: JobState) => boolean; resolve: () => void }[] = [];
  /** A process of the previous agent to take over at the first spawn of this load. */
  private adopting: AdoptedProcess | undefined;
  /** Set by detach(): the job's process is left to the next agent; events are ignored. */
  private detached = false;
  /** Stops watching an adopted process (it is not our child: its exit is polled for). */
  private unwatch: (() => void) | undefined;

  constructor(o: JobRunnerOptions) {
    this.o = o;
    this.spec = o.spec;
    this.path = o.path;
    // With a socket hook that opens sockets, the "not wired" warning about Sockets is not true.
    this.warnings = unsupportedKeyWarnings(o.spec).filter(
      (w) => !(o.domain.sockets?.open && w.startsWith('Sockets:')),
    );
    this.conditions = new JobConditions(o.spec, o.ports.fs, o.domain.otherJob);
    const target: TriggerTarget = {
      spec: o.spec,
      ports: o.ports,
      domain: o.domain,
      log: o.log,
      send: (e) => this.send(e),
      observed: () => this.state.observed,
      timerFired: (source, lagMs) => this.o.onEvent?.(this, { type: 'timer-fired', source, lagMs }),
      removed: () => this.removed,
    };
    this.demand = new DemandSources(target, this.conditions);
    this.standing = new StandingSources(target, this.conditions);
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
    if (this.spec.sockets.length > 0) warmJobStart(this.o);
    // A process the previous agent left running for this job (docs/upgrades.md). A disabled job
    // does not claim it: the agent stops what nobody claims once its jobs are loaded.
    const adopt = disabled ? undefined : await this.o.ports.adoption?.claim(this.o.domain.target, this.spec);
    const observed = await this.conditions.observe(this.state.observed);
    // A bootout that overtook the load (while the conditions were read) already removed the job.
    if (this.removed) {
      await adopt?.decline('the job was booted out while it loaded');
      return;
    }
    this.adopting = adopt;
    this.send({ type: 'load', disabled, observed });
    // A socket job's first activation runs the machine's start for the first time: V8 compiles
    // those functions then, in front of the fork (issue 19, tenth session: ~1.7 ms of the first
    // activation's JavaScript). The step is pure: run it once now on the loaded state, result
    // dropped; once per agent (job-spawn.ts `firstWarmUp`).
    if (
      this.spec.sockets.length > 0 &&
      isIdle(this.state.sub) &&
      firstWarmUp(machinesWarmed, this.o.ports.spawner)
    )
      step(
        this.spec,
        this.state,
        { type: 'trigger', kind: 'socket' },
        this.o.ports.clock.monotonicMs(),
        this.o.config,
      );
    // The process was started by something other than load (a timer, a watch, demand): it is
    // adopted as the run a kickstart would have started.
    if (this.adopting && isIdle(this.state.sub)) this.send({ type: 'kickstart', kill: false });
    const left = this.adopting;
    this.adopting = undefined;
    if (left) await left.decline(`the job did not start at load (${this.state.sub.kind})`);
  }

  /**
   * The agent detaches (a package upgrade, docs/upgrades.md): a running process is left alone
   * for the next agent, and everything else the job holds is released without a signal. Returns
   * the pid left running, or undefined (then nothing was done: the caller stops the job).
   */
  detach(): number | undefined {
    if (this.removed || this.state.sub.kind !== 'running') return undefined;
    const pid = this.state.sub.pid;
    this.release();
    this.detached = true;
    this.removedWhy = 'detached for the next agent';
    for (const w of this.removedWaiters.splice(0)) w();
    return pid;
  }

  /** Feeds one event to the machine (queued if an event is being processed). */
  send(event: JobEvent): void {
    // Detached: the process belongs to the next agent now. An exit seen meanwhile must not
    // start another process this agent would leave behind unrecorded.
    if (this.detached) return;
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
    const next = this.conditions.otherJobs(this.state.observed);
    if (
      sameMap(next.otherJobLoaded, this.state.observed.otherJobLoaded) &&
      sameMap(next.otherJobActive, this.state.observed.otherJobActive)
    )
      return;
    this.send({ type: 'trigger', kind: 'other-job', observed: next });
  }

  /** The agent detected sleep or a clock change of `deltaMs` (docs/launchd-semantics.md §7 D4). */
  onClockJump(deltaMs: number): void {
    if (this.o.config.intervalDuringSleep === 'coalesce') this.standing.clockJumped(deltaMs);
  }

  /** The status snapshot. */
  status(): JobStatus {
    const { clock } = this.o.ports;
    return jobStatusSnapshot({
      spec: this.spec,
      path: this.path,
      domain: this.o.domain,
      defaultExitTimeOutSec: this.o.config.defaultExitTimeOutSec,
      state: this.state,
      monoNow: clock.monotonicMs(),
      wallNow: clock.wallMs(),
      timersDue: new Map([...this.timers].map(([id, t]) => [id, t.dueMono])),
      nextIntervalMono: this.standing.nextIntervalMono(),
      nextCalendarWall: this.standing.nextCalendarWall(),
      armed: this.demand.armed(),
      warnings: this.warnings,
      sockets: this.spec.sockets.length > 0 ? this.o.domain.sockets?.status?.(this.spec) : undefined,
    });
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
        for (const k of e.sources) this.demand.arm(k);
        return;
      case 'disarm-demand':
        for (const k of e.sources) this.demand.disarm(k);
        return;
      case 'arm-standing':
        for (const k of e.sources) this.standing.arm(k);
        return;
      case 'disarm-standing':
        for (const k of e.sources) this.standing.disarm(k);
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
    const adopted = this.adopting;
    if (adopted) {
      this.adopting = undefined;
      this.adopt(adopted);
      return;
    }
    startJobProcess({
      spec: this.spec,
      domain: this.o.domain,
      ports: this.o.ports,
      config: this.o.config,
      log: this.o.log,
      send: (e) => this.send(e),
      spawned: (latencyMs) =>
        this.o.onEvent?.(this, { type: 'spawned', reason: this.state.immediateReason, latencyMs }),
      exited: (exit) => this.deliverExit(exit),
    });
  }

  /** The spawn effect, served by the previous agent's process instead of a new one. */
  private adopt(p: AdoptedProcess): void {
    this.o.log(
      'info',
      this.label,
      `adopted pid ${p.pid}, left running by the previous agent; its exit status will not be known`,
    );
    // Queued behind the spawn effect that asked for it, as a real spawn's answer is.
    this.send({ type: 'spawned', pid: p.pid, adopted: true });
    this.unwatch = p.watch(() => {
      this.unwatch = undefined;
      this.deliverExit({ pid: p.pid, code: null, signal: null });
    });
  }

  /** inetd Wait=false: one process for one accepted connection (sockets/inetd-connection.ts). */
  spawnConnection(connFd: number): Promise<ConnectionSpawn> {
    if (this.removed) return Promise.resolve({ ok: false, message: 'the job was removed' });
    return spawnInetdConnection(this.o, connFd);
  }

  private deliverExit(exit: ProcessExit): void {
    const needsObserve = this.spec.keepAlive.pathState.size > 0 || this.spec.queueDirectories.length > 0;
    const ev = { type: 'exited', pid: exit.pid, code: exit.code, signal: exit.signal } as const;
    if (!needsObserve) {
      this.send(ev);
      return;
    }
    // launchd re-checks PathState and QueueDirectories after each exit.
    this.conditions.observe(this.state.observed).then(
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

  private release(): void {
    // Sockets are closed at unload; a unix socket's path stays (842, core.c:5859-5871).
    this.o.domain.sockets?.close?.(this.spec);
    this.unwatch?.();
    this.unwatch = undefined;
    for (const t of this.timers.values()) t.handle.cancel();
    this.timers.clear();
    this.demand.disarmAll();
    this.standing.disarmAll();
  }
}
