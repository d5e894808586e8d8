/**
 * The job lifecycle as a pure state machine: `step(spec, state, event, nowMs, config)` returns
 * the next state and the effects for the runtime to carry out. No I/O, no timers, no clock:
 * time is the `nowMs` argument (monotonic), timers are effects, and their firing is an event.
 * Semantics are launchd-842's `job_dispatch` / `job_start` / `job_reap` / `job_stop`
 * (docs/launchd-semantics.md §2), with the version choices of `MachineConfig` (§7).
 *
 * Over 400 lines on purpose: it is one step function over every (state, event) pair, and a
 * reader checks a transition against its neighbours in the same switch (s6's state x event
 * table); the predicates it calls (keepalive.ts, throttle.ts, calendar.ts) are already apart.
 *
 * States (job-state.ts), events (job-events.ts), effects (job-effects.ts) live beside this file;
 * the coarse names come from job-state.ts's STATE_TABLE.
 *
 *                 load                    keepalive / kickstart / trigger
 *   unloaded ───────────▶ waiting|exited ──────────────────────────────┐
 *                          ▲   ▲    │ inside ThrottleInterval           │ outside it
 *                          │   │    ▼                                   ▼
 *                          │   │  spawn-scheduled ──throttle timer──▶ spawning ──spawn-failed──┐
 *                          │   │                                        │ spawned               │
 *                          │   │                                        ▼                       │
 *                          │   └──── exited: re-dispatch ◀───────── running ◀───────────────────┘
 *                          │        (keepalive? respawn via            │ stop / bootout: SIGTERM
 *                          │         the throttle : wait)              ▼
 *                          │                                    stopping-term ──ExitTimeOut──▶ stopping-kill
 *                          │                                           │ exited                   │ exited or
 *                          └───────────────────────────────────────────┘                         │ kill-grace
 *   bootout while idle, LaunchOnlyOnce after its run, or removal pending at exit ──▶ removed ◀────┘ (simulated)
 *   bootout while spawning ──▶ removal-pending ──spawned──▶ stopping-term ──exit──▶ removed
 *
 * Invariants (property-tested in job-machine.property.test.ts):
 * - At most one process per job: a `spawn` effect is only emitted from a state without one.
 * - Two spawns of a non-inetd job are at least ThrottleInterval seconds apart (monotonic).
 * - Every spawn is matched by exactly one reap (exit, simulated exit, or spawn failure): `runs`
 *   equals `spawns` whenever no process exists.
 * Cells that cannot happen (an exit in `waiting`, a `spawned` nobody asked for) log at `error` and
 * leave the state unchanged rather than throw, as s6 does.
 */
import { type JobSpec, isFailureResult } from '@launchfleet/shared/job';
import type { MachineConfig } from './machine-config.ts';
import type { JobEffect, DemandSourceKind, StandingSourceKind } from './job-effects.ts';
import type { JobEvent, TimerId, TriggerKind } from './job-events.ts';
import {
  CRASH_SIGNALS,
  NOTHING_OBSERVED,
  hasProcess,
  isIdle,
  runResult,
  type ExitStatus,
  type ImmediateReason,
  type JobState,
  type JobSubState,
} from './job-state.ts';
import { jobKeepalive, jobUseless } from './keepalive.ts';
import { effectiveThrottleSec, throttleDelayMs, trackRun } from './throttle.ts';

/** The outcome of one step: the next state and the effects for the runtime, in order. */
export interface StepResult {
  readonly state: JobState;
  readonly effects: readonly JobEffect[];
}

type Draft = { -readonly [K in keyof JobState]: JobState[K] };

/** One step's working data: a mutable copy of the state, the effects so far, and notes for the history. */
interface Ctx {
  readonly spec: JobSpec;
  readonly s: Draft;
  readonly now: number;
  readonly config: MachineConfig;
  readonly effects: JobEffect[];
  readonly notes: string[];
}

