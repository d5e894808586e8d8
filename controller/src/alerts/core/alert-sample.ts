/**
 * The alert evaluator's vocabulary: what it reads (a `FleetSample` of jobs, nodes and rollouts at
 * `now`) and what it says (`AlertInstance`s and their `firing` / `resolved` edges). The
 * evaluator, its reference oracle, the alert runtime, the alert records and the console share
 * these types; none of them needs the evaluator's state to speak of an alert.
 */
import type { AgentCounters } from '@launchfleet/shared/messages';
import type { JobProblem } from '../../fleet/core/job-problem.ts';
import type { AlertName, AlertSeverity } from './alert-rules.ts';

/** One job in a problem state on one node. */
export interface JobSample {
  readonly nodeId: string;
  readonly label: string;
  readonly domain: string;
  readonly problem: JobProblem;
  readonly successiveCrashes?: number | undefined;
  readonly lastExitStatus?: number | undefined;
}

/** One enrolled, unrevoked node. */
export interface NodeSample {
  readonly nodeId: string;
  readonly hostname: string;
  /** Wall ms of its last report; 0 = never seen (never "unseen": it has not started yet). */
  readonly lastSeen: number;
  /**
   * Treated as an immutable value: counters that changed come as a new object (the fleet index
   * replaces a node's status as a whole, fleet-index.ts `setStatus`). The evaluator compares it
   * by identity with the one it saw last to skip unchanged nodes.
   */
  readonly counters?: AgentCounters | undefined;
}

/** A rollout's state as the `launchfleet_rollout_state` gauge names it (rollout-metrics.ts). */
export type RolloutStateValue = 'running' | 'paused' | 'succeeded' | 'failed' | 'rolled_back' | 'aborted';

/** One stored rollout, as the rollout gauges export it. */
export interface RolloutSample {
  readonly rolloutId: string;
  readonly label: string;
  readonly domain: string;
  readonly state: RolloutStateValue;
  /** Wall ms of its last progress (`launchfleet_rollout_last_progress_timestamp_seconds` x 1000). */
  readonly lastProgressAt: number;
  /** Fraction of the target healthy on the new version (`launchfleet_rollout_progress_ratio`). */
  readonly progress: number;
  /** Why it ended as it did (failure, abort, manual rollback), when it says. */
  readonly outcome?: string | undefined;
}

/** What the evaluator looks at, at `now` (wall ms). */
export interface FleetSample {
  readonly now: number;
  readonly jobs: Iterable<JobSample>;
  readonly nodes: Iterable<NodeSample>;
  /** Every stored rollout; undefined when not known (rollout alerts then keep their state). */
  readonly rollouts?: Iterable<RolloutSample> | undefined;
}

/** An alert instance with the labels the Prometheus rule would give it. */
export interface AlertInstance {
  readonly name: AlertName;
  /**
   * Deterministic: `<name>.<nodeId>[.<label or reason token>]` (keys.alert); rollout alerts:
   * `<name>.<rolloutId>[.<state>]` (rollout ids are key-safe: `[A-Za-z0-9_-]{1,64}`).
   */
  readonly key: string;
  readonly severity: AlertSeverity;
  /** Node, job and counter alerts: the node. Rollout alerts have none. */
  readonly node?: string;
  /** Job and rollout alerts: the job's domain and label. */
  readonly domain?: string;
  readonly label?: string;
  /** Counter alerts: the counter's reason (signature refusals) or kind (drift). */
  readonly reason?: string;
  /** Rollout alerts: the rollout. */
  readonly rollout?: string;
  /** LaunchfleetRolloutFailed: the rollout's state (`failed` or `rolled_back`), a label of the rule. */
  readonly state?: RolloutStateValue;
  /** One line for people. */
  readonly summary: string;
}

/** An edge the evaluator saw. */
export type AlertTransition =
  /** The condition held for the hold-down time. */
  | {
      readonly type: 'firing';
      readonly alert: AlertInstance;
      readonly activeSince: number;
      readonly at: number;
    }
  /** A firing alert's condition no longer holds. */
  | {
      readonly type: 'resolved';
      readonly alert: AlertInstance;
      readonly activeSince: number;
      readonly at: number;
    };
