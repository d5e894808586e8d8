/**
 * Message ids for the events an agent publishes into JetStream (`Nats-Msg-Id`).
 *
 * An event is published until the stream acks it (reporter.ts). When the ack is lost (the
 * link died after the broker stored the event, a leader changed) the publish is sent again; with
 * the same message id the events stream's duplicate window (shared/src/messages/names.ts,
 * `eventsStream.duplicateWindowMs`) drops the second copy, so the event is stored once.
 *
 * An id is `<node id>.<boot id>.<sequence>`: the boot id is random per agent start (events are
 * not kept across restarts), the sequence counts the events of this start. It is given to an
 * event the first time it is published and kept for that event (the queued object) on every
 * later attempt; an event emitted again, even with the same content, is a new event and gets a
 * new id.
 */
export class EventIds {
  readonly #bootId: string;
  #seq = 0;
  readonly #ids = new WeakMap<object, string>();

  constructor(bootId: string) {
    this.#bootId = bootId;
  }

  /** The id of `event` (the same object each attempt) published by `nodeId`. */
  of(nodeId: string, event: object): string {
    let id = this.#ids.get(event);
    if (id === undefined) {
      id = `${nodeId}.${this.#bootId}.${++this.#seq}`;
      this.#ids.set(event, id);
    }
    return id;
  }
}
