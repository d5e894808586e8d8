/**
 * What a node publishes: status (KV `lf_nodes`, key `<nodeId>.status`), heartbeats
 * (`lf.hb.<nodeId>`) and events (stream `LF_EVENTS`, `lf.events.<nodeId>.<kind>`).
 * Over 400 lines because each message's type and its decoder (every field checked, old agents'
 * spellings read: legacy-job-state.ts) stand together, so a field added to one is seen in the
 * other.
 */
import type { Result } from '../errors.ts';
import {
  type JobStateReport,
  LOAD_FAILED,
  isActiveState,
  isJobResult,
  isJobSubState,
  jobStateReport,
} from '../job/job-state.ts';
import { FieldReader, type MessageError, decodeEnvelope, encodeEnvelope, isRecord } from './envelope.ts';
import { isLegacyJobState, legacyJobState } from './legacy-job-state.ts';
import { nodeIdPattern } from './tokens.ts';

export const nodeKinds = { status: 'node.status', heartbeat: 'node.heartbeat', event: 'node.event' } as const;

/** Coarse node health the controller aggregates. */
export type NodeHealth = 'ok' | 'degraded' | 'failing';

/** A node's own summary, kept current in `lf_nodes`. */
export interface NodeStatus {
  readonly nodeId: string;
  readonly health: NodeHealth;
  /**
   * label -> the job's typed state (shared/src/job/job-state.ts). Bounded. Agents from before
   * the typed vocabulary sent a coarse string here; the decoder reads those too
   * (legacy-job-state.ts), so readers only ever see the typed form.
   */
  readonly jobs: Record<string, JobStateReport>;
  /** label -> bundle version the node runs. Bounded. */
  readonly versions: Record<string, string>;
  /**
   * Optional (additive): label -> what the controller needs to explain a job fleet-wide (the
   * domain, the last exit status, throttle / crash-loop / load-failure marks). Agents should
   * send it at least for jobs in a problem state; readers treat a missing entry as "no detail".
   */
  readonly details?: Record<string, JobDetail>;
  /**
   * Optional (additive): cumulative agent counters the controller re-exports per node
   * (`launchfleet_agent_signature_refusals_total{reason}`, `launchfleet_agent_drift_total{kind}`).
   */
  readonly counters?: AgentCounters;
  /** Optional (additive, agent link): the agent's software version. */
  readonly agentVersion?: string;
  /** Optional (additive): the live domains (`system`, `gui/501`, ...). Bounded. */
  readonly domains?: readonly string[];
  /** Optional (additive): users with a live per-user domain (logged in). Bounded. */
  readonly users?: readonly string[];
  /** Optional (additive): the highest `lf_desired` revision the node has applied. */
  readonly desiredRevision?: number;
  /**
   * Optional (additive): the jobs the agent's reconciler is retrying (a failure worth retrying:
   * an I/O error, a domain tearing down), with why and when it tries next. Bounded
   * (`maxRetryingJobs`). Readers from before this field ignore it (unknown fields are skipped).
   */
  readonly retrying?: readonly RetryingJob[];
}

/** A job the agent's reconciler is retrying, each after its own backoff. */
export interface RetryingJob {
  /** The job's domain: `system`, `gui/<uid>` or `user/<uid>`. */
  readonly domain: string;
  readonly label: string;
  /** Consecutive backed-off failures (0 when the reconciler chose the wait itself). */
  readonly failures: number;
  /** Why it was not done (short: a launchd code, an I/O error). At most 128 characters. */
  readonly why: string;
  /** Wall ms of the next attempt; absent while it is being tried. */
  readonly nextAttemptAt?: number;
}

/** At most this many retrying jobs in one status. */
export const maxRetryingJobs = 256;

/** Per-job detail in a node status (all optional except the domain). */
export interface JobDetail {
  /** The job's domain: `system`, `gui/<uid>` or `user/<uid>`. */
  readonly domain: string;
  /** Last exit status as `launchctl list` prints it: the exit code, or minus the signal number. */
  readonly lastExitStatus?: number;
  /** Consecutive runs that ended too soon or crashed (reset by a healthy run). */
  readonly successiveCrashes?: number;
  /**
   * Old agents only: true while a respawn was held back by ThrottleInterval. The typed state says
   * it now (`subState: 'spawn-scheduled'`); the decoder uses this to read old reports.
   */
  readonly throttled?: boolean;
  /** True while the job is crash-looping. */
  readonly crashLooping?: boolean;
  /** True when the plist/bundle for this label could not be loaded. */
  readonly loadFailed?: boolean;
  /** Processes of the job that have exited (launchd "runs"). */
  readonly runs?: number;
  /** Short machine-readable why (a refusal reason, a spawn error code). */
  readonly reason?: string;
  /** Optional (additive): the pid while a process runs. */
  readonly pid?: number;
  /** Optional (additive): wall ms since which the job is crash-looping. */
  readonly crashLoopingSince?: number;
  /** Optional (additive): the bundle version when the job is managed by the fleet. */
  readonly managedVersion?: number;
  /** Optional (additive): the override database says disabled (launchctl disable). */
  readonly disabled?: boolean;
}

