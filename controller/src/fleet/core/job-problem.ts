/**
 * Which fleet-level problem, if any, one job on one node is in: read from its typed state
 * (shared/src/job/job-state.ts) and the marks of its detail. No state names are matched here:
 * the state is typed, and old agents' reports were translated when they were decoded
 * (shared/src/messages/legacy-job-state.ts).
 */
import { type JobStateReport, cannotStart, isThrottled } from '@launchfleet/shared/job';
import type { JobDetail } from '@launchfleet/shared/messages';

/** A problem the controller lists per node (the per-node metric series and `jobs health`). */
export type JobProblem =
  /** Respawns held back by ThrottleInterval (sub-state `spawn-scheduled`). */
  | 'throttled'
  /** Consecutive short or crashing runs. */
  | 'crash_looping'
  /** Could not be loaded or spawned (result `load-failed` or `spawn-failed`). */
  | 'failed';

export const jobProblems: readonly JobProblem[] = ['throttled', 'crash_looping', 'failed'];

/**
 * The problem of a job (crash-looping first, then failed, then throttled), or undefined. A run
 * that merely exited non-zero makes the job `active: failed` in the counts but is no problem
 * here: the next trigger may run it fine, and a job that keeps failing crash-loops.
 */
export function jobProblem(state: JobStateReport, detail: JobDetail | undefined): JobProblem | undefined {
  if (detail?.crashLooping === true) return 'crash_looping';
  if (detail?.loadFailed === true || cannotStart(state)) return 'failed';
  if (isThrottled(state)) return 'throttled';
  return undefined;
}