const ALL_DEMAND: readonly DemandSourceKind[] = ['watch-path', 'queue-dir', 'socket'];
const ALL_STANDING: readonly StandingSourceKind[] = ['interval', 'calendar', 'path-state', 'other-job'];

/** Triggers that set start_pending (§2.2), and the immediate reason each gives. */
const START_PENDING_TRIGGERS: { readonly [K in TriggerKind]?: ImmediateReason } = {
  interval: 'interval',
  calendar: 'calendar',
  'watch-path': 'watch-path',
  mount: 'mount',
};

/** Advances the job's machine by one event. Pure: same inputs, same outputs. */
export function step(
  spec: JobSpec,
  state: JobState,
  event: JobEvent,
  nowMs: number,
  config: MachineConfig,
): StepResult {
  const c: Ctx = { spec, s: { ...state }, now: nowMs, config, effects: [], notes: [] };
  const before = state.sub;
  switch (event.type) {
    case 'load':
      onLoad(c, event.disabled, event.observed);
      break;
    case 'unload':
      onUnload(c);
      break;
    case 'kickstart':
      onKickstart(c, event.kill);
      break;
    case 'stop':
      onStop(c);
      break;
    case 'kill-signal':
      onKillSignal(c, event.signal);
      break;
    case 'trigger':
      if (event.observed) c.s.observed = event.observed;
      onTrigger(c, event.kind);
      break;
    case 'condition-changed':
      c.s.observed = event.observed;
      if (isIdle(c.s.sub)) dispatch(c, false);
      else c.notes.push('conditions updated; evaluated at the next exit');
      break;
    case 'spawned':
      onSpawned(c, event.pid, event.adopted === true);
      break;
    case 'spawn-failed':
      onSpawnFailed(c, event);
      break;
    case 'exited':
      if (event.observed) c.s.observed = event.observed;
      onExited(c, event.pid, event.code, event.signal);
      break;
    case 'timer-fired':
      onTimer(c, event.timer);
      break;
    case 'enable':
      onEnable(c);
      break;
    case 'disable':
      onDisable(c);
      break;
    default: {
      const never: never = event;
      cantHappen(c, `unknown event ${JSON.stringify(never)}`);
    }
  }
  return finish(c, before, event);
}

// ---- event handlers ----------------------------------------------------------------------------

function onLoad(c: Ctx, disabled: boolean, observed = NOTHING_OBSERVED): void {
  if (c.s.sub.kind !== 'unloaded') return cantHappen(c, `load while ${c.s.sub.kind}`);
  const ka = c.spec.keepAlive;
  c.s.disabled = disabled;
  c.s.observed = observed;
  c.s.needsKickoff = ka.afterInitialDemand;
  // RunAtLoad, and the mere presence of SuccessfulExit or Crashed, set start_pending at import (§2.2).
  c.s.startPending = c.spec.runAtLoad || ka.successfulExit !== undefined || ka.crashed !== undefined;
  if (c.s.startPending) c.s.pendingReason = 'speculative';
  c.s.minimumRuntimeSec = effectiveThrottleSec(c.spec, c.s, c.config);
  c.s.sub = { kind: 'waiting' };
  const standing = standingSources(c.spec);
  if (standing.length > 0) c.effects.push({ type: 'arm-standing', sources: standing });
  // "KeepAlive at load" is speculative too, not inefficient.
  dispatch(c, false, 'speculative');
}

function onUnload(c: Ctx): void {
  const sub = c.s.sub;
  switch (sub.kind) {
    case 'unloaded':
    case 'waiting':
    case 'exited':
    case 'spawn-scheduled':
      return remove(c, 'booted out');
    case 'spawning':
      c.s.removalPending = true;
      c.s.sub = { kind: 'removal-pending' };
      disarmStanding(c);
      c.notes.push('bootout during spawn: stop as soon as the process exists');
      return;
    case 'running':
      c.s.removalPending = true;
      disarmStanding(c);
      return stopProcess(c, sub.pid);
    case 'stopping-term':
    case 'stopping-kill':
      c.s.removalPending = true;
      disarmStanding(c);
      c.notes.push('bootout while stopping: remove at exit');
      return;
    case 'removal-pending':
    case 'removed':
      c.notes.push('already being removed');
      return;
    default:
      return exhausted(c, sub);
  }
}

