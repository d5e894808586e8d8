/**
 * The one list of Prometheus metric names Launchfleet exports, with their type, help and label
 * names. The agent's /metrics, the controller's fleet-wide /metrics, the alert rules in deploy/
 * and the dashboards all use these names, so nothing else spells them.
 *
 * Conventions (Prometheus naming): `launchfleet_` prefix, base units in the name (`_seconds`),
 * `_total` for counters, bounded label sets. A job's identity is `domain` (system, gui/<uid>,
 * user/<uid>) plus `label`. The controller adds `node` to agent series.
 *
 * Series budget at 10,000 nodes: the controller does not re-export every job series of every
 * node. It exports per-job fleet counts (`launchfleet_fleet_jobs`, a handful of states per
 * label) and per-node series only for jobs in a problem state (throttled, crash-looping, failed
 * to load or spawn), which are few in a healthy fleet. Agents expose full detail locally.
 */

import { ACTIVE_STATES, EXIT_RESULTS } from '../job/job-state.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
}

const def = (name: string, type: MetricType, help: string, labels: readonly string[]): MetricDef => ({
  name,
  type,
  help,
  labels,
});

/**
 * The `state` label values: a job's active state (shared/src/job/job-state.ts, systemd's
 * ActiveState, as node_exporter's systemd collector exports units). Bounded: five values.
 */
export const JOB_STATE_VALUES = ACTIVE_STATES;

/** The `reason` label values of the exit counter: how each run ended (the job-state `result`). */
export const EXIT_REASON_VALUES = EXIT_RESULTS;

/** Metrics the agent exposes for each loaded job. */
export const jobMetrics = {
  state: def(
    'launchfleet_job_state',
    'gauge',
    'Active state of the job (active, inactive, activating, deactivating, failed): 1 for the state it is in, 0 for the others.',
    ['domain', 'label', 'state'],
  ),
  runs: def(
    'launchfleet_job_runs_total',
    'counter',
    'Processes of the job that have exited (launchd "runs").',
    ['domain', 'label'],
  ),
  exits: def(
    'launchfleet_job_exits_total',
    'counter',
    'Job runs that ended, by result (success, exit-code, signal, crash, stopped, spawn-failed).',
    ['domain', 'label', 'reason'],
  ),
  throttled: def(
    'launchfleet_job_throttled',
    'gauge',
    '1 while a respawn is held back by ThrottleInterval (launchd "spawn scheduled").',
    ['domain', 'label'],
  ),
  crashLooping: def(
    'launchfleet_job_crash_looping',
    'gauge',
    '1 while the job is crash-looping (consecutive short or crashing runs).',
    ['domain', 'label'],
  ),
  successiveCrashes: def(
    'launchfleet_job_successive_crashes',
    'gauge',
    'Consecutive runs that ended too soon or crashed, reset by a healthy run.',
    ['domain', 'label'],
  ),
  lastExitStatus: def(
    'launchfleet_job_last_exit_status',
    'gauge',
    'Last exit status as launchctl list shows it: the exit code, or minus the signal number.',
    ['domain', 'label'],
  ),
  spawnDuration: def(
    'launchfleet_job_spawn_duration_seconds',
    'gauge',
    'Time from the spawn decision to the exec of the last spawn of the job.',
    ['domain', 'label'],
  ),
  socketActivations: def(
    'launchfleet_job_socket_activations_total',
    'counter',
    'Starts of the job caused by a pending connection or datagram on one of its sockets.',
    ['domain', 'label'],
  ),
  timerLag: def(
    'launchfleet_job_timer_lag_seconds',
    'gauge',
    'How late the last StartInterval or StartCalendarInterval firing ran compared to its schedule.',
    ['domain', 'label'],
  ),
  disabled: def(
    'launchfleet_job_disabled',
    'gauge',
    '1 while the job is disabled in the override database (launchctl disable).',
    ['domain', 'label'],
  ),
  loadFailed: def(
    'launchfleet_job_load_failed',
    'gauge',
    '1 when a plist for this label could not be loaded (invalid, bad permissions, refused bundle).',
    ['domain', 'label'],
  ),
} as const;

