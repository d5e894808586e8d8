/**
 * Keeps the FleetIndex current from JetStream and NATS:
 *
 * ```
 * KV lf_registry  (watch)   enrolled nodes, revocations          -> upsertRegistered / removeRegistered
 * KV lf_nodes     (watch)   <node>.status, <node>.inventory      -> setStatus / setInventory
 * lf.hb.*         (sub)     heartbeats                           -> heartbeat
 * ```
 *
 * Every message is decoded with the shared readers; anything malformed, oversized, or claiming
 * another node's id than its key/subject is dropped and counted (and reported as a
 * rate-limited `message-refused` controller event), never thrown: a hostile or buggy node
 * cannot take the aggregator down. Status times are the KV entry's server time, not the
 * node's clock, so a node with a wrong clock cannot look fresh or stale.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { type Clock, messageOf } from '@launchfleet/shared';
import {
  boundedDetail,
  controllerEventSource,
  decodeHeartbeat,
  decodeNodeInventory,
  decodeNodeStatus,
  encodeNodeEvent,
  type NodeStatus,
  isNodeId,
  isRecord,
  subjects,
} from '@launchfleet/shared/messages';
import { FleetIndex } from './core/fleet-index.ts';

/**
 * What changed in the index, after it was applied: a node's status (`before` is the status it
 * replaced), its inventory, or its registry record. Listeners (the web console's live feed) must
 * not throw and must not block: they are called inside the watch loops.
 */
export interface NodeChange {
  readonly nodeId: string;
  readonly kind: 'status' | 'inventory' | 'registry';
  readonly before?: NodeStatus | undefined;
}

export interface FleetAggregatorDeps {
  readonly nc: NatsConnection;
  readonly registry: KV;
  readonly nodes: KV;
  readonly clock: Clock;
  /** A node is offline after this long without a status or heartbeat. Default 90 s. */
  readonly offlineAfterMs?: number;
  /** Diagnostics (a node whose heartbeat period cannot keep it online). */
  readonly log?: (line: string) => void;
}

/** Messages dropped, by where they came from. */
export interface RefusedCounts {
  status: number;
  inventory: number;
  heartbeat: number;
  registry: number;
}

export class FleetAggregator {
  readonly index: FleetIndex;
  readonly refused: RefusedCounts = { status: 0, inventory: 0, heartbeat: 0, registry: 0 };
  readonly #d: FleetAggregatorDeps;
  readonly #watches: { stop(): void }[] = [];
  #hb: Subscription | undefined;
  #stopped = false;
  /** When each event reason was last published: the limit is per reason, so junk on one subject cannot hide another. */
  readonly #lastEventAt = new Map<string, number>();
  /** Nodes already told about for beating too slowly for the offline threshold (once each). */
  readonly #slowBeaters = new Set<string>();
  readonly #loops: Promise<void>[] = [];
  readonly #listeners = new Set<(c: NodeChange) => void>();

  constructor(d: FleetAggregatorDeps) {
    this.#d = d;
    this.index = new FleetIndex(d.offlineAfterMs ?? 90_000);
  }