function onKickstart(c: Ctx, kill: boolean): void {
  const sub = c.s.sub;
  if (c.s.disabled) {
    c.notes.push('kickstart ignored: the job is disabled');
    return;
  }
  switch (sub.kind) {
    case 'waiting':
    case 'exited':
      return dispatch(c, true, 'non-ipc demand');
    case 'spawn-scheduled':
      // job_start would throttle again to the same instant: the kickstart cannot bypass the throttle.
      c.notes.push(`spawn already scheduled; throttled until ${sub.untilMs}`);
      return;
    case 'spawning':
      c.notes.push('already active (spawning)');
      return;
    case 'running':
      if (!kill) {
        c.notes.push('already running');
        return;
      }
      // kickstart -k: kill and restart in one request; the restart is still throttled (E1).
      c.s.stoppedByUs = true;
      c.s.restartAfterExit = true;
      c.effects.push({ type: 'signal', pid: sub.pid, signal: 'SIGKILL' });
      armTimer(c, 'kill-grace', c.config.killGraceMs);
      c.s.sub = { kind: 'stopping-kill', pid: sub.pid };
      c.notes.push('kickstart -k: SIGKILL, restart after the exit');
      return;
    case 'stopping-term':
    case 'stopping-kill':
      if (kill) c.s.restartAfterExit = true;
      c.notes.push(kill ? 'stopping already; restart after the exit' : 'already active (stopping)');
      return;
    case 'unloaded':
    case 'removal-pending':
    case 'removed':
      c.notes.push(`kickstart ignored while ${sub.kind}`);
      return;
    default:
      return exhausted(c, sub);
  }
}

function onStop(c: Ctx): void {
  const sub = c.s.sub;
  if (sub.kind === 'running') return stopProcess(c, sub.pid);
  if (sub.kind === 'spawning') {
    c.s.sub = { kind: 'spawning', then: 'stop' };
    c.notes.push('stop during spawn: stop as soon as the process exists');
    return;
  }
  if (sub.kind === 'spawn-scheduled') {
    // Nothing runs; a scheduled respawn stays scheduled (launchd's job_stop does nothing without a pid).
    c.notes.push('stop: no process');
    return;
  }
  c.notes.push(`stop: nothing to stop (${sub.kind})`);
}

function onKillSignal(c: Ctx, signal: string): void {
  const sub = c.s.sub;
  if (sub.kind === 'running' || sub.kind === 'stopping-term' || sub.kind === 'stopping-kill') {
    // A plain kill(2): not our stop, so a crash signal sent this way counts as a crash (§2.5).
    c.effects.push({ type: 'signal', pid: sub.pid, signal });
    c.notes.push(`sent ${signal} to ${sub.pid}`);
    return;
  }
  c.notes.push(`kill ${signal}: no process`);
}

function onTrigger(c: Ctx, kind: TriggerKind): void {
  const sub = c.s.sub;
  if (sub.kind === 'unloaded' || sub.kind === 'removed' || sub.kind === 'removal-pending') {
    c.notes.push(`${kind} ignored while ${sub.kind}`);
    return;
  }
  if (c.s.disabled) {
    c.notes.push(`${kind} ignored: the job is disabled`);
    return;
  }
  const pendingReason = START_PENDING_TRIGGERS[kind];
  if (pendingReason !== undefined) {
    if (hasProcess(sub) && c.config.triggerWhileRunning === 'drop') {
      c.notes.push(`${kind} fired while running: missed (D4 drop)`);
      return;
    }
    c.s.startPending = true;
    c.s.pendingReason = pendingReason;
    if (isIdle(sub)) return dispatch(c, false);
    c.notes.push(`${kind} fired while ${sub.kind}: start pending`);
    return;
  }
  if (kind === 'socket') {
    // A readable listener is genuine demand: kickstart semantics, throttle still applies.
    if (isIdle(sub)) return dispatch(c, true, 'ipc (socket)');
    c.notes.push('socket readable while active: the job owns its sockets');
    return;
  }
  // queue-dir, path-state, other-job: conditions, evaluated by job_keepalive.
  if (isIdle(sub)) return dispatch(c, false);
  c.notes.push(`${kind} changed while ${sub.kind}: evaluated at the next exit`);
}

