/**
 * What the fleet is told about one job (pure): the supervisor's JobStatus translated to the
 * fleet's bounded coarse states (the `state` label values of the metric catalog), the
 * per-job detail of the status snapshot, the signature that decides whether a change is worth
 * an event, and the node's health.
 */
import type { JobDetail, NodeHealth } from '@launchfleet/shared/messages/node-messages';
import type { JobStatus } from '../../supervisor/job-status.ts';

/** The fleet's coarse job states (shared/src/metrics/catalog.ts `JOB_STATE_VALUES`). */
export type FleetJobState =
  'running' | 'waiting' | 'spawn_scheduled' | 'stopping' | 'spawn_failed' | 'disabled';

/** Maps the supervisor's sub-state (through its fields) to the fleet's coarse state. */
export function fleetJobState(s: JobStatus): FleetJobState {
  if (s.disabled && s.pid === undefined) return 'disabled';
  switch (s.subState) {
    case 'running':
      return 'running';
    case 'spawning':
    case 'spawn-scheduled':
      return 'spawn_scheduled';
    case 'stopping-term':
    case 'stopping-kill':
    case 'removal-pending':
    case 'removed':
      return 'stopping';
    case 'unloaded':
    case 'waiting':
    case 'exited':
      return s.jobState === 'spawn failed' ? 'spawn_failed' : 'waiting';
    default: {
      const never: never = s.subState;
      return never;
    }
  }
}

/** Extra facts the reporter knows about a job (from the reconciler). */
export interface JobExtras {
  /** launchctl list's Status column value: exit code or minus the signal number. */
  readonly lastExitStatus?: number;
  readonly managedVersion?: number;
}

/** The status snapshot's detail for one job. */
export function jobDetail(s: JobStatus, x: JobExtras): JobDetail {
  const reason =
    s.spawnFailure !== undefined
      ? `spawn-${s.spawnFailure.stage}:${s.spawnFailure.errno}`.slice(0, 64)
      : undefined;
  return {
    domain: s.domain,
    runs: s.runs,
    successiveCrashes: s.successiveCrashes,
    ...(x.lastExitStatus !== undefined && { lastExitStatus: x.lastExitStatus }),
    ...(s.throttledUntil !== undefined && { throttled: true }),
    ...(s.crashLooping !== undefined && { crashLooping: true, crashLoopingSince: s.crashLooping.since }),
    ...(reason !== undefined && { reason }),
    ...(s.pid !== undefined && { pid: s.pid }),
    ...(x.managedVersion !== undefined && { managedVersion: x.managedVersion }),
  };
}

/**
 * What makes a job state change worth an event: its coarse state, its process, whether it is
 * throttled or crash-looping. (Timers and history entries change constantly and are not events.)
 */
export function eventSignature(s: JobStatus): string {
  return [
    fleetJobState(s),
    s.pid ?? '-',
    s.throttledUntil !== undefined ? 'T' : '',
    s.crashLooping !== undefined ? 'C' : '',
    s.lastExitCode ?? s.lastTerminatingSignal ?? '',
  ].join('|');
}

/** A one-line human summary of a job status for an event's detail. */
export function eventDetail(s: JobStatus): string {
  const parts = [`${s.domain}/${s.label}: ${s.state}`];
  if (s.pid !== undefined) parts.push(`pid ${s.pid}`);
  if (s.lastExitCode !== undefined) parts.push(`last exit ${s.lastExitCode}`);
  if (s.lastTerminatingSignal !== undefined) parts.push(`last signal ${s.lastTerminatingSignal}`);
  if (s.throttledUntil !== undefined) parts.push('throttled');
  if (s.crashLooping !== undefined) parts.push(`crash-looping (${s.crashLooping.count} short runs)`);
  if (s.spawnFailure !== undefined) parts.push(`spawn failed: ${s.spawnFailure.message}`);
  return parts.join(', ');
}

/** The node's health from its jobs and its load failures. */
export function nodeHealth(details: Iterable<JobDetail>, loadFailures: number): NodeHealth {
  let degraded = false;
  for (const d of details) {
    if (d.crashLooping === true || d.loadFailed === true) return 'failing';
    if (d.throttled === true || d.reason !== undefined) degraded = true;
  }
  if (loadFailures > 0) return 'failing';
  return degraded ? 'degraded' : 'ok';
}