/** Cumulative counters of the agent, by reason / kind (bounded maps). */
export interface AgentCounters {
  readonly signatureRefusals?: Record<string, number>;
  readonly drift?: Record<string, number>;
}

/** A heartbeat: tiny, frequent. */
export interface Heartbeat {
  readonly nodeId: string;
  readonly seq: number;
  readonly health: NodeHealth;
  /** Optional (additive): the node's heartbeat period, so the controller can check it. */
  readonly intervalMs?: number;
}

/**
 * An event a node (or the controller, source `controller`) raises. Kinds:
 * - `bundle-accepted`: a verified bundle became desired state on the node.
 * - `bundle-refused`: a bundle failed verification; `reason` is a `RefusalReason`.
 * - `trust-updated` / `trust-refused`: a trust store update was applied / refused.
 * - `message-refused`: a malformed or oversized message arrived on a subject the node listens to.
 * - `enroll-refused`: (controller) an enrolment was refused.
 * - `control-error`: (controller) a control-plane task failed (e.g. re-pushing revocations).
 * - `credentials-renewed` / `renewal-refused`: (controller) a node's credentials were renewed /
 *   a renewal request was refused; `reason` is the refusal (`RenewRefusal`), `detail` names the
 *   node.
 * - `revocations-pruned`: (controller) revoked keys whose credentials have all expired were
 *   dropped from the fleet account's revocations; `detail` lists them.
 * - `job-state`: a job's condition changed: it appeared, entered or left throttle or crash-loop,
 *   failed to spawn, was disabled, or runs a new managed version (not sent when the version's
 *   `job-loaded` carries the state instead; sent a second after the change,
 *   with the state then; at most 20 at once and one per 3 s per node after that:
 *   node-agent/src/link/core/event-policy.ts); `jobState` is its typed state, `reason` its
 *   sub-state, `domain` the job's domain.
 * - `job-activity` (additive): what a job did that was not a transition (runs, exits, failed
 *   exits), folded into one summary per job per minute (`counts`); `reason` is its condition. At
 *   most 20 per node per minute; one without a label counts the rest.
 * - `job-loaded` / `job-unloaded`: the agent loaded / unloaded a managed job (desired state);
 *   `job-loaded`'s `reason` is `loaded`, `updated` (a new plist replaced the running job) or
 *   `unchanged` (a new version with the same plist, e.g. re-signed by a new job-signing key:
 *   taken as the running version, the process left alone). Additive: a `job-loaded` carries the
 *   state the job settled in a second later (`jobState`, as a `job-state` event would), and then
 *   no `job-state` event is sent for that version; an older agent sends both.
 * - `load-failed`: a verified bundle could not be loaded (invalid plist, label conflict, ...).
 * - `drift`: a managed job drifted and was repaired; `reason` is `plist-changed`, `job-unloaded`
 *   or `job-disabled`.
 * - `rollout`: (controller) a rollout happened (additive, issue 7); `reason` is the rollout
 *   event kind (`step-started`, `rolled-back`, ...), `detail` says what and why, `label` the job.
 * - `alert-firing` / `alert-resolved`: (controller, additive) an alert started / stopped firing;
 *   `reason` is the alert name (`LaunchfleetJobCrashLooping`, ...), `label` the job (job alerts),
 *   `domain` its domain, `detail` starts with `id=<alert id> node=<node id>` (rollout alerts:
 *   `id=<alert id> rollout=<rollout id> state=<state>`) and then says why.
 */
export type NodeEventKind =
  | 'bundle-accepted'
  | 'bundle-refused'
  | 'trust-updated'
  | 'trust-refused'
  | 'message-refused'
  | 'enroll-refused'
  | 'control-error'
  | 'credentials-renewed'
  | 'renewal-refused'
  | 'revocations-pruned'
  | 'job-state'
  | 'job-activity'
  | 'job-loaded'
  | 'job-unloaded'
  | 'load-failed'
  | 'drift'
  | 'rollout'
  | 'alert-firing'
  | 'alert-resolved';