function onSpawned(c: Ctx, pid: number, adopted: boolean): void {
  const sub = c.s.sub;
  if (sub.kind === 'spawning') {
    c.s.sub = { kind: 'running', pid };
    c.s.spawnFailure = undefined;
    c.s.result = 'success';
    c.notes.push(
      adopted
        ? `pid ${pid} adopted from the previous agent (its exit status will not be known)`
        : `pid ${pid}`,
    );
    if (sub.then === 'stop') stopProcess(c, pid);
    return;
  }
  if (sub.kind === 'removal-pending') {
    c.s.sub = { kind: 'running', pid };
    c.s.spawnFailure = undefined;
    c.s.result = 'success';
    return stopProcess(c, pid);
  }
  cantHappen(c, `spawned pid ${pid} while ${sub.kind}`);
}

function onSpawnFailed(
  c: Ctx,
  f: { stage: string; errno: string; exitStatus: number; message: string },
): void {
  const sub = c.s.sub;
  if (sub.kind !== 'spawning' && sub.kind !== 'removal-pending')
    return cantHappen(c, `spawn-failed while ${sub.kind}`);
  c.s.spawnFailure = { atMs: c.now, ...f };
  c.notes.push(`spawn failed at ${f.stage}: ${f.errno} (${f.message}); status ${f.exitStatus}`);
  // 842: the child _exit(errno)s and is reaped like any exit, so the failure is a run with that status.
  reap(c, undefined, { kind: 'code', code: f.exitStatus });
}

function onExited(c: Ctx, pid: number, code: number | null, signal: string | null): void {
  const sub = c.s.sub;
  if (sub.kind === 'running' || sub.kind === 'stopping-term' || sub.kind === 'stopping-kill') {
    if (sub.pid !== pid) {
      c.notes.push(`exit of stale pid ${pid} ignored (current ${sub.pid})`);
      return;
    }
    // Neither code nor signal: an adopted process (not our child) has gone, how is unknown.
    const status: ExitStatus =
      signal !== null
        ? { kind: 'signal', signal }
        : code !== null
          ? { kind: 'code', code }
          : { kind: 'unknown' };
    return reap(c, pid, status);
  }
  // After a simulated exit the real one may still arrive: it belongs to a run already accounted for.
  c.notes.push(`exit of pid ${pid} ignored while ${sub.kind} (already reaped or simulated)`);
}

