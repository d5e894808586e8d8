/**
 * A compact JSON summary of the agent's metrics, for the fleet link to publish over NATS so the
 * controller can re-export the numbers with a `node` label. The same numbers as /metrics (the
 * exit counters are the ones the metrics count at each exit), in a bounded size: at most
 * `maxJobs` jobs, problem jobs first, so that a huge node still reports the jobs that alert.
 */
import type { ExitReason, JobStateValue } from './job-metric-values.ts';

/**
 * One job's numbers. To keep the message small, zeros and falses are left out: a missing count
 * is 0, a missing flag is false (a healthy idle job is just its domain, label and state).
 */
export interface JobMetricsSnapshot {
  /** `system`, `gui/<uid>`, `user/<uid>`. */
  readonly domain: string;
  readonly label: string;
  /** The job's active state (the `state` label). */
  readonly state: JobStateValue;
  readonly disabled?: true;
  /** Runs counted since the job was loaded (equals the sum of `exits`). */
  readonly runs?: number;
  /** Non-zero exit counts by reason. */
  readonly exits?: Readonly<Partial<Record<ExitReason, number>>>;
  readonly throttled?: true;
  readonly crashLooping?: true;
  readonly successiveCrashes?: number;
  /** As `launchctl list` shows it: the exit code, or minus the signal number; absent before the first exit. */
  readonly lastExitStatus?: number;
}

/** The agent-level numbers (`launchfleet_agent_*`). */
export interface AgentLevelSnapshot {
  readonly natsConnected: boolean;
  readonly desiredRevision: number;
  readonly signatureRefusals: Readonly<Record<string, number>>;
  readonly drift: Readonly<Record<string, number>>;
  /** Jobs loaded by domain kind (`system`, `gui`, `user`). */
  readonly jobsLoaded: Readonly<Record<string, number>>;
}

export interface AgentMetricsSnapshot {
  readonly jobs: readonly JobMetricsSnapshot[];
  /** Jobs left out because there were more than `maxJobs` (healthy ones go first). */
  readonly omittedJobs: number;
  /** Labels whose plist could not be loaded (the `launchfleet_job_load_failed` series). */
  readonly loadFailed: readonly { readonly domain: string; readonly label: string }[];
  readonly agent: AgentLevelSnapshot;
}

/** Default bound: the node status message accepts at most 2000 jobs. */
export const DEFAULT_SNAPSHOT_MAX_JOBS = 2000;

/** Lower sorts first: the jobs the controller alerts on survive truncation. */
function urgency(j: JobMetricsSnapshot): number {
  if (j.crashLooping === true) return 0;
  if (j.state === 'failed') return 1;
  if (j.throttled === true) return 2;
  return 3;
}

/** Builds the bounded snapshot from per-job numbers (in any order) and the agent numbers. */
export function buildSnapshot(
  jobs: readonly JobMetricsSnapshot[],
  loadFailed: readonly { readonly domain: string; readonly label: string }[],
  agent: AgentLevelSnapshot,
  maxJobs = DEFAULT_SNAPSHOT_MAX_JOBS,
): AgentMetricsSnapshot {
  const limit = Math.max(0, Math.floor(maxJobs));
  const sorted = [...jobs].sort(
    (a, b) =>
      urgency(a) - urgency(b) ||
      a.domain.localeCompare(b.domain) ||
      (a.label < b.label ? -1 : a.label > b.label ? 1 : 0),
  );
  return {
    jobs: sorted.slice(0, limit),
    omittedJobs: Math.max(0, sorted.length - limit),
    loadFailed: loadFailed.slice(0, limit),
    agent,
  };
}
