/**
 * How the console reads one job on one node: the typed state the node reports
 * (`{subState, active, result}`, docs/job-states.md) and the fleet index's verdict on it (its
 * problem). The console shows the three words as they are and colours them by the index's
 * problem or the typed active state; it never derives a state from text.
 */
import type { ActiveState, JobStateReport } from '@launchfleet/shared/job';
import type { JobDetail } from '@launchfleet/shared/messages';
import type { FleetIndex, NodeView } from '../../fleet/core/fleet-index.ts';
import type { JobProblem } from '../../fleet/core/job-problem.ts';

export interface JobOnNode {
  readonly state: JobStateReport;
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

/** How each active state is coloured when the job has no fleet problem. */
export const activeTone: Readonly<Record<ActiveState, 'ok' | 'warn' | 'bad' | 'info' | 'muted'>> = {
  active: 'ok',
  activating: 'info',
  deactivating: 'info',
  inactive: 'muted',
  failed: 'warn',
};