function onTimer(c: Ctx, timer: TimerId): void {
  const sub = c.s.sub;
  const due = c.s.timerDueMs[timer];
  if (due === undefined) {
    // A timer cancelled by this machine can still fire if the runtime raced it: harmless.
    c.notes.push(`stale ${timer} timer ignored while ${sub.kind}`);
    return;
  }
  if (c.now < due) {
    // Early: re-arm for the rest. Acting now would spawn inside ThrottleInterval or SIGKILL
    // before ExitTimeOut; the due time, not the firing, is the promise.
    c.effects.push({ type: 'start-timer', timer, ms: due - c.now });
    c.notes.push(`${timer} timer fired ${due - c.now} ms early: re-armed`);
    return;
  }
  c.s.timerDueMs = withoutTimer(c.s.timerDueMs, timer);
  if (timer === 'throttle' && sub.kind === 'spawn-scheduled') {
    // job_dispatch(j, kickstart=true): the throttle is satisfied by construction, so spawn now.
    c.s.throttledUntilMs = undefined;
    return spawnNow(c, c.s.pendingReason ?? 'inefficient');
  }
  if (timer === 'exit-timeout' && sub.kind === 'stopping-term') {
    const secs = c.spec.exitTimeOut ?? c.config.defaultExitTimeOutSec;
    c.notes.push(`Exit timeout elapsed (${secs} seconds). Killing`);
    c.effects.push({ type: 'signal', pid: sub.pid, signal: 'SIGKILL' });
    armTimer(c, 'kill-grace', c.config.killGraceMs);
    c.s.sub = { kind: 'stopping-kill', pid: sub.pid };
    return;
  }
  if (timer === 'kill-grace' && sub.kind === 'stopping-kill') {
    const msg = `Job has not died after being killed ${c.config.killGraceMs / 1000} seconds ago. Simulating exit.`;
    c.effects.push({ type: 'log', level: 'warn', message: msg });
    c.notes.push(msg);
    return reap(c, sub.pid, { kind: 'signal', signal: 'SIGKILL' });
  }
  // Every state change out of a timer's state disarms it, so this is a due timer in a state it
  // does not belong to: ignored, as a stale one.
  c.notes.push(`${timer} timer ignored while ${sub.kind}`);
}

function onEnable(c: Ctx): void {
  if (!c.s.disabled) {
    c.notes.push('already enabled');
    return;
  }
  c.s.disabled = false;
  if (isIdle(c.s.sub)) dispatch(c, false);
}

function onDisable(c: Ctx): void {
  if (c.s.disabled) {
    c.notes.push('already disabled');
    return;
  }
  c.s.disabled = true;
  const sub = c.s.sub;
  if (sub.kind === 'spawn-scheduled') {
    disarmTimer(c, 'throttle');
    c.s.throttledUntilMs = undefined;
    goIdle(c);
  } else if (isIdle(sub)) {
    c.effects.push({ type: 'disarm-demand', sources: ALL_DEMAND });
  } else {
    // A running process is left alone; KeepAlive stops respawning it (§2.6, E12).
    c.notes.push('disabled; the process keeps running');
  }
}

// ---- launchd's verbs ---------------------------------------------------------------------------

/**
 * job_dispatch (§2.2): with a process, nothing (start_pending stays set); if useless, remove; if
 * kickstarted or kept alive, start (through the throttle); otherwise wait on demand.
 */
function dispatch(c: Ctx, kickstart: boolean, reasonOverride?: ImmediateReason): void {
  const sub = c.s.sub;
  if (hasProcess(sub)) {
    c.notes.push('already active');
    return;
  }
  if (sub.kind === 'removed' || sub.kind === 'unloaded') return cantHappen(c, `dispatch while ${sub.kind}`);
  const useless = jobUseless(c.spec, c.s);
  if (useless.useless) return remove(c, useless.reason);
  if (c.s.disabled) {
    c.notes.push('disabled: not started');
    return goIdle(c);
  }
  if (kickstart) return start(c, reasonOverride ?? 'non-ipc demand');
  const v = jobKeepalive(c.spec, c.s);
  c.notes.push(v.reason);
  if (v.keep) return start(c, reasonOverride ?? v.because ?? 'inefficient');
  goIdle(c);
}

/** job_start (§2.3): throttle, or spawn now. */
function start(c: Ctx, reason: ImmediateReason): void {
  const interval = effectiveThrottleSec(c.spec, c.s, c.config);
  c.s.minimumRuntimeSec = interval;
  const delay = throttleDelayMs(c.s.lastSpawnAtMs, c.now, interval);
  if (delay > 0) {
    c.s.sub = { kind: 'spawn-scheduled', untilMs: c.now + delay };
    c.s.throttledUntilMs = c.now + delay;
    c.s.pendingReason = reason;
    c.effects.push({ type: 'disarm-demand', sources: ALL_DEMAND });
    armTimer(c, 'throttle', delay);
    c.notes.push(`Throttling respawn: Will start in ${delay / 1000} seconds`);
    return;
  }
  spawnNow(c, reason);
}

