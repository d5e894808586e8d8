/**
 * Creates (idempotently) the buckets and the stream the control plane lives in, with the
 * replica count of the deployment (1 on a single server, 3 on a cluster).
 *
 * Bucket/stream settings and why:
 * - `lf_desired`: history 5 (a short audit trail of what was desired), direct get on (so a
 *   node's `get` goes to `$JS.API.DIRECT.GET.<stream>.<subject>`, which permissions can scope).
 * - `lf_trust`: history 10; `lf_nodes`: history 1 (latest status only).
 * - `lf_registry`, `lf_tokens`: controller-only records.
 * - `LF_EVENTS`: bounded by age and bytes, discarding the oldest.
 * - every stream: an explicit consumer limit (stream-limits.ts).
 */
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { buckets, eventsStream } from '@launchfleet/shared/messages';
import { maxBundleBytes } from '@launchfleet/shared/signing';
import { DesiredIndex } from '../desired/desired-index.ts';
import { createBucket, ensureStream } from './stream-limits.ts';

/** The opened buckets the controller uses. */
export interface ControlPlaneStore {
  readonly desired: KV;
  /** Every write of a node's desired key goes through it (desired/desired-index.ts). */
  readonly desiredIndex: DesiredIndex;
  readonly trust: KV;
  readonly nodes: KV;
  readonly registry: KV;
  readonly tokens: KV;
}

export interface ProvisionOptions {
  readonly replicas?: number;
  readonly eventsMaxAgeMs?: number;
  readonly eventsMaxBytes?: number;
  /** Wall clock for the index's envelopes. Default Date.now. */
  readonly now?: () => number;
  /** Diagnostics of the desired-state index. */
  readonly log?: (line: string) => void;
}

/** Ensures the buckets and the events stream exist and opens the buckets. */
export async function provisionControlPlane(
  nc: NatsConnection,
  o: ProvisionOptions = {},
): Promise<ControlPlaneStore> {
  const replicas = o.replicas ?? 1;
  const common = { replicas, storage: StorageType.File, allow_direct: true } as const;
  const desired = await createBucket(nc, buckets.desired, {
    ...common,
    history: 5,
    maxValueSize: maxBundleBytes,
  });
  const trust = await createBucket(nc, buckets.trust, { ...common, history: 10, maxValueSize: 64 * 1024 });
  const nodes = await createBucket(nc, buckets.nodes, { ...common, history: 1, maxValueSize: 256 * 1024 });
  const registry = await createBucket(nc, buckets.registry, {
    ...common,
    history: 1,
    maxValueSize: 16 * 1024,
  });
  const tokens = await createBucket(nc, buckets.tokens, { ...common, history: 1, maxValueSize: 4 * 1024 });
  await ensureStream(nc, {
    name: eventsStream.name,
    subjects: [...eventsStream.subjects],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: (o.eventsMaxAgeMs ?? eventsStream.maxAgeMs) * 1_000_000,
    max_bytes: o.eventsMaxBytes ?? eventsStream.maxBytes,
    max_msg_size: eventsStream.maxMsgSize,
    // Agents re-send an event whose ack was lost with the same message id: stored once.
    duplicate_window: eventsStream.duplicateWindowMs * 1_000_000,
    num_replicas: replicas,
    storage: StorageType.File,
  });
  const desiredIndex = new DesiredIndex(desired, o.now ?? (() => Date.now()), o.log);
  return { desired, desiredIndex, trust, nodes, registry, tokens };
}
