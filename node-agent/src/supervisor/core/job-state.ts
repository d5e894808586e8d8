/**
 * The state a job's machine keeps: a detailed sub-state (one variant per launchd state,
 * docs/launchd-semantics.md "Job states") plus launchd's per-job fields (`job_export`), and how
 * they read as the fleet's one vocabulary `{subState, active, result}`
 * (shared/src/job/job-state.ts holds the names and the ONE translation table; this file holds
 * the variants' data and `jobResult`).
 */
import {
  STATE_TABLE,
  type ActiveState,
  type CoarseState,
  type ExitResult,
  type JobSubStateKind as SubStateName,
} from '@launchfleet/shared/job';

export { STATE_TABLE, type ActiveState, type CoarseState, type ExitResult };

/** The detailed sub-state. Exactly one process may exist only in `running`, `stopping-*` and (about to) in `spawning`. */
export type JobSubState =
  /** Created but not yet loaded into its domain (the machine's start state). */
  | { readonly kind: 'unloaded' }
  /** Loaded, no process; demand sources armed; timers run. The last run (if any) ended cleanly. */
  | { readonly kind: 'waiting' }
  /**
   * Like `waiting` (no process, demand sources armed), but the last run ended badly: non-zero exit,
   * a signal not sent by us, or a spawn failure. Separate so the coarse table can say `failed`.
   */
  | { readonly kind: 'exited' }
  /** A start was requested inside ThrottleInterval; the throttle timer fires at `untilMs` (monotonic). Demand sources off. */
  | { readonly kind: 'spawn-scheduled'; readonly untilMs: number }
  /** The spawn effect was issued; waiting for `spawned` or `spawn-failed`. `then` records a stop asked meanwhile. */
  | { readonly kind: 'spawning'; readonly then?: 'stop' }
  /** A process exists. */
  | { readonly kind: 'running'; readonly pid: number }
  /** We sent SIGTERM (stop, bootout, teardown); the ExitTimeOut timer is armed unless ExitTimeOut is 0. */
  | { readonly kind: 'stopping-term'; readonly pid: number }
  /** We sent SIGKILL (ExitTimeOut elapsed, or kickstart -k); the kill-grace timer is armed. */
  | { readonly kind: 'stopping-kill'; readonly pid: number }
  /** Bootout arrived while a spawn was in flight: stop the process as soon as it exists, then remove the job. */
  | { readonly kind: 'removal-pending' }
  /** Removed from its domain (bootout finished, LaunchOnlyOnce done, domain torn down). Terminal. */
  | { readonly kind: 'removed' };

export type JobSubStateKind = JobSubState['kind'];

// The variants above and the shared names are the same set, both ways.
const sameNames: [JobSubStateKind, SubStateName] extends [SubStateName, JobSubStateKind] ? true : never =
  true;
void sameNames;

/** States with no process and demand sources armed (launchd's "not running"). */
export function isIdle(s: JobSubState): s is { kind: 'waiting' } | { kind: 'exited' } {
  return s.kind === 'waiting' || s.kind === 'exited';
}

/** States in which a process exists or is being created (launchd's `job_active`). */
export function hasProcess(s: JobSubState): boolean {
  return (
    s.kind === 'spawning' ||
    s.kind === 'running' ||
    s.kind === 'stopping-term' ||
    s.kind === 'stopping-kill' ||
    s.kind === 'removal-pending'
  );
}

/** The pid of the live process, if there is one. */
export function pidOf(s: JobSubState): number | undefined {
  return s.kind === 'running' || s.kind === 'stopping-term' || s.kind === 'stopping-kill' ? s.pid : undefined;
}

/**
 * A wait status, raw: exactly one of exit code and signal name (§2.4), or `unknown`: the end of
 * a process adopted from the previous agent, whose wait status went to init (docs/upgrades.md).
 */
export type ExitStatus =
  | { readonly kind: 'code'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: string }
  | { readonly kind: 'unknown' };