function spawnNow(c: Ctx, reason: ImmediateReason): void {
  const s = c.s;
  s.sub = { kind: 'spawning' };
  s.spawns += 1;
  s.lastSpawnAtMs = c.now;
  s.startPending = false;
  s.pendingReason = undefined;
  s.crashed = false;
  s.stoppedByUs = false;
  s.restartAfterExit = false;
  s.throttledUntilMs = undefined;
  s.immediateReason = reason;
  if (s.needsKickoff) {
    s.needsKickoff = false;
    // A KeepAlive dict holding only AfterInitialDemand becomes KeepAlive=true after the kickoff (core.c:4476).
    if (!hasOtherKeepAliveConditions(c.spec)) s.keepAliveForced = true;
  }
  c.effects.push({ type: 'disarm-demand', sources: ALL_DEMAND });
  c.effects.push({ type: 'spawn', reason });
  c.notes.push(`spawning (${reason})`);
}

/** job_reap (§2.4): account for the run, clean the process group, then re-dispatch. */
function reap(c: Ctx, pid: number | undefined, status: ExitStatus): void {
  const s = c.s;
  const prev = s.sub;
  if (prev.kind === 'stopping-term') disarmTimer(c, 'exit-timeout');
  if (prev.kind === 'stopping-kill') disarmTimer(c, 'kill-grace');
  s.runs += 1;
  s.lastExit = status;
  if (pid !== undefined && !c.spec.abandonProcessGroup && c.spec.inetdCompatibility === undefined)
    c.effects.push({ type: 'signal-group', pgid: pid, signal: 'SIGTERM' });
  s.crashed = status.kind === 'signal' && CRASH_SIGNALS.has(status.signal) && !s.stoppedByUs;
  s.result = runResult(s);
  c.notes.push(describeExit(status, s.crashed, s.stoppedByUs));
  const throttle = effectiveThrottleSec(c.spec, s, c.config);
  const tracked = trackRun(
    s,
    {
      ranMs: pid === undefined ? 0 : c.now - (s.lastSpawnAtMs ?? c.now),
      clean: status.kind === 'code' && status.code === 0,
      stoppedByUs: s.stoppedByUs,
      respawnsAlways: c.spec.keepAlive.always || s.keepAliveForced,
    },
    throttle,
    c.now,
    c.config,
  );
  s.successiveCrashes = tracked.successiveCrashes;
  s.shortRuns = tracked.shortRuns;
  if (tracked.crashLooping && !s.crashLooping)
    c.effects.push({
      type: 'log',
      level: 'warn',
      message: `crash-looping: ${tracked.crashLooping.count} short runs in a row`,
    });
  s.crashLooping = tracked.crashLooping;
  c.effects.push({ type: 'persist-status' });
  // Leave the process states before dispatching: idle is the only state dispatch starts from.
  s.sub = { kind: 'waiting' };
  const restart = s.restartAfterExit;
  s.restartAfterExit = false;
  dispatch(c, restart, restart ? 'non-ipc demand' : undefined);
}

/** job_stop (§2.5): SIGTERM to the main pid, then SIGKILL after ExitTimeOut (0 = wait forever). */
function stopProcess(c: Ctx, pid: number): void {
  c.s.stoppedByUs = true;
  c.effects.push({ type: 'signal', pid, signal: 'SIGTERM' });
  const secs = c.spec.exitTimeOut ?? c.config.defaultExitTimeOutSec;
  if (secs > 0) armTimer(c, 'exit-timeout', secs * 1000);
  else c.notes.push('This job has an infinite exit timeout');
  c.s.sub = { kind: 'stopping-term', pid };
}

/** job_watch: no process, demand sources armed (unless disabled: a disabled job advertises nothing). */
function goIdle(c: Ctx): void {
  const s = c.s;
  s.sub = isFailureResult(s.result) ? { kind: 'exited' } : { kind: 'waiting' };
  if (!s.disabled) c.effects.push({ type: 'arm-demand', sources: ALL_DEMAND });
}

