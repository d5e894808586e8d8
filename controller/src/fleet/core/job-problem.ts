/**
 * Which fleet-level problem, if any, one job on one node is in. The agent reports a coarse
 * state string per label and, optionally, a detail with explicit marks. With a detail the
 * marks decide (the coarse `spawn_scheduled` also covers an ordinary spawn in progress, so it
 * alone does not mean "throttled"); without one, the state names are the fallback.
 */
import type { JobDetail } from '@launchfleet/shared/messages/index';

/** A problem the controller lists per node (the per-node metric series and `jobs health`). */
export type JobProblem =
  /** Respawns held back by ThrottleInterval (launchd "spawn scheduled"). */
  | 'throttled'
  /** Consecutive short or crashing runs. */
  | 'crash_looping'
  /** Could not be loaded or spawned (invalid plist, refused bundle, spawn failure). */
  | 'failed';

export const jobProblems: readonly JobProblem[] = ['throttled', 'crash_looping', 'failed'];

const throttledStates = new Set(['throttled', 'spawn_scheduled', 'spawn-scheduled']);
const crashStates = new Set(['crash_looping', 'crash-looping', 'crashlooping']);
const failedStates = new Set([
  'failed',
  'spawn_failed',
  'spawn-failed',
  'load_failed',
  'load-failed',
  'refused',
]);

/** The problem of a job (crash-looping first, then failed, then throttled), or undefined. */
export function jobProblem(state: string, detail: JobDetail | undefined): JobProblem | undefined {
  if (detail) {
    if (detail.crashLooping === true) return 'crash_looping';
    if (detail.loadFailed === true || failedStates.has(state)) return 'failed';
    if (detail.throttled === true) return 'throttled';
    return undefined;
  }
  if (crashStates.has(state)) return 'crash_looping';
  if (failedStates.has(state)) return 'failed';
  if (throttledStates.has(state)) return 'throttled';
  return undefined;
}
