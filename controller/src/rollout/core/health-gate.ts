/**
 * The health gate (issue 7): is the new version healthy on a node, and has a step passed?
 * Pure predicates with reasons, in the manner of launchd's "KeepAlive check: ..." messages:
 * every verdict says why, because the rollout records it for people.
 */
import type { NodeObservation } from './node-observation.ts';
import { type HealthGate, type JobKind, failureThreshold } from './rollout-spec.ts';

/** A node's verdict against the gate. */
export type NodeVerdictKind =
  /** Not yet known: the node has not acknowledged or loaded the version, or not for long enough. */
  | 'pending'
  /** The new version has been up (or loaded and not failing) for minHealthySeconds, with no disqualifier. */
  | 'healthy'
  /** A disqualifier holds: failed state, spawn/load failure, throttled, crash-looping, or a crash in the window. */
  | 'unhealthy'
  /** The node is offline or was never observed: it is deferred, neither healthy nor unhealthy. */
  | 'offline';

/** A node verdict with the reason and, for `pending`, when the verdict may change by time alone. */
export interface NodeVerdict {
  readonly verdict: NodeVerdictKind;
  readonly reason: string;
  /** The instant a pending node becomes healthy if nothing else changes; null when unknown. */
  readonly recheckAt: number | null;
}

/** An ISO time for a reason string; never throws on a nonsense timestamp from a node. */
function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

const v = (verdict: NodeVerdictKind, reason: string, recheckAt: number | null = null): NodeVerdict => ({
  verdict,
  reason,
  recheckAt,
});

/**
 * Evaluates one node against the gate.
 * @param desiredVersion the version we set on the node.
 * @param updatedAt when we set it (or the node re-entered the rollout): the crash window starts here.
 * @param now the current time (ms).
 *
 * Order matters: offline first (we cannot judge), then expectations (a node that has not
 * acknowledged our write is "not yet seen", never "failed"), then disqualifiers, then time.
 * For `keep-alive` jobs the clock runs from the current process's start, so a restart resets it;
 * for `on-demand` and `timed` jobs it runs from the load of the version (they may have no process).
 * Throttled counts as unhealthy for every kind: issue 7 lists "not throttled" as a gate condition.
 */
export function evaluateNode(
  gate: HealthGate,
  jobKind: JobKind,
  obs: NodeObservation | null | undefined,
  desiredVersion: string,
  updatedAt: number,
  now: number,
): NodeVerdict {
  if (!obs) return v('offline', 'never observed');
  if (!obs.online) return v('offline', `offline (last seen ${iso(obs.lastSeenAt)})`);
  if (obs.acknowledgedVersion !== desiredVersion)
    return v(
      'pending',
      `has not acknowledged ${desiredVersion} (acknowledged ${obs.acknowledgedVersion ?? 'none'})`,
    );
  const job = obs.job;
  if (job?.loadFailed) return v('unhealthy', `load of ${desiredVersion} failed`);
  if (job?.spawnFailed) return v('unhealthy', 'spawn failed');
  if (obs.reportedVersion !== desiredVersion)
    return v('pending', `runs ${obs.reportedVersion ?? 'nothing'}, not yet ${desiredVersion}`);
  if (!job) return v('pending', 'no job status yet');
  if (job.crashLooping) return v('unhealthy', 'crash-looping');
  if (job.throttled) return v('unhealthy', 'throttled (exited too soon after start)');
  if (gate.requireNoCrashInWindow && job.lastCrashAt !== null && job.lastCrashAt >= updatedAt)
    return v('unhealthy', `crashed at ${iso(job.lastCrashAt)}, inside the window`);
  if (job.state === 'failed') return v('unhealthy', 'job failed');
  const minMs = gate.minHealthySeconds * 1000;
  if (jobKind === 'keep-alive') {
    if (job.state !== 'active' || job.runningSince === null)
      return v('pending', `not running (${job.state})`);
    const healthyAt = job.runningSince + minMs;
    return now >= healthyAt
      ? v('healthy', `running since ${iso(job.runningSince)}`)
      : v('pending', `running, healthy in ${healthyAt - now} ms`, healthyAt);
  }
  const since = job.loadedSince ?? updatedAt;
  const healthyAt = since + minMs;
  return now >= healthyAt
    ? v('healthy', `loaded and not failing since ${iso(since)}`)
    : v('pending', `loaded, healthy in ${healthyAt - now} ms`, healthyAt);
}

/** The outcome of a step's gate. */
export type StepResultKind =
  /** Every node of the step was updated and is healthy (or deferred offline); unhealthy below threshold. */
  | 'passed'
  /** The number of unhealthy nodes reached the failure threshold. */
  | 'failed'
  /** Still waiting, within the progress deadline. */
  | 'pending'
  /** No progress within progressDeadlineSeconds. */
  | 'deadline-exceeded';

/** Node counts of a step, by verdict. */
export interface StepCounts {
  readonly healthy: number;
  readonly pending: number;
  readonly unhealthy: number;
  readonly offline: number;
  /** Online nodes of the step not updated yet (waiting for maxUnavailable room). */
  readonly remaining: number;
}

/** The step verdict with counts, reason and the next instant worth re-evaluating. */
export interface StepVerdict {
  readonly result: StepResultKind;
  readonly counts: StepCounts;
  /** The unhealthy count that fails this step. */
  readonly threshold: number;
  readonly reason: string;
  /** When time alone may change the verdict (a node's healthy time, the deadline); null when finished. */
  readonly recheckAt: number | null;
}

/**
 * Evaluates a step's gate.
 * @param stepSize the number of nodes planned for the step (the base of a percentage maxUnhealthy).
 * @param verdicts the verdicts of the nodes updated in this step.
 * @param remaining online nodes of the step (or returned from earlier steps) not updated yet.
 * @param progressSince the step's start or its last progress (a node updated, turning healthy or back).
 */
export function evaluateStep(
  gate: HealthGate,
  stepSize: number,
  verdicts: readonly NodeVerdict[],
  remaining: number,
  progressSince: number,
  now: number,
): StepVerdict {
  const counts = { healthy: 0, pending: 0, unhealthy: 0, offline: 0, remaining };
  let recheckAt: number | null = null;
  const bad: string[] = [];
  for (const nv of verdicts) {
    counts[nv.verdict] += 1;
    if (nv.verdict === 'unhealthy' && bad.length < 3) bad.push(nv.reason);
    if (nv.recheckAt !== null)
      recheckAt = recheckAt === null ? nv.recheckAt : Math.min(recheckAt, nv.recheckAt);
  }
  const threshold = failureThreshold(gate, stepSize);
  const tally = `${counts.healthy} healthy, ${counts.pending} pending, ${counts.unhealthy} unhealthy, ${counts.offline} offline, ${remaining} to update`;
  if (counts.unhealthy >= threshold)
    return {
      result: 'failed',
      counts,
      threshold,
      reason: `${counts.unhealthy} unhealthy node(s) reached the threshold of ${threshold} (${bad.join('; ')})`,
      recheckAt: null,
    };
  if (counts.pending === 0 && remaining === 0)
    return { result: 'passed', counts, threshold, reason: tally, recheckAt: null };
  const deadline = progressSince + gate.progressDeadlineSeconds * 1000;
  if (now >= deadline)
    return {
      result: 'deadline-exceeded',
      counts,
      threshold,
      reason: `no progress for ${gate.progressDeadlineSeconds} s (${tally})`,
      recheckAt: null,
    };
  return {
    result: 'pending',
    counts,
    threshold,
    reason: tally,
    recheckAt: recheckAt === null ? deadline : Math.min(recheckAt, deadline),
  };
}
