/**
 * How a job's status and events become metric label values. The `state` label is the job's
 * active state and the exit `reason` its run's result, both from the one job-state vocabulary
 * (shared/src/job/job-state.ts), read as the supervisor reports them: nothing is re-derived here.
 */
import { type ActiveState, type ExitResult, isThrottled } from '@launchfleet/shared/job';
import type { JobRunnerEvent } from '../supervisor/job-runner-events.ts';
import { lastExitStatus, type JobStatus } from '../supervisor/job-status.ts';

export { isThrottled };

/** One value of the `state` label. */
export type JobStateValue = ActiveState;
/** One value of the `reason` label of `launchfleet_job_exits_total`. */
export type ExitReason = ExitResult;

/** The `state` label value of a job, or undefined for a removed job (it has no series). */
export function jobStateValue(s: Pick<JobStatus, 'subState' | 'active'>): JobStateValue | undefined {
  return s.subState === 'removed' ? undefined : s.active;
}

/** The `reason` label of one exit (see EXIT_REASON_VALUES). */
export function exitReason(e: Extract<JobRunnerEvent, { type: 'exited' }>): ExitReason {
  return e.result;
}

/** The last exit status: the code, or minus the signal number (job-status.ts has the one definition). */
export { lastExitStatus };
