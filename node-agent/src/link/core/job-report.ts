/**
 * What the fleet is told about one job (pure): its typed state (carried as the supervisor
 * reports it, never re-derived), the per-job detail of the status snapshot, the signature that
 * decides whether a change is worth an event, and the node's health.
 */
import { type JobStateReport, isThrottled } from '@launchfleet/shared/job';
import type { JobDetail, NodeHealth } from '@launchfleet/shared/messages';
import type { JobStatus } from '../../supervisor/job-status.ts';
import type { JobCondition, JobFacts } from './event-policy.ts';

/** The job's typed state as the fleet reads it: the status's own `{subState, active, result}`. */
export function jobState(s: JobStatus): JobStateReport {
  return { subState: s.subState, active: s.active, result: s.result };
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
    ...(s.disabled && { disabled: true }),
    ...(s.crashLooping !== undefined && { crashLooping: true, crashLoopingSince: s.crashLooping.since }),
    ...(reason !== undefined && { reason }),
    ...(s.pid !== undefined && { pid: s.pid }),
    ...(x.managedVersion !== undefined && { managedVersion: x.managedVersion }),
  };
}

/**
 * What decides a job's events (core/event-policy.ts): its condition (crash-looping before
 * throttled before a spawn failure before disabled; anything else is ok, running or not), its
 * managed version, its process and its last exit (`lastExitStatus`: launchctl's Status value).
 */
export function jobFacts(
  s: JobStatus,
  managedVersion: number | undefined,
  lastExitStatus: number | undefined,
): JobFacts {
  const condition: JobCondition =
    s.crashLooping !== undefined
      ? 'crash-looping'
      : s.throttledUntil !== undefined
        ? 'throttled'
        : s.spawnFailure !== undefined && s.pid === undefined
          ? 'spawn-failed'
          : s.disabled && s.pid === undefined
            ? 'disabled'
            : 'ok';
  return { condition, version: managedVersion, pid: s.pid, lastExit: lastExitStatus };
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

/**
 * The node's health from its jobs and its load failures: a crash loop or a load failure fails
 * it; a throttled job or one whose program did not spawn degrades it.
 */
export function nodeHealth(
  jobs: Readonly<Record<string, JobStateReport>>,
  details: Readonly<Record<string, JobDetail>>,
  loadFailures: number,
): NodeHealth {
  let degraded = false;
  for (const d of Object.values(details))
    if (d.crashLooping === true || d.loadFailed === true) return 'failing';
  if (loadFailures > 0) return 'failing';
  for (const j of Object.values(jobs)) if (isThrottled(j) || j.result === 'spawn-failed') degraded = true;
  return degraded ? 'degraded' : 'ok';
}