function remove(c: Ctx, why: string): void {
  if (c.s.sub.kind === 'spawn-scheduled') disarmTimer(c, 'throttle');
  c.s.throttledUntilMs = undefined;
  c.effects.push({ type: 'disarm-demand', sources: ALL_DEMAND });
  disarmStanding(c);
  c.effects.push({ type: 'remove-job', why });
  c.notes.push(`removed: ${why}`);
  c.s.sub = { kind: 'removed' };
}

function disarmStanding(c: Ctx): void {
  const standing = standingSources(c.spec);
  if (standing.length > 0) c.effects.push({ type: 'disarm-standing', sources: standing });
}

// ---- helpers -----------------------------------------------------------------------------------

/** Asks for a machine timer and records when it is due (`JobState.timerDueMs`). */
function armTimer(c: Ctx, timer: TimerId, ms: number): void {
  c.s.timerDueMs = { ...c.s.timerDueMs, [timer]: c.now + ms };
  c.effects.push({ type: 'start-timer', timer, ms });
}

function disarmTimer(c: Ctx, timer: TimerId): void {
  c.s.timerDueMs = withoutTimer(c.s.timerDueMs, timer);
  c.effects.push({ type: 'cancel-timer', timer });
}

function withoutTimer(due: JobState['timerDueMs'], timer: TimerId): JobState['timerDueMs'] {
  const { [timer]: _gone, ...rest } = due;
  return rest;
}

function standingSources(spec: JobSpec): StandingSourceKind[] {
  return ALL_STANDING.filter((k) => {
    switch (k) {
      case 'interval':
        return spec.startInterval !== undefined && spec.startInterval > 0;
      case 'calendar':
        return spec.startCalendarInterval.length > 0;
      case 'path-state':
        return spec.keepAlive.pathState.size > 0;
      case 'other-job':
        return spec.keepAlive.otherJobEnabled.size > 0 || spec.keepAlive.otherJobActive.size > 0;
      default:
        return false;
    }
  });
}

function hasOtherKeepAliveConditions(spec: JobSpec): boolean {
  const ka = spec.keepAlive;
  return (
    ka.successfulExit !== undefined ||
    ka.crashed !== undefined ||
    ka.networkState !== undefined ||
    ka.pathState.size > 0 ||
    ka.otherJobEnabled.size > 0 ||
    ka.otherJobActive.size > 0
  );
}

function describeExit(status: ExitStatus, crashed: boolean, stoppedByUs: boolean): string {
  if (status.kind === 'unknown')
    return 'Exited: status unknown (an adopted process: its wait status went to init)';
  if (status.kind === 'code') return status.code === 0 ? 'Exited.' : `Exited with code: ${status.code}`;
  if (crashed) return `Job appears to have crashed: ${status.signal}`;
  if (status.signal === 'SIGKILL') return stoppedByUs ? 'Exited: Killed (by us)' : 'Exited: Killed';
  if (status.signal === 'SIGTERM') return stoppedByUs ? 'Exited: Terminated (by us)' : 'Exited: Terminated';
  return `Exited abnormally: ${status.signal}`;
}

function cantHappen(c: Ctx, what: string): void {
  c.effects.push({ type: 'log', level: 'error', message: `can't happen: ${what}` });
  c.notes.push(`can't happen: ${what}`);
}

function exhausted(c: Ctx, sub: never): void {
  cantHappen(c, `unknown sub-state ${JSON.stringify(sub)}`);
}

function finish(c: Ctx, before: JobSubState, event: JobEvent): StepResult {
  const s = c.s;
  const entry = {
    atMs: c.now,
    event: event.type === 'trigger' ? `trigger:${event.kind}` : event.type,
    detail: c.notes.join('; '),
    from: before.kind,
    to: s.sub.kind,
  };
  const history = [...s.history, entry];
  s.history = history.length > c.config.historyLimit ? history.slice(-c.config.historyLimit) : history;
  c.effects.push({ type: 'emit-status' });
  return { state: s, effects: c.effects };
}