  /** Calls `fn` after every change applied to the index; returns the unsubscribe function. */
  onChange(fn: (c: NodeChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #changed(c: NodeChange): void {
    for (const fn of this.#listeners) fn(c);
  }

  /** Starts the watches; resolves once both buckets' current contents are in the index. */
  async start(): Promise<void> {
    this.#hb = this.#d.nc.subscribe(subjects.heartbeatAll, {
      callback: (err, msg) => {
        if (err) return;
        this.#onHeartbeat(msg.subject, msg.data);
      },
    });
    await this.#watch(this.#d.registry, (e) => this.#onRegistry(e));
    await this.#watch(this.#d.nodes, (e) => this.#onNodes(e));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#hb?.unsubscribe();
    for (const w of this.#watches) w.stop();
    await Promise.allSettled(this.#loops);
  }

  /**
   * Watches a bucket; resolves when its initial values have been applied. Should the watch
   * ever end while the aggregator runs (the iterator failed), it is opened again after a
   * second: the bucket's last values are re-applied, which is idempotent.
   */
  async #watch(kv: KV, apply: (e: KvWatchEntry) => void): Promise<void> {
    const values = (await kv.status()).values;
    const it = await kv.watch();
    this.#watches.push(it);
    let ready!: () => void;
    const initial = new Promise<void>((r) => (ready = r));
    if (values === 0) ready();
    this.#loops.push(
      (async () => {
        try {
          for await (const e of it) {
            try {
              apply(e);
            } catch (err) {
              // A bug in an apply function must not end the watch.
              this.#controllerEvent('aggregator', messageOf(err));
            }
            if (e.isUpdate || e.delta === 0) ready();
          }
        } catch (err) {
          if (!this.#stopped) this.#controllerEvent('watch-ended', messageOf(err));
        }
        // Re-open until it works or the aggregator stops (NATS may be down for a while).
        while (!this.#stopped) {
          await new Promise((r) => setTimeout(r, 1000));
          if (this.#stopped) return;
          try {
            await this.#watch(kv, apply);
            return;
          } catch (err) {
            this.#controllerEvent('watch-reopen', messageOf(err));
          }
        }
      })(),
    );
    await initial;
  }

  #onRegistry(e: KvWatchEntry): void {
    const key = e.key;
    if (!isNodeId(key)) return; // `revocations` and anything else that is not a node record
    if (e.operation !== 'PUT') {
      this.index.removeRegistered(key);
      this.#changed({ nodeId: key, kind: 'registry' });
      return;
    }
    let o: unknown;
    try {
      o = JSON.parse(e.string());
    } catch {
      o = undefined;
    }
    if (
      !isRecord(o) ||
      o['nodeId'] !== key ||
      typeof o['hostname'] !== 'string' ||
      typeof o['publicKey'] !== 'string' ||
      typeof o['enrolledAt'] !== 'number'
    ) {
      this.refused.registry++;
      return;
    }
    const inv = isRecord(o['inventory']) ? o['inventory'] : {};
    const inventory: Record<string, string> = {};
    for (const [k, v] of Object.entries(inv)) if (typeof v === 'string') inventory[k] = v;
    this.index.upsertRegistered({
      nodeId: key,
      hostname: o['hostname'],
      inventory,
      enrolledAt: o['enrolledAt'],
      revokedAt: typeof o['revokedAt'] === 'number' ? o['revokedAt'] : undefined,
      publicKey: o['publicKey'],
      credentials: {
        expiresAt: numberOr(o['credentialsExpireAt']),
        issuedAt: numberOr(o['credentialsIssuedAt']),
        issuer: typeof o['credentialsIssuer'] === 'string' ? o['credentialsIssuer'] : undefined,
        renewals: numberOr(o['renewals']) ?? 0,
      },
    });
    this.#changed({ nodeId: key, kind: 'registry' });
  }

  #onNodes(e: KvWatchEntry): void {
    const dot = e.key.indexOf('.');
    const nodeId = e.key.slice(0, dot);
    const part = e.key.slice(dot + 1);
    if (dot < 0 || !isNodeId(nodeId)) return;
    const at = e.created.getTime();
    if (part === 'status') {
      const before = this.index.node(nodeId)?.status;
      if (e.operation !== 'PUT') {
        this.index.setStatus(nodeId, undefined, at);
        this.#changed({ nodeId, kind: 'status', before });
        return;
      }
      const s = decodeNodeStatus(e.value);
      if (!s.ok || s.value.nodeId !== nodeId) {
        this.refused.status++;
        this.#controllerEvent(
          'bad-status',
          `${nodeId}: ${s.ok ? 'node id differs from key' : s.error.detail}`,
        );
        return;
      }
      this.index.setStatus(nodeId, s.value, at);
      this.#changed({ nodeId, kind: 'status', before });
    } else if (part === 'inventory' && e.operation === 'PUT') {
      const inv = decodeNodeInventory(e.value);
      if (!inv.ok || inv.value.nodeId !== nodeId) {
        this.refused.inventory++;
        this.#controllerEvent(
          'bad-inventory',
          `${nodeId}: ${inv.ok ? 'node id differs from key' : inv.error.detail}`,
        );
        return;
      }
      this.index.setInventory(nodeId, inv.value.hostname, inv.value.labels);
      this.#changed({ nodeId, kind: 'inventory' });
    }
  }

  #onHeartbeat(subject: string, data: Uint8Array): void {
    const nodeId = subject.slice(subjects.heartbeat('').length);
    const h = decodeHeartbeat(data);
    if (!h.ok || h.value.nodeId !== nodeId) {
      this.refused.heartbeat++;
      this.#controllerEvent(
        'bad-heartbeat',
        `${subject.slice(0, 64)}: ${h.ok ? 'node id differs from subject' : h.error.detail}`,
      );
      return;
    }
    this.index.heartbeat(nodeId, h.value.seq, this.#d.clock.wallMs());
    // The threshold and the agents' period are configured apart (controller offlineAfterSeconds,
    // agent controller.heartbeatSeconds): a node whose longest gap between beats (its period plus
    // the 20 % spread) reaches the threshold shows offline between beats. Said once per node, in
    // the log and as a controller event.
    const interval = h.value.intervalMs;
    const offlineAfterMs = this.#d.offlineAfterMs ?? 90_000;
    if (interval !== undefined && 1.2 * interval >= offlineAfterMs && !this.#slowBeaters.has(nodeId)) {
      const why =
        `node ${nodeId} sends a heartbeat every ${interval / 1000} s, but nodes are offline after ` +
        `${offlineAfterMs / 1000} s unheard (offlineAfterSeconds): it will show offline between beats; ` +
        'lower its controller.heartbeatSeconds or raise offlineAfterSeconds (three heartbeats or more)';
      // Marked only once said: an event held back by the rate limit is said at a later beat.
      if (this.#controllerEvent('heartbeat-too-slow', why, 'control-error')) {
        this.#slowBeaters.add(nodeId);
        this.#d.log?.(`controller: ${why}`);
      }
    }
  }

  /**
   * A controller event, at most one per second for each reason: a flood of junk cannot become a
   * flood of events. Returns whether it was published.
   */
  #controllerEvent(
    reason: string,
    detail: string,
    kind: 'message-refused' | 'control-error' = 'message-refused',
  ): boolean {
    const now = this.#d.clock.monotonicMs();
    const last = this.#lastEventAt.get(reason);
    if ((last !== undefined && now - last < 1000) || this.#stopped) return false;
    this.#lastEventAt.set(reason, now);
    const data = encodeNodeEvent(
      { source: controllerEventSource, kind, reason, detail: boundedDetail(detail, 512) },
      this.#d.clock.wallMs(),
    );
    jetstream(this.#d.nc)
      .publish(subjects.event(controllerEventSource, kind), data)
      .catch(() => undefined);
    return true;
  }
}

/** A finite number, or undefined. */
function numberOr(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
