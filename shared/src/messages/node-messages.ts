/**
 * What a node publishes: status (KV `lf_nodes`, key `<nodeId>.status`), heartbeats
 * (`lf.hb.<nodeId>`) and events (stream `LF_EVENTS`, `lf.events.<nodeId>.<kind>`).
 */
import type { Result } from '../errors.ts';
import { FieldReader, type MessageError, decodeEnvelope, encodeEnvelope } from './envelope.ts';
import { nodeIdPattern } from './tokens.ts';

export const nodeKinds = { status: 'node.status', heartbeat: 'node.heartbeat', event: 'node.event' } as const;

/** Coarse node health the controller aggregates. */
export type NodeHealth = 'ok' | 'degraded' | 'failing';

/** A node's own summary, kept current in `lf_nodes`. */
export interface NodeStatus {
  readonly nodeId: string;
  readonly health: NodeHealth;
  /** label -> coarse job state (`running`, `waiting`, `throttled`, ...). Bounded. */
  readonly jobs: Record<string, string>;
  /** label -> bundle version the node runs. Bounded. */
  readonly versions: Record<string, string>;
}

/** A heartbeat: tiny, frequent. */
export interface Heartbeat {
  readonly nodeId: string;
  readonly seq: number;
  readonly health: NodeHealth;
}

/**
 * An event a node (or the controller, source `controller`) raises. Kinds:
 * - `bundle-accepted`: a verified bundle became desired state on the node.
 * - `bundle-refused`: a bundle failed verification; `reason` is a `RefusalReason`.
 * - `trust-updated` / `trust-refused`: a trust store update was applied / refused.
 * - `message-refused`: a malformed or oversized message arrived on a subject the node listens to.
 * - `enroll-refused`: (controller) an enrolment was refused.
 * - `control-error`: (controller) a control-plane task failed (e.g. re-pushing revocations).
 */
export type NodeEventKind =
  | 'bundle-accepted'
  | 'bundle-refused'
  | 'trust-updated'
  | 'trust-refused'
  | 'message-refused'
  | 'enroll-refused'
  | 'control-error';

export const nodeEventKinds: readonly NodeEventKind[] = [
  'bundle-accepted',
  'bundle-refused',
  'trust-updated',
  'trust-refused',
  'message-refused',
  'enroll-refused',
  'control-error',
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
  const jobs = f.stringMap('jobs', 2000, 255);
  const versions = f.stringMap('versions', 2000, 255);
  return f.done({ nodeId, health, jobs, versions });
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
  return f.done({ nodeId, seq, health });
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
  const ev: NodeEvent = {
    source,
    kind,
    ...(label !== undefined && { label }),
    ...(reason !== undefined && { reason }),
    ...(detail !== undefined && { detail }),
    ...(version !== undefined && { version }),
  };
  return f.done(ev);
}

/** Cuts a detail string to a bounded length for an event. */
export function boundedDetail(s: string, max = 1024): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