/**
 * Why the last spawn happened: launchd's `immediate reason` (§5.1 blame, E19), extended with the
 * trigger kinds launchd folds into `semaphore` or `event publisher`.
 */
export type ImmediateReason =
  /** RunAtLoad, or KeepAlive at load. */
  | 'speculative'
  /** A KeepAlive respawn after an exit. */
  | 'inefficient'
  /** A KeepAlive dictionary condition (SuccessfulExit, Crashed, PathState, OtherJob*). */
  | 'semaphore'
  | 'interval'
  | 'calendar'
  | 'watch-path'
  | 'queue-directory'
  | 'ipc (socket)'
  /** kickstart / start (§7 D14: we print the measured `non-ipc demand`). */
  | 'non-ipc demand'
  | 'mount';

/** KeepAlive facts the machine cannot see itself; the runtime observes them and passes them in (§2.2). */
export interface ObservedConditions {
  /** KeepAlive.PathState paths: does each exist? Missing entries count as "unknown" and never match. */
  readonly pathExists: ReadonlyMap<string, boolean>;
  /** QueueDirectories: does any listed directory have an entry (re-listed, never counted)? */
  readonly queueNonEmpty: boolean;
  /** OtherJobEnabled: is each label loaded in the domain? */
  readonly otherJobLoaded: ReadonlyMap<string, boolean>;
  /** OtherJobActive: does each label have a process? */
  readonly otherJobActive: ReadonlyMap<string, boolean>;
  /** NetworkState; undefined when not observed (modern launchd no longer implements the key). */
  readonly networkUp?: boolean;
  /** The domain is being torn down: nothing starts (job_keepalive step 1). */
  readonly domainShuttingDown: boolean;
}

export const NOTHING_OBSERVED: ObservedConditions = {
  pathExists: new Map(),
  queueNonEmpty: false,
  otherJobLoaded: new Map(),
  otherJobActive: new Map(),
  domainShuttingDown: false,
};

/** One line of the "why" history (Nomad's TaskState.Events). */
export interface HistoryEntry {
  /** Monotonic time of the event. */
  readonly atMs: number;
  /** The event type, e.g. 'exited', 'trigger', 'timer-fired'. */
  readonly event: string;
  /** Human-readable: what happened and what the machine decided. */
  readonly detail: string;
  readonly from: JobSubStateKind;
  readonly to: JobSubStateKind;
}

/** A spawn that did not produce a running program (§2.3). */
export interface SpawnFailureInfo {
  readonly atMs: number;
  readonly stage: string;
  readonly errno: string;
  readonly exitStatus: number;
  readonly message: string;
}