/** Metrics about the agent itself. */
export const agentMetrics = {
  info: def(
    'launchfleet_agent_info',
    'gauge',
    "Always 1. node: the id the controller knows this agent by (its hostname before enrolment or without a controller); the alert rules join the agent's own series to their node through it.",
    ['node', 'hostname', 'version'],
  ),
  natsConnected: def(
    'launchfleet_agent_nats_connected',
    'gauge',
    '1 while the agent is connected to NATS.',
    [],
  ),
  sessionChanges: def(
    'launchfleet_agent_nats_session_changes_total',
    'counter',
    "How the agent's NATS session changed, by kind: connect (a session made after none, at start or after an outage), moved_lame_duck and moved_home (to another server without a gap: its server entered lame-duck mode, or back to its home server), move_failed (an attempt to move that failed; the session stayed, and a lame-duck move is tried again).",
    ['kind'],
  ),
  credentialsExpiry: def(
    'launchfleet_agent_credentials_expiry_timestamp_seconds',
    'gauge',
    "When the node's NATS credentials expire (Unix seconds; 0 when they never expire or cannot be read).",
    [],
  ),
  credentialsExpired: def(
    'launchfleet_agent_credentials_expired',
    'gauge',
    "1 while the node's NATS credentials are expired: no server accepts it until it re-enrols with a new bootstrap token.",
    [],
  ),
  credentialRenewals: def(
    'launchfleet_agent_credential_renewals_total',
    'counter',
    'NATS credentials renewed by this agent since it started.',
    [],
  ),
  desiredRevision: def(
    'launchfleet_agent_desired_state_revision',
    'gauge',
    'Highest desired-state revision the agent has applied.',
    [],
  ),
  signatureRefusals: def(
    'launchfleet_agent_signature_refusals_total',
    'counter',
    'Job bundles refused by signature checks, by reason.',
    ['reason'],
  ),
  drift: def('launchfleet_agent_drift_total', 'counter', 'Drift of managed jobs detected and repaired.', [
    'kind',
  ]),
  jobsLoaded: def('launchfleet_agent_jobs_loaded', 'gauge', 'Jobs loaded, by domain kind.', ['domain_kind']),
  spawnSeconds: def(
    'launchfleet_agent_spawn_seconds',
    'histogram',
    'Supervisor spawn latency: from the decision to spawn to the exec of the program.',
    [],
  ),
} as const;

/** Metrics the controller exposes about the fleet and itself. */
export const controllerMetrics = {
  nodes: def('launchfleet_nodes', 'gauge', 'Enrolled nodes by presence.', ['presence']),
  nodesOtherSigner: def(
    'launchfleet_nodes_credentials_other_signer',
    'gauge',
    'Enrolled, unrevoked nodes whose NATS credentials another key signed than the one signing node credentials now, by state: renewable, expired, unrenewable.',
    ['state'],
  ),
  nodeLastSeen: def(
    'launchfleet_node_last_seen_timestamp_seconds',
    'gauge',
    'Unix time of the last heartbeat from the node.',
    ['node'],
  ),
  fleetJobs: def(
    'launchfleet_fleet_jobs',
    'gauge',
    'Nodes on which the job is in each active state (stale reports of offline nodes included).',
    ['label', 'state'],
  ),
  rolloutState: def(
    'launchfleet_rollout_state',
    'gauge',
    '1 for the current state of each rollout (running, paused, succeeded, failed, rolled_back, aborted).',
    ['rollout', 'label', 'state'],
  ),
  rolloutProgress: def(
    'launchfleet_rollout_progress_ratio',
    'gauge',
    'Fraction of the rollout target that runs the new version and passed its health gate.',
    ['rollout', 'label'],
  ),
  rolloutLastProgress: def(
    'launchfleet_rollout_last_progress_timestamp_seconds',
    'gauge',
    'Unix time at which the rollout last advanced a node or a step.',
    ['rollout', 'label'],
  ),
  apiSeconds: def(
    'launchfleet_api_request_duration_seconds',
    'histogram',
    'gRPC API latency by method and status code.',
    ['method', 'code'],
  ),
  healthQuerySeconds: def(
    'launchfleet_health_query_duration_seconds',
    'histogram',
    'Latency of fleet-wide health queries answered from aggregated state.',
    [],
  ),
  alerts: def('launchfleet_alert_events_total', 'counter', 'Alert events emitted on NATS and gRPC.', [
    'alert',
  ]),
} as const;
