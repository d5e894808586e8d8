/**
 * The one job-state vocabulary of Launchfleet, on the wire and in every consumer: a job's
 * status is `{ subState, active, result }`, as systemd describes a unit with SubState,
 * ActiveState and Result.
 *
 * - `subState` is the supervisor's detailed state: one variant per launchd state of the job
 *   machine (node-agent/src/supervisor/core/job-state.ts keeps the variants' data).
 * - `active` is the coarse state, read from the ONE translation table below (systemd's
 *   `state_translation_table`). Nothing else maps a sub-state to a coarse state.
 * - `result` says how the last run ended (systemd's `Result=`).
 *
 * The agent, its metrics, `lfctl print`, the node status in `lf_nodes`, the controller's health
 * answers, its alerts and the rollouts' health gates all speak these words; docs/job-states.md
 * explains them for people. Pure: no I/O.
 */

/** The supervisor's sub-states, in lifecycle order. */
export const JOB_SUB_STATES = [
  /** Created but not yet loaded into its domain (the machine's start state). */
  'unloaded',
  /** Loaded, no process, demand sources armed; the last run (if any) ended cleanly or was stopped by us. */
  'waiting',
  /** Like `waiting`, but the last run ended badly (non-zero exit, a signal we did not send, a spawn failure). */
  'exited',
  /** A start was asked for inside ThrottleInterval: the respawn is held back (launchd's "spawn scheduled"). */
  'spawn-scheduled',
  /** The spawn was issued; the process does not exist yet. */
  'spawning',
  /** A process exists. */
  'running',
  /** We sent SIGTERM (stop, bootout); ExitTimeOut runs. */
  'stopping-term',
  /** We sent SIGKILL (ExitTimeOut elapsed, or kickstart -k). */
  'stopping-kill',
  /** Bootout arrived while a spawn was in flight: stop the process as soon as it exists, then remove the job. */
  'removal-pending',
  /** Removed from its domain. Terminal. */
  'removed',
] as const;

export type JobSubStateKind = (typeof JOB_SUB_STATES)[number];

/** The coarse states (systemd's UnitActiveState), the words the API, metrics and controller speak. */
export const ACTIVE_STATES = ['active', 'inactive', 'activating', 'deactivating', 'failed'] as const;

export type ActiveState = (typeof ACTIVE_STATES)[number];

/** How the last run of a job ended (systemd's service `Result=`). */
export const JOB_RESULTS = [
  /** No run has ended yet, or the last one exited with status 0. */
  'success',
  /** The last run exited with a non-zero status. */
  'exit-code',
  /** The last run was killed by a signal we did not send (not one of the crash signals). */
  'signal',
  /** The last run died of a crash signal (SIGSEGV, SIGABRT, SIGBUS, ...) we did not send. */
  'crash',
  /** We ended the last run ourselves (stop, bootout, kickstart -k, ExitTimeOut): not a failure. */
  'stopped',
  /** The last spawn did not produce a running program (bad path, unknown user, exec failed). */
  'spawn-failed',
  /**
   * The last run was a process adopted from the previous agent (a package upgrade): it ended,
   * but its wait status went to init, so how it ended is not known. Not counted as a failure.
   */
  'unknown',
  /** The job's plist or bundle could not be loaded: there is no machine for it (reported by the link). */
  'load-failed',
] as const;

export type JobResult = (typeof JOB_RESULTS)[number];

/** Results that describe one process's end (the `reason` label of the exit counter). */
export const EXIT_RESULTS = [
  'success',
  'exit-code',
  'signal',
  'crash',
  'stopped',
  'spawn-failed',
  'unknown',
] as const satisfies readonly JobResult[];

export type ExitResult = (typeof EXIT_RESULTS)[number];

/** A job's state as the fleet sees it: the value of `NodeStatus.jobs[label]`. */
export interface JobStateReport {
  readonly subState: JobSubStateKind;
  /** Always `activeStateOf(subState, result)`: carried so that no reader re-derives it. */
  readonly active: ActiveState;
  readonly result: JobResult;
}

/** One row of the translation table. */
export interface CoarseState {
  /** The string `launchctl print` shows as `state =` (docs/launchd-semantics.md, "print"). */
  readonly print: string;
  readonly active: ActiveState;
}

/**
 * THE translation table: everything outside the job machine reads states through it. `exited`
 * prints `not running` as launchd does, but is `failed` to us: its last run ended badly.
 */
export const STATE_TABLE: { readonly [K in JobSubStateKind]: CoarseState } = {
  unloaded: { print: 'not loaded', active: 'inactive' },
  waiting: { print: 'not running', active: 'inactive' },
  exited: { print: 'not running', active: 'failed' },
  'spawn-scheduled': { print: 'spawn scheduled', active: 'activating' },
  spawning: { print: 'spawning', active: 'activating' },
  running: { print: 'running', active: 'active' },
  'stopping-term': { print: 'SIGTERMed', active: 'deactivating' },
  'stopping-kill': { print: 'SIGKILLed', active: 'deactivating' },
  'removal-pending': { print: 'spawning', active: 'deactivating' },
  removed: { print: 'exited', active: 'inactive' },
};

/**
 * The coarse state of a sub-state and result: the table's, except for a job that could not be
 * loaded, which has no machine (`unloaded`) and is `failed`.
 */
export function activeStateOf(subState: JobSubStateKind, result: JobResult): ActiveState {
  return result === 'load-failed' ? 'failed' : STATE_TABLE[subState].active;
}

/** The report of a job in `subState` whose last run ended with `result`. */
export function jobStateReport(subState: JobSubStateKind, result: JobResult): JobStateReport {
  return { subState, active: activeStateOf(subState, result), result };
}

/** The report of a label whose plist or bundle could not be loaded. */
export const LOAD_FAILED: JobStateReport = jobStateReport('unloaded', 'load-failed');

/** Results that mean the job did not do its work (everything but success, our own stop and an unknown end). */
export function isFailureResult(r: JobResult): boolean {
  return r !== 'success' && r !== 'stopped' && r !== 'unknown';
}

/**
 * The job could not start at all: its plist did not load or its program did not spawn. The
 * controller lists this as the `failed` problem (an ordinary non-zero exit is `active: failed`
 * in the counts, but not a problem that alerts).
 */
export function cannotStart(s: JobStateReport): boolean {
  return s.result === 'load-failed' || s.result === 'spawn-failed';
}

/** A respawn is being held back by ThrottleInterval (launchd's "spawn scheduled"). */
export function isThrottled(s: Pick<JobStateReport, 'subState'>): boolean {
  return s.subState === 'spawn-scheduled';
}

/** Type guards for values read from the wire. */
export const isJobSubState = (v: unknown): v is JobSubStateKind =>
  typeof v === 'string' && (JOB_SUB_STATES as readonly string[]).includes(v);
export const isActiveState = (v: unknown): v is ActiveState =>
  typeof v === 'string' && (ACTIVE_STATES as readonly string[]).includes(v);
export const isJobResult = (v: unknown): v is JobResult =>
  typeof v === 'string' && (JOB_RESULTS as readonly string[]).includes(v);