export const nodeEventKinds: readonly NodeEventKind[] = [
  'bundle-accepted',
  'bundle-refused',
  'trust-updated',
  'trust-refused',
  'message-refused',
  'enroll-refused',
  'control-error',
  'credentials-renewed',
  'renewal-refused',
  'revocations-pruned',
  'job-state',
  'job-activity',
  'job-loaded',
  'job-unloaded',
  'load-failed',
  'drift',
  'rollout',
  'alert-firing',
  'alert-resolved',
];

export interface NodeEvent {
  readonly source: string;
  readonly kind: NodeEventKind;
  /** The job label concerned, when there is one. */
  readonly label?: string;
  /** Machine-readable reason (a refusal reason, an error code). */
  readonly reason?: string;
  /** Human-readable detail, bounded. */
  readonly detail?: string;
  readonly version?: number;
  /** Optional (additive): the job's domain (`system`, `gui/501`, ...) for job events. */
  readonly domain?: string;
  /**
   * `job-state` events: the job's typed state (read from `reason` for events of old agents);
   * `job-loaded` events (additive): the state the job settled in after the load.
   */
  readonly jobState?: JobStateReport;
  /** `job-activity` (additive): what the job did over the summary window. */
  readonly counts?: JobActivityCounts;
}

/** Runs, exits and failed exits of a job over a summary window (`windowMs`). */
export interface JobActivityCounts {
  readonly runs: number;
  readonly exits: number;
  readonly failed: number;
  readonly windowMs: number;
}

const healths: readonly NodeHealth[] = ['ok', 'degraded', 'failing'];
const sourcePattern = new RegExp(`${nodeIdPattern.source}|^controller$`);

export function encodeNodeStatus(s: NodeStatus, ts: number): Uint8Array {
  return encodeEnvelope(nodeKinds.status, ts, s);
}

export function decodeNodeStatus(data: Uint8Array | string): Result<NodeStatus, MessageError> {
  const env = decodeEnvelope(data, nodeKinds.status, 256 * 1024);
  if (!env.ok) return env;
  const f = new FieldReader(env.value.body);
  const nodeId = f.string('nodeId', 21, nodeIdPattern);
  const health = f.oneOf('health', healths);
  const versions = f.stringMap('versions', 2000, 255);
  const details = readDetails(f.raw('details'), f.problems);
  const jobs = readJobs(f.raw('jobs'), details, f.problems);
  const counters = readCounters(f.raw('counters'), f.problems);
  const agentVersion = f.optString('agentVersion', 64);
  const domains = readStringList(f.raw('domains'), 'domains', 256, 32, f.problems);
  const users = readStringList(f.raw('users'), 'users', 256, 64, f.problems);
  const desiredRevision = f.optInt('desiredRevision', 0, Number.MAX_SAFE_INTEGER);
  const retrying = readRetrying(f.raw('retrying'), f.problems);
  return f.done({
    nodeId,
    health,
    jobs,
    versions,
    ...(details !== undefined && { details }),
    ...(counters !== undefined && { counters }),
    ...(agentVersion !== undefined && { agentVersion }),
    ...(domains !== undefined && { domains }),
    ...(users !== undefined && { users }),
    ...(desiredRevision !== undefined && { desiredRevision }),
    ...(retrying !== undefined && { retrying }),
  });
}

function readRetrying(v: unknown, problems: string[]): RetryingJob[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > maxRetryingJobs) {
    problems.push(`body.retrying must be a list of at most ${maxRetryingJobs} jobs`);
    return undefined;
  }
  const out: RetryingJob[] = [];
  for (const [i, j] of v.entries()) {
    const r = new FieldReader(j, `body.retrying[${i}]`);
    const domain = r.string('domain', 32);
    const label = r.string('label', 255);
    const failures = r.int('failures', 0, Number.MAX_SAFE_INTEGER);
    const why = r.string('why', 128);
    const nextAttemptAt = r.optInt('nextAttemptAt', 0, Number.MAX_SAFE_INTEGER);
    if (r.problems.length > 0) {
      problems.push(...r.problems);
      return undefined;
    }
    out.push({ domain, label, failures, why, ...(nextAttemptAt !== undefined && { nextAttemptAt }) });
  }
  return out;
}

function readStringList(
  v: unknown,
  name: string,
  maxEntries: number,
  maxLen: number,
  problems: string[],
): string[] | undefined {
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) ||
    v.length > maxEntries ||
    !v.every((x) => typeof x === 'string' && x.length <= maxLen)
  ) {
    problems.push(`body.${name} must be at most ${maxEntries} strings of at most ${maxLen} characters`);
    return undefined;
  }
  return v as string[];
}

