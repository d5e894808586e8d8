/**
 * The reporter's outbox: the node's events (`lf.events.<nodeId>.<kind>`) waiting to be published.
 *
 * - Two queues, drained in order: a bounded FIFO for every event but job-state ones (on
 *   overflow the oldest is dropped and counted), and job-state events as "latest per job" (a
 *   map in arrival order), so they cannot grow with time while the broker is away.
 * - Nothing leaves without the stream's ack: a failed publish stays at the head and is retried
 *   (with backoff, 1 s doubling to 30 s, or on the next connection) with the same message id, so
 *   an event whose ack was lost is stored once (../core/event-ids.ts). What failed is classified
 *   once (../nats-edge.ts): an event NATS denies these credentials is dropped at once, with one
 *   error line naming the subject and the credential (a person must act; retrying cannot help);
 *   a missing stream is waited for (said once); no answer (a timeout, no responders) waits
 *   for ever; a refusal retrying cannot fix (natsError's table: the event larger than the
 *   stream or the server allows, a stream configured otherwise) is dropped at once, with a
 *   warn line; any other refusal on a live connection (one natsError calls retryable: a
 *   JetStream API error it does not know) is dropped after 3 tries so it cannot block the
 *   others.
 */
import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { messageOf } from '@launchfleet/shared/errors';
import type { TimerHandle } from '@launchfleet/shared/clock';
import { boundedDetail, encodeNodeEvent, subjects, type NodeEvent } from '@launchfleet/shared/messages';
import { natsNoAnswer } from '@launchfleet/shared/nats-errors';
import { EventIds } from '../core/event-ids.ts';
import { EdgePacing, credentialName, edgeFailure } from '../nats-edge.ts';
import type { ReporterStats, ReportingContext } from './reporting-context.ts';

/** An event as queued: the source (the node id) is added when it is published. */
export type OutboxEvent = Omit<NodeEvent, 'source'>;

export interface EventOutboxOptions extends ReportingContext {
  readonly maxQueuedEvents: number;
  readonly stats: Pick<ReporterStats, 'eventsPublished' | 'eventsDropped' | 'jobStateEvents'>;
}

export class EventOutbox {
  readonly #o: EventOutboxOptions;
  readonly #fifo: OutboxEvent[] = [];
  /** The latest job-state event per job (`<domain>/<label>`), in arrival order. */
  readonly #jobState = new Map<string, OutboxEvent>();
  #nc: NatsConnection | undefined;
  #flushing = false;
  /** Consecutive failed publishes of the event at the head of the outbox. */
  #headFailures = 0;
  #retryTimer: TimerHandle | undefined;
  readonly #pacing = new EdgePacing();
  #stopped = false;
  /** Each event's JetStream message id, the same on every attempt (../core/event-ids.ts). */
  readonly #eventIds = new EventIds(randomBytes(6).toString('hex'));

  constructor(o: EventOutboxOptions) {
    this.#o = o;
  }

  /** A connection to publish on (call flush() to start draining). */
  attach(nc: NatsConnection): void {
    this.#nc = nc;
  }

  /** The connection is gone: keep queueing, publish nothing. */
  detach(): void {
    this.#nc = undefined;
  }

  /** No more retry timers (the agent is stopping); a last flushNow() may still drain. */
  stop(): void {
    this.#stopped = true;
    this.#retryTimer?.cancel();
  }

  /** Events waiting to be published. */
  get queued(): number {
    return this.#fifo.length + this.#jobState.size;
  }

  /** Queues an event (bounded; oldest dropped first). */
  emit(e: OutboxEvent): void {
    if (this.#fifo.length >= this.#o.maxQueuedEvents) {
      this.#fifo.shift();
      this.#o.stats.eventsDropped++;
    }
    this.#fifo.push({ ...e, ...(e.detail !== undefined && { detail: boundedDetail(e.detail) }) });
    this.flush();
  }