/** launchd's per-job record (`job_export` fields plus modern print fields), kept by the machine. */
export interface JobState {
  readonly sub: JobSubState;
  /** Reaped processes (incremented on every exit, including simulated and failed spawns, as 842 counts reaps). */
  readonly runs: number;
  /** Spawn effects issued (modern `forks`). Invariant: spawns - runs <= 1, and is 1 exactly while hasProcess(sub). */
  readonly spawns: number;
  /** Undefined until the first exit ("(never exited)"). */
  readonly lastExit?: ExitStatus;
  /**
   * How the last run ended (`runResult` at its reap); back to `success` once a new process
   * runs, as systemd resets `Result=` at a start. The fleet's `result`.
   */
  readonly result: ExitResult;
  /** Monotonic time of the last spawn: launchd's `start_time`, the throttle's origin. */
  readonly lastSpawnAtMs?: number;
  /** The last exit was a crash signal not sent by us. */
  readonly crashed: boolean;
  /** We stopped the current process (stop, bootout, kickstart -k, ExitTimeOut): its signal death is no crash. */
  readonly stoppedByUs: boolean;
  /** Pent-up non-IPC launch criteria (RunAtLoad, interval, calendar, watch path...). Cleared at spawn. */
  readonly startPending: boolean;
  /** The reason that goes with startPending or a scheduled spawn. */
  readonly pendingReason?: ImmediateReason;
  /** AfterInitialDemand not yet satisfied: nothing but genuine demand starts the job. */
  readonly needsKickoff: boolean;
  /** Set when the first kickoff turned a KeepAlive dict with only AfterInitialDemand into KeepAlive=true. */
  readonly keepAliveForced: boolean;
  /** kickstart -k killed the process: start again after the exit, whatever KeepAlive says. */
  readonly restartAfterExit: boolean;
  /** Bootout while running: remove when the process has exited. */
  readonly removalPending: boolean;
  /** The override database says disabled (§2.6): KeepAlive and demand are off, the process is left alone. */
  readonly disabled: boolean;
  readonly immediateReason?: ImmediateReason;
  /** Consecutive bad exits not caused by us (modern `successive crashes`); a clean exit resets it. */
  readonly successiveCrashes: number;
  /** Consecutive runs shorter than the crash-loop minimum. */
  readonly shortRuns: number;
  /** Set while the job crash-loops (see MachineConfig.crashLoop). */
  readonly crashLooping?: { readonly sinceMs: number; readonly count: number };
  /**
   * Monotonic due time of each machine timer while it is armed (set with its start-timer effect,
   * dropped with its cancel-timer or when it fires). A firing before it is re-armed for the rest,
   * never acted on: real timers can fire early, and an early throttle would spawn inside
   * ThrottleInterval, an early ExitTimeOut would SIGKILL too soon.
   */
  readonly timerDueMs: {
    readonly throttle?: number;
    readonly 'exit-timeout'?: number;
    readonly 'kill-grace'?: number;
  };
  /** Monotonic time the throttle releases a scheduled spawn, while spawn-scheduled. */
  readonly throttledUntilMs?: number;
  /** The throttle interval (seconds) that applied to the last decision (print's `minimum runtime`). */
  readonly minimumRuntimeSec: number;
  readonly spawnFailure?: SpawnFailureInfo;
  readonly observed: ObservedConditions;
  /** The last `historyLimit` events, oldest first. */
  readonly history: readonly HistoryEntry[];
}

/**
 * How the run that just ended ended (systemd's `Result=`): computed by `reap` for every run,
 * before the machine dispatches again (a respawn in the same step resets `crashed` and
 * `stoppedByUs` for the next run). `goIdle` chooses `exited` over `waiting` exactly when this is
 * a failure.
 */
export function runResult(
  s: Pick<JobState, 'spawnFailure' | 'lastExit' | 'stoppedByUs' | 'crashed'>,
): ExitResult {
  if (s.spawnFailure !== undefined) return 'spawn-failed';
  const e = s.lastExit;
  if (e === undefined) return 'success';
  if (s.stoppedByUs) return 'stopped';
  if (e.kind === 'unknown') return 'unknown';
  if (e.kind === 'code') return e.code === 0 ? 'success' : 'exit-code';
  return s.crashed ? 'crash' : 'signal';
}

/** The record of a job that has not been loaded yet. */
export function initialJobState(): JobState {
  return {
    sub: { kind: 'unloaded' },
    runs: 0,
    spawns: 0,
    result: 'success',
    crashed: false,
    stoppedByUs: false,
    startPending: false,
    needsKickoff: false,
    keepAliveForced: false,
    restartAfterExit: false,
    removalPending: false,
    disabled: false,
    successiveCrashes: 0,
    shortRuns: 0,
    minimumRuntimeSec: 10,
    timerDueMs: {},
    observed: NOTHING_OBSERVED,
    history: [],
  };
}

/** Signals that count as a crash (§1.4 Crashed, core.c:3740-3766). SIGKILL and SIGTERM never do. */
export const CRASH_SIGNALS: ReadonlySet<string> = new Set([
  'SIGILL',
  'SIGABRT',
  'SIGFPE',
  'SIGBUS',
  'SIGSEGV',
  'SIGSYS',
  'SIGTRAP',
]);
