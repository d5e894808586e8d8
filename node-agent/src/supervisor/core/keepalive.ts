/**
 * launchd's two central predicates, made pure: `jobKeepalive` ("should this job run now?") and
 * `jobUseless` ("should it be removed?"). launchd's own versions stat paths and query ports
 * inside the predicate; ours read an observed snapshot the runtime passes in
 * (docs/launchd-semantics.md §2.2, §2.4; core.c:6078-6245).
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { ImmediateReason, JobState, ObservedConditions } from './job-state.ts';

/** A predicate's answer with launchd's log line for it. */
export interface Verdict {
  readonly keep: boolean;
  /** Why, in launchd's words where it has them ("KeepAlive check: ..."). */
  readonly reason: string;
  /** The immediate reason a start would carry. */
  readonly because?: ImmediateReason;
}

/** A "good exit": WIFEXITED && status 0. Before the first exit the status is 0, so it is good (§2.2). */
export function goodExit(state: JobState): boolean {
  return state.lastExit === undefined || (state.lastExit.kind === 'code' && state.lastExit.code === 0);
}

/**
 * job_keepalive in launchd's exact order (§2.2), returning at the first match. One addition:
 * a disabled job (§2.6) is never kept alive ("KeepAlive is a no-op until re-enabled", E12); we
 * check it right after the domain-shutdown step.
 */
export function jobKeepalive(
  spec: JobSpec,
  state: JobState,
  observed: ObservedConditions = state.observed,
): Verdict {
  const ka = spec.keepAlive;
  // 1. The domain is shutting down.
  if (observed.domainShuttingDown)
    return { keep: false, reason: 'KeepAlive check: the domain is shutting down.' };
  if (state.disabled) return { keep: false, reason: 'KeepAlive check: the job is disabled.' };
  // 2. (Legacy boot-time on-demand mode: not modelled.)
  // 3. AfterInitialDemand, not yet demanded: before everything else, even start_pending.
  if (state.needsKickoff)
    return {
      keep: false,
      reason: 'KeepAlive check: job needs to be kicked off on-demand before KeepAlive sets in.',
    };
  // 4. Pent-up non-IPC launch criteria.
  if (state.startPending)
    return {
      keep: true,
      reason: 'KeepAlive check: Pent-up non-IPC launch criteria.',
      because: state.pendingReason ?? 'speculative',
    };
  // 5. KeepAlive=true / OnDemand=false.
  if (ka.always || state.keepAliveForced)
    return {
      keep: true,
      reason: 'KeepAlive check: job configured to run continuously.',
      because: 'inefficient',
    };
  // 6. MachServices with queued messages: no Mach on Linux.
  // 7. LaunchEvents in their wanted state; in 842 this covers QueueDirectories via fseventsd.
  if (spec.queueDirectories.length > 0 && observed.queueNonEmpty)
    return {
      keep: true,
      reason: 'KeepAlive check: a queue directory is not empty.',
      because: 'queue-directory',
    };
  // 8. Semaphores, in launchd's order.
  if (
    ka.networkState !== undefined &&
    observed.networkUp !== undefined &&
    observed.networkUp === ka.networkState
  )
    return {
      keep: true,
      reason: `KeepAlive check: network is ${ka.networkState ? 'up' : 'down'}.`,
      because: 'semaphore',
    };
  if (ka.successfulExit !== undefined && goodExit(state) === ka.successfulExit)
    return {
      keep: true,
      reason: `KeepAlive check: job ${ka.successfulExit ? 'exited successfully' : 'did not exit successfully'}.`,
      because: 'semaphore',
    };
  if (ka.crashed !== undefined && state.crashed === ka.crashed)
    return {
      keep: true,
      reason: `KeepAlive check: job ${ka.crashed ? 'crashed' : 'did not crash'}.`,
      because: 'semaphore',
    };
  for (const [label, wanted] of ka.otherJobEnabled)
    if ((observed.otherJobLoaded.get(label) ?? false) === wanted)
      return {
        keep: true,
        reason: `KeepAlive check: job ${label} is ${wanted ? 'loaded' : 'not loaded'}.`,
        because: 'semaphore',
      };
  for (const [label, wanted] of ka.otherJobActive)
    if ((observed.otherJobActive.get(label) ?? false) === wanted)
      return {
        keep: true,
        reason: `KeepAlive check: job ${label} is ${wanted ? 'active' : 'inactive'}.`,
        because: 'semaphore',
      };
  for (const [path, wanted] of ka.pathState) {
    const exists = observed.pathExists.get(path);
    if (exists !== undefined && exists === wanted)
      return {
        keep: true,
        reason: `KeepAlive check: path ${wanted ? 'exists' : 'is missing'}: ${path}`,
        because: 'semaphore',
      };
  }
  // 9. Nothing: back to waiting on demand.
  return { keep: false, reason: 'KeepAlive check: no reason to run; waiting on demand.' };
}

/** job_useless (§2.4): should the job be removed (instead of re-dispatched) now that it has no process? */
export function jobUseless(
  spec: JobSpec,
  state: JobState,
  observed: ObservedConditions = state.observed,
): { readonly useless: boolean; readonly reason: string } {
  if (spec.launchOnlyOnce && state.runs > 0)
    return { useless: true, reason: 'Exited. Was only configured to run once.' };
  if (state.removalPending) return { useless: true, reason: 'Removal pending.' };
  if (observed.domainShuttingDown)
    return { useless: true, reason: 'Exited while the domain is shutting down.' };
  return { useless: false, reason: 'The job stays loaded.' };
}