/** The typed state of one job: `{subState, active, result}`, consistent with the translation table. */
export function readJobState(v: unknown, path: string, problems: string[]): JobStateReport | undefined {
  if (!isRecord(v)) {
    problems.push(`${path} must be an object {subState, active, result}`);
    return undefined;
  }
  const { subState, active, result } = v;
  if (!isJobSubState(subState) || !isActiveState(active) || !isJobResult(result)) {
    problems.push(`${path} must name a known subState, active state and result`);
    return undefined;
  }
  const s = jobStateReport(subState, result);
  if (s.active !== active) {
    problems.push(`${path}.active must be ${s.active} for ${subState} (${result})`);
    return undefined;
  }
  return s;
}

/** `jobs`: typed states, or an old agent's coarse strings read with their details. */
function readJobs(
  v: unknown,
  details: Record<string, JobDetail> | undefined,
  problems: string[],
): Record<string, JobStateReport> {
  if (v === undefined) return {};
  if (!isRecord(v)) {
    problems.push('body.jobs must be an object');
    return {};
  }
  const entries = Object.entries(v);
  if (entries.length > 2000) {
    problems.push('body.jobs must have at most 2000 entries');
    return {};
  }
  const out: Record<string, JobStateReport> = {};
  for (const [label, j] of entries) {
    if (label.length > 255) {
      problems.push('body.jobs keys must be labels of at most 255 characters');
      return {};
    }
    const path = `body.jobs[${JSON.stringify(label.slice(0, 64))}]`;
    if (typeof j === 'string') {
      if (!isLegacyJobState(j)) {
        problems.push(`${path} is not a job state`);
        return {};
      }
      out[label] = legacyJobState(j, details?.[label]);
      continue;
    }
    const s = readJobState(j, path, problems);
    if (!s) return {};
    out[label] = s;
  }
  // A label that failed to load has no machine; old agents reported it in the details only.
  for (const [label, d] of Object.entries(details ?? {}))
    if (d.loadFailed === true && !Object.hasOwn(out, label)) out[label] = LOAD_FAILED;
  return out;
}

function readDetails(v: unknown, problems: string[]): Record<string, JobDetail> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) {
    problems.push('body.details must be an object');
    return undefined;
  }
  const entries = Object.entries(v);
  if (entries.length > 2000) {
    problems.push('body.details must have at most 2000 entries');
    return undefined;
  }
  const out: Record<string, JobDetail> = {};
  for (const [label, d] of entries) {
    if (label.length > 255) {
      problems.push('body.details keys must be labels of at most 255 characters');
      return undefined;
    }
    const r = new FieldReader(d, `body.details[${JSON.stringify(label.slice(0, 64))}]`);
    const domain = r.string('domain', 32);
    const lastExitStatus = r.optInt('lastExitStatus', -1024, 1 << 30);
    const successiveCrashes = r.optInt('successiveCrashes', 0, Number.MAX_SAFE_INTEGER);
    const runs = r.optInt('runs', 0, Number.MAX_SAFE_INTEGER);
    const throttled = optBool(r, d, 'throttled');
    const crashLooping = optBool(r, d, 'crashLooping');
    const loadFailed = optBool(r, d, 'loadFailed');
    const reason = r.optString('reason', 64);
    const pid = r.optInt('pid', 1, 0x7fffffff);
    const crashLoopingSince = r.optInt('crashLoopingSince', 0, Number.MAX_SAFE_INTEGER);
    const managedVersion = r.optInt('managedVersion', 1, Number.MAX_SAFE_INTEGER);
    const disabled = optBool(r, d, 'disabled');
    if (r.problems.length > 0) {
      problems.push(...r.problems);
      return undefined;
    }
    out[label] = {
      domain,
      ...(lastExitStatus !== undefined && { lastExitStatus }),
      ...(successiveCrashes !== undefined && { successiveCrashes }),
      ...(runs !== undefined && { runs }),
      ...(throttled !== undefined && { throttled }),
      ...(crashLooping !== undefined && { crashLooping }),
      ...(loadFailed !== undefined && { loadFailed }),
      ...(reason !== undefined && { reason }),
      ...(pid !== undefined && { pid }),
      ...(crashLoopingSince !== undefined && { crashLoopingSince }),
      ...(managedVersion !== undefined && { managedVersion }),
      ...(disabled !== undefined && { disabled }),
    };
  }
  return out;
}

function optBool(r: FieldReader, o: unknown, name: string): boolean | undefined {
  return isRecord(o) && o[name] !== undefined ? r.bool(name) : undefined;
}

