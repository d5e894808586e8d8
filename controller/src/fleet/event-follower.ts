/**
 * Follows the fleet's events (stream `LF_EVENTS`): the stored ones of the last N seconds, then,
 * if asked, new ones as they come. Each follower holds one short-lived JetStream consumer of
 * the controller's (deleted when the follower ends), so their number is bounded per controller.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, InvalidArgumentError, UnavailableError } from '@launchfleet/shared';
import {
  type NodeEvent,
  controllerEventSource,
  decodeNodeEvent,
  eventsStream,
  isNodeId,
  subjects,
} from '@launchfleet/shared/messages';

/** Which events, from when. */
export interface EventFilter {
  /** Only events of this source (a node id, or `controller`). */
  readonly source?: string;
  /** Only events about this job label. */
  readonly label?: string;
  /** Stored events newer than this many seconds first (0: only new events). */
  readonly historySeconds: number;
  /** Keep following new events; without it, stop once the stored ones are sent. */
  readonly follow: boolean;
}

/** An event with its place in the stream. */
export interface StoredEvent {
  readonly seq: number;
  /** Wall ms the stream stored it. */
  readonly at: number;
  readonly event: NodeEvent;
}

/** Concurrent followers per controller (each holds a JetStream consumer). */
export const maxEventFollowers = 64;

export class EventFollower {
  readonly #nc: NatsConnection;
  readonly #clock: Clock;
  #active = 0;

  constructor(nc: NatsConnection, clock: Clock) {
    this.#nc = nc;
    this.#clock = clock;
  }

  /** Sends matching events to `emit` (waiting for it) until done or `signal` aborts. */
  async follow(f: EventFilter, emit: (e: StoredEvent) => Promise<void>, signal: AbortSignal): Promise<void> {
    if (f.source && f.source !== controllerEventSource && !isNodeId(f.source))
      throw new InvalidArgumentError('source must be a node id or "controller"', 'source');
    if (this.#active >= maxEventFollowers)
      throw new UnavailableError(
        `${maxEventFollowers} event streams are open on this controller; retry later`,
      );
    this.#active++;
    try {
      await this.#follow(f, emit, signal);
    } finally {
      this.#active--;
    }
  }

  async #follow(f: EventFilter, emit: (e: StoredEvent) => Promise<void>, signal: AbortSignal): Promise<void> {
    const consumer = await jetstream(this.#nc).consumers.get(eventsStream.name, {
      filter_subjects: f.source ? subjects.eventsOf(f.source) : eventsStream.subjects[0],
      ...(f.historySeconds > 0
        ? {
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(this.#clock.wallMs() - f.historySeconds * 1000).toISOString(),
          }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const send = async (m: { seq: number; time: Date; data: Uint8Array }): Promise<void> => {
      const e = decodeNodeEvent(m.data);
      if (!e.ok || (f.label && e.value.label !== f.label)) return;
      await emit({ seq: m.seq, at: m.time.getTime(), event: e.value });
    };
    try {
      if (!f.follow) {
        // Stored events only: stop when the consumer has nothing pending.
        while (!signal.aborted) {
          const m = await consumer.next({ expires: 1000 });
          if (!m) break;
          await send(m);
          if (m.info.pending === 0) break;
        }
        return;
      }
      const messages = await consumer.consume();
      const stop = () => messages.stop();
      signal.addEventListener('abort', stop, { once: true });
      try {
        if (signal.aborted) return;
        for await (const m of messages) {
          await send(m);
          if (signal.aborted) break;
        }
      } finally {
        signal.removeEventListener('abort', stop);
        messages.stop();
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }
}
