/**
 * The console's view of change, fed by what the controller already follows:
 *
 * ```
 * FleetAggregator.onChange   (lf_nodes / lf_registry watches)  -> node:, job:, jobs, fleet topics
 * presence scan, every 2 s    (a node going quiet is no message) -> node:, fleet
 * LF_EVENTS  ordered consumer (from the newest ~ringSize events) -> the event ring; job:, node:, alerts
 * RolloutCache.onChange     (the runtime's lf_rollouts watch)     -> rollout:, rollouts, fleet, job:
 * ```
 *
 * Topics (core/change-topics.ts) are batched and sent to every open server-sent-events stream
 * at most once per `flushMs`; a page refreshes its live regions when a topic it names arrives.
 * The event consumer re-opens itself after a failure (NATS restart), as the aggregator's and the
 * rollout cache's watches do.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, messageOf } from '@launchfleet/shared';
import { decodeNodeEvent, eventsStream } from '@launchfleet/shared/messages';
import type { FleetAggregator, NodeChange } from '../fleet/fleet-aggregator.ts';
import type { RolloutCache, RolloutChange } from '../rollout/rollout-cache.ts';
import type { RolloutRecord } from '../rollout/rollout-store.ts';
import { EventRing } from './core/event-ring.ts';
import { batchTopics, problemFingerprint, statusTopics } from './core/change-topics.ts';

/** Where a batch of topics goes (an SSE response). */
export interface TopicSink {
  send(topics: readonly string[]): void;
}

export interface LiveFeedDeps {
  readonly nc: NatsConnection;
  readonly aggregator: FleetAggregator;
  /** The rollout runtime's cache of every stored rollout (one watch for the whole controller). */
  readonly rollouts: RolloutCache;
  readonly clock: Clock;
  readonly log: (line: string) => void;
  /** Default 1000 ms. */
  readonly flushMs?: number;
  /** Events kept for job and node pages. Default 5000. */
  readonly ringSize?: number;
}

const maxTopicsPerBatch = 200;

export class LiveFeed {
  readonly events: EventRing;
  readonly #d: LiveFeedDeps;
  readonly #sinks = new Set<TopicSink>();
  readonly #pending = new Set<string>();
  readonly #fingerprints = new Map<string, string>();
  readonly #presence = new Map<string, string>();
  readonly #stops: (() => void)[] = [];
  readonly #loops: Promise<void>[] = [];
  #stopped = false;

  constructor(d: LiveFeedDeps) {
    this.#d = d;
    this.events = new EventRing(d.ringSize ?? 5000);
  }

