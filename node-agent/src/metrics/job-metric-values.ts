/**
 * How a job's status and events become metric label values. The `state` and `reason` label sets
 * are fixed in the shared catalog (`JOB_STATE_VALUES`, `EXIT_REASON_VALUES`) so that alert rules
 * and dashboards can rely on them; this file is the one place that maps the supervisor's
 * sub-states and exits onto those bounded sets.
 */
import type { EXIT_REASON_VALUES, JOB_STATE_VALUES } from '@launchfleet/shared/metrics/catalog';
import type { JobSubStateKind } from '../supervisor/core/job-state.ts';
import type { JobRunnerEvent } from '../supervisor/job-runner-events.ts';
import { signalNumber, type JobStatus } from '../supervisor/job-status.ts';

/** One value of the `state` label. */
export type JobStateValue = (typeof JOB_STATE_VALUES)[number];
/** One value of the `reason` label of `launchfleet_job_exits_total`. */
export type ExitReason = (typeof EXIT_REASON_VALUES)[number];

/**
 * Sub-state -> `state` label, before the disabled and spawn-failure refinements below.
 * `spawning` counts as running (a process is being created: launchd's `job_active`); `exited`
 * (idle after a bad run) is waiting, its badness shows in the exit counters and last status;
 * `removed` has no series at all (the job is gone).
 */
const SUB_STATE_VALUE: { readonly [K in JobSubStateKind]: JobStateValue | undefined } = {
  unloaded: 'waiting',
  waiting: 'waiting',
  exited: 'waiting',
  'spawn-scheduled': 'spawn_scheduled',
  spawning: 'running',
  running: 'running',
  'stopping-term': 'stopping',
  'stopping-kill': 'stopping',
  'removal-pending': 'stopping',
  removed: undefined,
};

const IDLE: ReadonlySet<JobSubStateKind> = new Set(['unloaded', 'waiting', 'exited']);

/**
 * The `state` label value of a job, or undefined for a removed job. A disabled job without a
 * process is `disabled` (a disabled job's running process is left alone and still `running`);
 * an idle job whose last spawn failed before exec is `spawn_failed`.
 */
export function jobStateValue(
  s: Pick<JobStatus, 'subState' | 'disabled' | 'spawnFailure'>,
): JobStateValue | undefined {
  if (IDLE.has(s.subState)) {
    if (s.disabled) return 'disabled';
    if (s.subState === 'exited' && s.spawnFailure !== undefined) return 'spawn_failed';
  }
  return SUB_STATE_VALUE[s.subState];
}

/** The `reason` label of one exit (see EXIT_REASON_VALUES). */
export function exitReason(e: Extract<JobRunnerEvent, { type: 'exited' }>): ExitReason {
  if (e.spawnFailed) return 'spawn_failure';
  if (e.status.kind === 'signal') return e.crashed ? 'crash' : 'signal';
  return e.status.code === 0 ? 'success' : 'failure';
}

/** The last exit status as `launchctl list` shows it: the code, or minus the signal number. */
export function lastExitStatus(
  s: Pick<JobStatus, 'lastExitCode' | 'lastTerminatingSignal'>,
): number | undefined {
  if (s.lastExitCode !== undefined) return s.lastExitCode;
  if (s.lastTerminatingSignal !== undefined) return -signalNumber(s.lastTerminatingSignal);
  return undefined;
}

/** True while a respawn is held back by ThrottleInterval (launchd's "spawn scheduled"). */
export function isThrottled(s: Pick<JobStatus, 'subState'>): boolean {
  return s.subState === 'spawn-scheduled';
}
