/**
 * Every NATS subject, stream, KV bucket and key Launchfleet uses, spelled in exactly one place.
 *
 * Layout (one account, `LF`; see controller/src/identity for who may touch what):
 *
 * ```
 * KV  lf_desired   <nodeId>.<labelToken>   signed job bundle for one label on one node   controller writes, node reads own
 *                  <nodeId>._index          the label tokens the node may have (desired-index.ts) controller writes, node reads own
 * KV  lf_trust     store                   signed trust store (bundle verification keys)  controller writes, every node reads
 * KV  lf_nodes     <nodeId>.status          node status (heartbeat summary, job states)   node writes own, controller reads
 *                  <nodeId>.inventory       hostname, os, agent version                    node writes own, controller reads
 * KV  lf_registry  <nodeId>                enrolled node record (public key, revoked)     controller only
 * KV  lf_tokens    <tokenId>               bootstrap token record (hash, expiry, uses)    controller only
 * KV  lf_jobs      <labelToken>            job record (plist, domain, target, version)    controller only
 * KV  lf_versions  <labelToken>.<version>  the plist of one bundle version of a label       controller only
 * KV  lf_rollouts  state.<rolloutId>       rollout record (spec + state), compare-and-set  controller only
 *                  lease.<rolloutId>       which controller drives the rollout, until when controller only
 * KV  lf_alerts    <alert>.<nodeId>[.<tok>] a firing controller alert (create = fire, CAS delete = resolve) controller only
 * KV  lf_console   <sha256 of session id>  a web console session (token hash, CSRF token, expiry)  controller only
 * ST  LF_AUDIT     lf.audit.<method>       every change made through the API (who, what, outcome)
 * ST  LF_EVENTS    lf.events.<nodeId>.<kind>   job/bundle/node events, bounded retention   node publishes own
 *                  lf.events.controller.<kind> events the controller raises (enrolment refusals)
 *                  lf.events.controller.alert-firing / alert-resolved   the controller's alert events
 * RR  lf.enroll                            enrolment request/reply (bootstrap user)
 * RR  lf.renew.<nodeId>                    credential renewal request/reply (node -> controller)
 * PUB lf.hb.<nodeId>                       heartbeat (node -> controller; may be a request)
 * RR  lf.q.<nodeId>.<query>                live question to one node (controller -> node)
 * INB _I.<nodeId>.>                        the node's own reply inbox prefix
 * INB _E.<nonce>.>                         an enrolling agent's inbox (bootstrap user)
 * ```
 *
 * Why per-node keys and subjects start with the node id: NATS permissions are subject
 * prefixes, so "only your own desired state" becomes `...lf_desired.<nodeId>.>` and nothing
 * more. nats-server 2.9 has no multi-filter consumers, so a node watches exactly one filter,
 * `$KV.lf_desired.<nodeId>.>`.
 */
import { encodeLabelToken } from './tokens.ts';

/** The KV buckets. Bucket names are `[a-zA-Z0-9_-]`. */
export const buckets = {
  desired: 'lf_desired',
  trust: 'lf_trust',
  nodes: 'lf_nodes',
  registry: 'lf_registry',
  tokens: 'lf_tokens',
  /** Job records: the per-label version counter (compare-and-set) and the current target. */
  jobs: 'lf_jobs',
  /** Bundle versions of each label: the plist a version carries, so a rollback can re-sign it. */
  versions: 'lf_versions',
  /** Rollout records (spec + state, compare-and-set) and the per-rollout driver leases. */
  rollouts: 'lf_rollouts',
  /**
   * Firing controller alerts, one key per alert instance: `create` fires it and `delete` with the
   * record's revision resolves it, so of several controllers exactly one publishes each event.
   */
  alerts: 'lf_alerts',
  /**
   * Web console sessions, one key per session (the SHA-256 of its cookie value, so reading the
   * bucket gives no usable session). Shared by every controller: a session survives a restart.
   */
  consoleSessions: 'lf_console',
} as const;

/** A KV bucket's name. */
export type BucketName = (typeof buckets)[keyof typeof buckets];

/** The JetStream stream behind a KV bucket (the KV convention `KV_<bucket>`). */
export function kvStreamName(bucket: BucketName): string {
  return `KV_${bucket}`;
}

/** The subject a KV key is stored under (the KV convention `$KV.<bucket>.<key>`). */
export function kvSubject(bucket: BucketName, key: string): string {
  return `$KV.${bucket}.${key}`;
}

/** The events stream. */
export const eventsStream = {
  name: 'LF_EVENTS',
  subjects: ['lf.events.>'],
  /** Bounded retention: the stream keeps at most this long... */
  maxAgeMs: 7 * 24 * 3600_000,
  /** ...and at most this many bytes, discarding the oldest first. */
  maxBytes: 1024 * 1024 * 1024,
  /** Per-message cap: events are small; a larger one is a bug or an attack. */
  maxMsgSize: 64 * 1024,
  /**
   * An event published again with the same message id within this window is stored once: an
   * agent re-sends an event whose ack it did not get, after it reconnected
   * (node-agent/src/link/core/event-ids.ts). Longer than the server's 2-minute default so a
   * re-send after a partition of several minutes is still caught; the server keeps one id per
   * event of the window.
   */
  duplicateWindowMs: 10 * 60_000,
} as const;