  /** Queues a job's job-state event, replacing one of the same job still waiting. */
  putJobState(key: string, ev: OutboxEvent): void {
    this.#o.stats.jobStateEvents++;
    this.#jobState.delete(key); // re-insert: the map keeps arrival order
    this.#jobState.set(key, ev);
    this.flush();
  }

  /** Starts draining when connected and not draining already. */
  flush(): void {
    if (this.#flushing || !this.#nc) return;
    void this.flushNow();
  }

  /** Drains the outbox in order until it is empty, disconnected, or a publish must wait. */
  async flushNow(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        const nc = this.#nc;
        if (!nc) return;
        let ev: OutboxEvent | undefined;
        let jsKey: string | undefined;
        if (this.#fifo.length > 0) ev = this.#fifo[0];
        else {
          const first = this.#jobState.entries().next();
          if (first.done === true) return;
          [jsKey, ev] = first.value;
        }
        if (ev === undefined) return;
        const nodeId = this.#o.nodeId();
        try {
          const full: NodeEvent = { ...ev, source: nodeId };
          await jetstream(nc).publish(
            subjects.event(nodeId, ev.kind),
            encodeNodeEvent(full, this.#o.clock.wallMs()),
            // A retry after a lost ack carries the same id: the stream stores the event once.
            { timeout: 5000, msgID: this.#eventIds.of(nodeId, ev) },
          );
        } catch (e) {
          const subject = subjects.event(nodeId, ev.kind);
          const f = edgeFailure(e, `publishing a ${ev.kind} event`);
          const said = {
            doing: `publishing a ${ev.kind} event`,
            subject,
            credential: this.#o.credential?.() ?? credentialName(nodeId),
            log: this.#o.log,
          };
          if (f.kind === 'denied') {
            // These credentials may not send it: retrying cannot help, and it must not block
            // the others. Dropped now; a person must act (said once per subject).
            this.#pacing.failed(f, said);
            this.#o.stats.eventsDropped++;
            this.#dropHead(jsKey, ev);
            continue;
          }
          if (f.kind === 'terminal') {
            // The broker (or the client) can never take this event as it is: the same bytes
            // would be refused again. Dropped now, so it cannot block the others.
            this.#o.log('warn', 'link', `event dropped: ${messageOf(f.error)}`);
            this.#o.stats.eventsDropped++;
            this.#dropHead(jsKey, ev);
            continue;
          }
          // Keep it at the head and retry with backoff. An event the broker keeps refusing while
          // the connection is fine (a refusal natsError does not know, so calls retryable; it
          // cannot be a connectivity problem) is dropped after 3 tries so it cannot block the
          // others. No answer at all (a timeout, no responders) is
          // not a refusal: on a link that died silently the connection still looks open until
          // its pings fail, and the event must wait for the next connection
          // (docs/fault-suite.md); nor is a stream not provisioned yet.
          if (f.kind !== 'missing' && !nc.isClosed() && !natsNoAnswer(e) && ++this.#headFailures >= 3) {
            this.#o.log('warn', 'link', `event dropped after 3 failed publishes: ${messageOf(e)}`);
            this.#o.stats.eventsDropped++;
            this.#dropHead(jsKey, ev);
            continue;
          }
          this.#armRetry(this.#pacing.failed(f, said));
          return;
        }
        this.#pacing.ok(subjects.event(nodeId, ev.kind));
        this.#o.stats.eventsPublished++;
        this.#headFailures = 0;
        this.#dropHead(jsKey, ev);
      }
    } finally {
      this.#flushing = false;
    }
  }

  #dropHead(jsKey: string | undefined, ev: OutboxEvent): void {
    this.#headFailures = 0;
    if (jsKey === undefined) {
      // emit() may have dropped the head meanwhile (overflow): shift only the event we sent.
      if (this.#fifo[0] === ev) this.#fifo.shift();
    } else if (this.#jobState.get(jsKey) === ev) this.#jobState.delete(jsKey);
  }

  #armRetry(ms: number): void {
    if (this.#retryTimer || this.#stopped) return;
    this.#retryTimer = this.#o.scheduler.after(ms, () => {
      this.#retryTimer = undefined;
      this.flush();
    });
  }
}