  /** Starts following (the rollout cache has the stored rollouts once the runtime has started). */
  start(): void {
    const ix = this.#d.aggregator.index;
    for (const n of ix.nodes()) {
      this.#fingerprints.set(n.nodeId, this.#fingerprint(n.nodeId));
      this.#presence.set(n.nodeId, ix.presence(n, this.#d.clock.wallMs()));
    }
    this.#stops.push(
      this.#d.aggregator.onChange((c) => this.#onNode(c)),
      this.#d.rollouts.onChange((c) => this.#onRollout(c)),
    );
    const flush = setInterval(() => this.#flush(), this.#d.flushMs ?? 1000);
    const scan = setInterval(() => this.#scanPresence(), 2000);
    this.#stops.push(
      () => clearInterval(flush),
      () => clearInterval(scan),
    );
    this.#loops.push(this.#forever('events', () => this.#followEvents()));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const s of this.#stops) s();
    await Promise.allSettled(this.#loops);
  }

  /** Every stored rollout (the watch's latest revision of each). */
  rollouts(): RolloutRecord[] {
    return this.#d.rollouts.records();
  }

  rollout(id: string): RolloutRecord | undefined {
    return this.#d.rollouts.record(id);
  }

  get rolloutsReady(): boolean {
    return this.#d.rollouts.ready;
  }

  /** Registers an SSE stream; returns its removal. */
  addSink(s: TopicSink): () => void {
    this.#sinks.add(s);
    return () => this.#sinks.delete(s);
  }

  get sinks(): number {
    return this.#sinks.size;
  }

  /** Marks topics changed (also used by the console's own actions, so the actor sees them at once). */
  touch(...topics: string[]): void {
    for (const t of topics) this.#pending.add(t);
  }

  #flush(): void {
    if (this.#pending.size === 0) return;
    const topics = batchTopics(this.#pending, maxTopicsPerBatch);
    this.#pending.clear();
    for (const s of this.#sinks) s.send(topics);
  }

  #fingerprint(nodeId: string): string {
    const ix = this.#d.aggregator.index;
    const n = ix.node(nodeId);
    if (!n?.status) return '';
    const out: [string, string][] = [];
    for (const label of Object.keys(n.status.jobs)) {
      const p = ix.problemOf(nodeId, label);
      if (p) out.push([label, p]);
    }
    return problemFingerprint(out);
  }

  #onNode(c: NodeChange): void {
    if (c.kind !== 'status') {
      this.touch(`node:${c.nodeId}`, 'fleet');
      return;
    }
    const fp = this.#fingerprint(c.nodeId);
    const changed = fp !== (this.#fingerprints.get(c.nodeId) ?? '');
    this.#fingerprints.set(c.nodeId, fp);
    const after = this.#d.aggregator.index.node(c.nodeId)?.status;
    this.touch(...statusTopics(c.nodeId, c.before, after, changed));
  }

  #scanPresence(): void {
    const ix = this.#d.aggregator.index;
    const now = this.#d.clock.wallMs();
    for (const n of ix.nodes()) {
      const p = ix.presence(n, now);
      if (this.#presence.get(n.nodeId) !== p) {
        this.#presence.set(n.nodeId, p);
        this.touch(`node:${n.nodeId}`, 'fleet');
        for (const label of Object.keys(n.status?.jobs ?? {})) this.touch(`job:${label}`);
      }
    }
  }

  /** Runs `body` again a second after it ends or fails, until stopped. */
  async #forever(what: string, body: () => Promise<void>): Promise<void> {
    while (!this.#stopped) {
      try {
        await body();
      } catch (e) {
        if (!this.#stopped) this.#d.log(`controller: console: following ${what}: ${messageOf(e)}`);
      }
      if (this.#stopped) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async #followEvents(): Promise<void> {
    const jsm = await jetstreamManager(this.#d.nc);
    const info = await jsm.streams.info(eventsStream.name);
    const last = this.events.newest(1)[0]?.seq ?? 0;
    const ring = this.#d.ringSize ?? 5000;
    // Resume after the last event seen, or start from the newest `ring` stored ones.
    const start = last > 0 ? last + 1 : Math.max(info.state.first_seq, info.state.last_seq - ring + 1);
    const consumer = await jetstream(this.#d.nc).consumers.get(eventsStream.name, {
      filter_subjects: eventsStream.subjects[0],
      ...(info.state.messages === 0 && last === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start) }),
    });
    const messages = await consumer.consume();
    this.#stops.push(() => void messages.stop());
    try {
      for await (const m of messages) {
        if (this.#stopped) break;
        const e = decodeNodeEvent(m.data);
        if (!e.ok) continue;
        const ev = e.value;
        this.events.push({
          seq: m.seq,
          at: m.time.getTime(),
          source: ev.source,
          kind: ev.kind,
          label: ev.label ?? '',
          reason: ev.reason ?? '',
          detail: ev.detail ?? '',
          version: ev.version ?? 0,
        });
        this.touch(`node:${ev.source}`);
        if (ev.label) this.touch(`job:${ev.label}`);
        if (ev.kind === 'alert-firing' || ev.kind === 'alert-resolved') this.touch('alerts', 'fleet');
      }
    } finally {
      messages.stop();
    }
  }

  #onRollout(c: RolloutChange): void {
    this.touch(`rollout:${c.rolloutId}`, 'rollouts', 'fleet');
    const rec = this.#d.rollouts.record(c.rolloutId);
    if (rec) this.touch(`job:${rec.spec.label}`);
  }
}