/** The audit stream: one message per change made through the controller's API. */
export const auditStream = {
  name: 'LF_AUDIT',
  subjects: ['lf.audit.>'],
  maxAgeMs: 365 * 24 * 3600_000,
  maxBytes: 1024 * 1024 * 1024,
  maxMsgSize: 16 * 1024,
  /** `lf.audit.<method>`; the method is a gRPC method name (one subject token). */
  subject: (method: string): string => `lf.audit.${method}`,
} as const;

/** The node id that the controller's own events use; not a valid node id, so it cannot collide. */
export const controllerEventSource = 'controller';

/** Subjects. Functions take already-validated node ids (see `isNodeId`). */
export const subjects = {
  /** Enrolment request/reply. */
  enroll: 'lf.enroll',
  /** Queue group the controllers share on `lf.enroll` and other controller services. */
  controllerQueue: 'lf-controllers',
  /** A node's credential renewal request (node -> controller, request/reply). */
  renew: (nodeId: string): string => `lf.renew.${nodeId}`,
  /** Every renewal request (controller subscription). */
  renewAll: 'lf.renew.*',
  /** A node's heartbeat. */
  heartbeat: (nodeId: string): string => `lf.hb.${nodeId}`,
  /** All heartbeats (controller subscription). */
  heartbeatAll: 'lf.hb.*',
  /** A node's events: `lf.events.<nodeId>.<kind>`. */
  event: (source: string, kind: string): string => `lf.events.${source}.${kind}`,
  /** The controller's alert events (`alert-firing`, `alert-resolved`) in LF_EVENTS. */
  alertEvent: (kind: 'alert-firing' | 'alert-resolved'): string => `lf.events.controller.${kind}`,
  /** Every event of one node. */
  eventsOf: (source: string): string => `lf.events.${source}.>`,
  /** A live question to one node. */
  query: (nodeId: string, query: string): string => `lf.q.${nodeId}.${query}`,
  /** What a node subscribes to for live questions. */
  queriesOf: (nodeId: string): string => `lf.q.${nodeId}.>`,
  /** A node's reply inbox prefix (set as the client's `inboxPrefix`). */
  nodeInboxPrefix: (nodeId: string): string => `_I.${nodeId}`,
  /** An enrolling agent's inbox prefix; `nonce` is random per attempt. */
  enrollInboxPrefix: (nonce: string): string => `_E.${nonce}`,
  /** Every enrolling agent's inbox (the bootstrap user's subscribe permission). */
  enrollInboxAll: '_E.>',
} as const;

/** KV keys. */
export const keys = {
  /** The desired bundle for one label on one node. */
  desired: (nodeId: string, label: string): string => `${nodeId}.${encodeLabelToken(label)}`,
  /** A node's desired-state index (desired-index.ts): what it catches up on, by direct gets. */
  desiredIndex: (nodeId: string): string => `${nodeId}._index`,
  /** Every desired key of one node (a single-filter watch). */
  desiredOf: (nodeId: string): string => `${nodeId}.>`,
  /** The one trust store key. */
  trustStore: 'store',
  /** A node's status. */
  nodeStatus: (nodeId: string): string => `${nodeId}.status`,
  /** A node's inventory. */
  nodeInventory: (nodeId: string): string => `${nodeId}.inventory`,
  /** Everything a node may write in `lf_nodes`. */
  nodeAll: (nodeId: string): string => `${nodeId}.>`,
  /** The registry record of one node. */
  registry: (nodeId: string): string => nodeId,
  /** The record of one bootstrap token. */
  token: (tokenId: string): string => tokenId,
  /** The job record of one label. */
  job: (label: string): string => encodeLabelToken(label),
  /** One bundle version of a label (`lf_versions`). */
  version: (label: string, version: number): string => `${encodeLabelToken(label)}.${version}`,
  /** The record of one rollout (`lf_rollouts`). */
  rollout: (rolloutId: string): string => `state.${rolloutId}`,
  /** Every rollout record (a single-filter listing). */
  rolloutAll: 'state.*',
  /** The lease of one rollout (`lf_rollouts`). */
  rolloutLease: (rolloutId: string): string => `lease.${rolloutId}`,
  /**
   * One alert instance (`lf_alerts`): the alert name, the node, and for per-job or per-reason
   * alerts the job label / reason encoded as one token (`encodeLabelToken`).
   */
  alert: (alertName: string, nodeId: string, part?: string): string =>
    part === undefined ? `${alertName}.${nodeId}` : `${alertName}.${nodeId}.${encodeLabelToken(part)}`,
} as const;

/** The JetStream API prefix. */
export const jsApi = '$JS.API';
