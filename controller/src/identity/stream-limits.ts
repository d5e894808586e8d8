/**
 * How many consumers each stream of the control plane may hold, set explicitly when the stream
 * is created, and the one place KV buckets are created.
 *
 * Why explicit: nats-server 2.15 gives a stream without its own limit a default of 1,000
 * consumers and no longer reads -1 as "unlimited" there. Agents create no consumer at all
 * (node-agent/src/link/desired-follower.ts); every consumer is a controller's or a tool's, a few
 * per controller, so each limit below is what that stream's readers need with room to spare, and
 * a runaway creator (a bug, a leak) hits it long before it hurts the broker.
 *
 * A limit is part of the stream's configuration and nats-server refuses to change it on an
 * existing stream, so a stream created by an older version keeps what it had (the deploy README
 * says how to recreate one).
 */
import { type StreamConfig, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  auditStream,
  buckets,
  eventsStream,
  kvStreamName,
  type BucketName,
} from '@launchfleet/shared/messages';

/** Consumers per stream, by stream name. */
export const maxConsumers: Readonly<Record<string, number>> = {
  // Key listings by controllers (a delete, the index repair); nodes whose credentials predate the
  // subscription permissions, or whose controller predates the index, during an upgrade.
  [kvStreamName(buckets.desired)]: 512,
  // Nodes follow the trust store by subscription: only tools read it through a consumer.
  [kvStreamName(buckets.trust)]: 64,
  // One watch per controller (the fleet index), benchmarks' observers.
  [kvStreamName(buckets.nodes)]: 256,
  [kvStreamName(buckets.registry)]: 256,
  [kvStreamName(buckets.tokens)]: 64,
  [kvStreamName(buckets.jobs)]: 256,
  [kvStreamName(buckets.versions)]: 256,
  // WatchRollout (one watch per call) and the controllers' listings of rollouts.
  [kvStreamName(buckets.rollouts)]: 1024,
  [kvStreamName(buckets.alerts)]: 256,
  // Console sessions are read by key (direct gets): only tools list them.
  [kvStreamName(buckets.consoleSessions)]: 64,
  // WatchEvents / `launchfleet events --follow` / the console's live feed: one per follower.
  [eventsStream.name]: 1024,
  // `launchfleet audit` readers.
  [auditStream.name]: 256,
};

/** The limit for `stream` (a stream this file does not know gets 256). */
export function maxConsumersOf(stream: string): number {
  return maxConsumers[stream] ?? 256;
}

/**
 * Creates (idempotently) and opens a KV bucket. The bucket's stream is created here, with the
 * configuration nats.js's `Kvm.create` would give it plus an explicit `max_consumers`, so that
 * `Kvm.create` then finds and opens it.
 */
export async function createBucket(
  nc: NatsConnection,
  bucket: BucketName,
  o: {
    readonly replicas: number;
    readonly history: number;
    readonly maxValueSize: number;
    /** Max age of every entry in ms (the whole bucket's TTL), when set. */
    readonly ttlMs?: number;
  } & Partial<Pick<KvOptions, 'storage' | 'allow_direct'>>,
): Promise<KV> {
  const jsm = await whilePlacing(() => jetstreamManager(nc));
  const name = kvStreamName(bucket);
  const exists = await jsm.streams.info(name).then(
    () => true,
    (e: unknown) => {
      if (e instanceof Error && /stream not found/i.test(e.message)) return false;
      throw e;
    },
  );
  if (!exists)
    await whilePlacing(() =>
      jsm.streams.add({
        name,
        subjects: [`$KV.${bucket}.>`],
        retention: 'limits',
        max_msgs_per_subject: o.history,
        max_msg_size: o.maxValueSize,
        max_consumers: maxConsumersOf(name),
        ...(o.ttlMs !== undefined && { max_age: o.ttlMs * 1_000_000 }),
        storage: o.storage ?? 'file',
        num_replicas: o.replicas,
        discard: 'new',
        allow_direct: o.allow_direct ?? true,
        allow_rollup_hdrs: true,
        deny_delete: true,
        deny_purge: false,
      }),
    ).catch((e: unknown) => {
      // Another controller created it meanwhile: fine.
      if (!(e instanceof Error && /already in use|already exists/i.test(e.message))) throw e;
    });
  return new Kvm(nc).create(bucket, {
    replicas: o.replicas,
    history: o.history,
    maxValueSize: o.maxValueSize,
    ...(o.ttlMs !== undefined && { ttl: o.ttlMs }),
    ...(o.storage !== undefined && { storage: o.storage }),
    ...(o.allow_direct !== undefined && { allow_direct: o.allow_direct }),
  });
}

/**
 * Creates a stream with its explicit consumer limit, or updates an existing one's other settings
 * (retention, sizes): nats-server refuses to change `max_consumers`, so the existing value is kept.
 */
export async function ensureStream(
  nc: NatsConnection,
  config: Omit<Partial<StreamConfig>, 'max_consumers'> & { readonly name: string },
): Promise<void> {
  const jsm = await whilePlacing(() => jetstreamManager(nc));
  const info = await jsm.streams.info(config.name).catch((e: unknown) => {
    if (e instanceof Error && /stream not found/i.test(e.message)) return undefined;
    throw e;
  });
  if (info) {
    // nats.js merges the update into the stream's current configuration, its limit included.
    const { name, ...rest } = config;
    await jsm.streams.update(name, rest);
    return;
  }
  await whilePlacing(() => jsm.streams.add({ ...config, max_consumers: maxConsumersOf(config.name) })).catch(
    (e: unknown) => {
      if (!(e instanceof Error && /already in use|already exists/i.test(e.message))) throw e;
    },
  );
}

/**
 * Runs a stream creation again while the cluster cannot place it yet. Right after a cluster
 * forms (servers and the controller started together, or a server just restarted), the meta
 * leader may not know every peer's JetStream yet and refuses an R3 stream with "no suitable peers
 * for placement" (seen in CI under load), and a server can still answer "JetStream not enabled
 * for account" for an account whose JetStream it is setting up (seen with 2.10.27); both usually
 * pass within seconds, but CI on a busy 2-core machine saw a new 3-server cluster refuse
 * placement for more than 30 s. Gives up after ~90 s with the server's own error (an account
 * really without JetStream is then reported as such, 90 s later).
 *
 * "error creating store for stream" (10049) is the server's fixed answer for any failure to set
 * up a stream's store; the cause is only in its own log. CI met it once on a new 3-server
 * cluster of containers whose meta group listed every peer as current; other NATS users
 * retry it as transient. It is tried again too, but at most 10 times: a store that cannot be made
 * for a real reason (a full or read-only disk) is reported within ~10 s.
 */
async function whilePlacing<T>(create: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await create();
    } catch (e) {
      const m = e instanceof Error ? e.message : '';
      const placing = /no suitable peers|insufficient resources|jetstream not enabled/i.test(m);
      const store = /error creating store for stream/i.test(m);
      if (!(placing || (store && attempt < 10)) || attempt >= 90) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
