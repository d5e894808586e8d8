/**
 * What the controller knows about one target node, as input to the rollout core. The runtime
 * builds it from the node's heartbeat/status in `lf_nodes` and the acknowledgement of the
 * desired state the controller wrote; the core never reads them itself. All times are
 * wall-clock milliseconds from the same clock as `now`. Every field is JSON-serialisable:
 * the machine keeps the latest observation per node in its persisted state.
 */
import type { ActiveState } from '@launchfleet/shared/job';
import type { Version } from './rollout-spec.ts';

/** The job's health facts on one node, from the agent's status for this label. */
export interface JobHealthFacts {
  /** The active state. `failed` means the last run ended badly (non-zero exit, crash, spawn failure) or the job did not load. */
  readonly state: ActiveState;
  /** When the current process started; null when no process runs. */
  readonly runningSince: number | null;
  /** When the reported version was loaded into its domain; null when unknown. */
  readonly loadedSince: number | null;
  /** The last crash (exit by a signal we did not send, or a non-zero exit); null if none recorded. */
  readonly lastCrashAt: number | null;
  /** launchd's throttle: a respawn is being held back because the job exited too soon. */
  readonly throttled: boolean;
  /** The supervisor flagged the job as crash-looping (many short runs in a row). */
  readonly crashLooping: boolean;
  /** The last spawn failed before exec (bad program path, missing user, ...). */
  readonly spawnFailed: boolean;
  /** The bundle was accepted but the job could not be loaded (bad plist, refused signature, ...). */
  readonly loadFailed: boolean;
}

/** One node's observed state, for the job being rolled out. */
export interface NodeObservation {
  readonly nodeId: string;
  /** The controller's liveness verdict (heartbeats recent enough). */
  readonly online: boolean;
  /** Last heartbeat or status seen; informational (reasons, events). */
  readonly lastSeenAt: number;
  /**
   * The desired version the node has acknowledged (it observed our write: its observed
   * revision). Expectations: a node that has not acknowledged what we set is "not yet seen",
   * never "seen and failed". Undefined-free: null when the node reports no desired version.
   */
  readonly acknowledgedVersion: Version;
  /** The version the node reports running (loaded) for the job; null when not installed. */
  readonly reportedVersion: Version;
  /** Health facts for the job; null when the node reports no status for it. */
  readonly job: JobHealthFacts | null;
}

/** Health facts of a job that is loaded and fine (a convenient base for callers and tests). */
export const quietJobFacts: JobHealthFacts = {
  state: 'inactive',
  runningSince: null,
  loadedSince: null,
  lastCrashAt: null,
  throttled: false,
  crashLooping: false,
  spawnFailed: false,
  loadFailed: false,
};
