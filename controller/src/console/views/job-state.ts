/**
 * How the console reads one job on one node: the state the node reports and the fleet index's
 * verdict on it (its problem). This is the only place the console touches a node's job
 * state; it never interprets the state's text itself (issue 15 replaces the coarse string with
 * a typed `{subState, active, result}`: this function is where the console follows it).
 */
import type { JobDetail } from '@launchfleet/shared/messages/index';
import type { FleetIndex, NodeView } from '../../fleet/core/fleet-index.ts';
import type { JobProblem } from '../../fleet/core/job-problem.ts';

export interface JobOnNode {
  /** The state as the node reports it (shown, never parsed). */
  readonly state: string;
  readonly problem: JobProblem | undefined;
  readonly detail: JobDetail | undefined;
  readonly version: string | undefined;
}

export function jobOnNode(ix: FleetIndex, n: NodeView, label: string): JobOnNode | undefined {
  const state = n.status?.jobs[label];
  if (state === undefined) return undefined;
  return {
    state,
    problem: ix.problemOf(n.nodeId, label),
    detail: n.status?.details?.[label],
    version: n.status?.versions[label],
  };
}

/** Problems ordered as the fleet index orders them: crash-looping, failed, throttled. */
export const problemRank: Readonly<Record<JobProblem, number>> = {
  crash_looping: 0,
  failed: 1,
  throttled: 2,
};