function readCounters(v: unknown, problems: string[]): AgentCounters | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) {
    problems.push('body.counters must be an object');
    return undefined;
  }
  const out: { signatureRefusals?: Record<string, number>; drift?: Record<string, number> } = {};
  for (const name of ['signatureRefusals', 'drift'] as const) {
    const m = v[name];
    if (m === undefined) continue;
    if (!isRecord(m) || Object.keys(m).length > 32) {
      problems.push(`body.counters.${name} must be an object of at most 32 counters`);
      return undefined;
    }
    const counts: Record<string, number> = {};
    for (const [k, n] of Object.entries(m)) {
      if (k.length > 64 || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        problems.push(`body.counters.${name} must map short names to counts`);
        return undefined;
      }
      counts[k] = n;
    }
    out[name] = counts;
  }
  return out;
}

export function encodeHeartbeat(h: Heartbeat, ts: number): Uint8Array {
  return encodeEnvelope(nodeKinds.heartbeat, ts, h);
}

export function decodeHeartbeat(data: Uint8Array | string): Result<Heartbeat, MessageError> {
  const env = decodeEnvelope(data, nodeKinds.heartbeat, 4 * 1024);
  if (!env.ok) return env;
  const f = new FieldReader(env.value.body);
  const nodeId = f.string('nodeId', 21, nodeIdPattern);
  const seq = f.int('seq', 0, Number.MAX_SAFE_INTEGER);
  const health = f.oneOf('health', healths);
  const intervalMs = f.optInt('intervalMs', 1, 86_400_000);
  return f.done({ nodeId, seq, health, ...(intervalMs !== undefined && { intervalMs }) });
}

export function encodeNodeEvent(e: NodeEvent, ts: number): Uint8Array {
  return encodeEnvelope(nodeKinds.event, ts, e);
}

export function decodeNodeEvent(data: Uint8Array | string): Result<NodeEvent, MessageError> {
  const env = decodeEnvelope(data, nodeKinds.event, 64 * 1024);
  if (!env.ok) return env;
  const f = new FieldReader(env.value.body);
  const source = f.string('source', 21, sourcePattern);
  const kind = f.oneOf('kind', nodeEventKinds);
  const label = f.optString('label', 255);
  const reason = f.optString('reason', 64);
  const detail = f.optString('detail', 4096);
  const version = f.optInt('version', 0, Number.MAX_SAFE_INTEGER);
  const domain = f.optString('domain', 32);
  const jobState =
    kind === 'job-state'
      ? readEventJobState(f.raw('jobState'), reason, f.problems)
      : kind === 'job-loaded'
        ? optJobState(f.raw('jobState'), f.problems)
        : undefined;
  const counts = readCounts(f.raw('counts'), f.problems);
  const ev: NodeEvent = {
    source,
    kind,
    ...(label !== undefined && { label }),
    ...(reason !== undefined && { reason }),
    ...(detail !== undefined && { detail }),
    ...(version !== undefined && { version }),
    ...(domain !== undefined && { domain }),
    ...(jobState !== undefined && { jobState }),
    ...(counts !== undefined && { counts }),
  };
  return f.done(ev);
}

/** A job-loaded event's settled state (additive: an older agent sends the event without it). */
function optJobState(v: unknown, problems: string[]): JobStateReport | undefined {
  return v === undefined ? undefined : readJobState(v, 'body.jobState', problems);
}

/** A job-state event's typed state; an old agent's event has only the coarse string in `reason`. */
function readEventJobState(
  v: unknown,
  reason: string | undefined,
  problems: string[],
): JobStateReport | undefined {
  if (v !== undefined) return readJobState(v, 'body.jobState', problems);
  return isLegacyJobState(reason) ? legacyJobState(reason, undefined) : undefined;
}

function readCounts(v: unknown, problems: string[]): JobActivityCounts | undefined {
  if (v === undefined) return undefined;
  const f = new FieldReader(v, 'body.counts');
  const counts = {
    runs: f.int('runs', 0, Number.MAX_SAFE_INTEGER),
    exits: f.int('exits', 0, Number.MAX_SAFE_INTEGER),
    failed: f.int('failed', 0, Number.MAX_SAFE_INTEGER),
    windowMs: f.int('windowMs', 0, Number.MAX_SAFE_INTEGER),
  };
  problems.push(...f.problems);
  return f.problems.length === 0 ? counts : undefined;
}

/** Cuts a detail string to a bounded length for an event. */
export function boundedDetail(s: string, max = 1024): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
