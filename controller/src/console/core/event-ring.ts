/**
 * The recent events the console shows on job and node pages: a bounded ring of what LF_EVENTS
 * delivered, newest last, so a page asks "the last 50 events of this label / this node" without
 * a JetStream consumer per page view. Pure.
 */
import type { NodeEventKind } from '@launchfleet/shared/messages';

/** One event as the console shows it. */
export interface ConsoleEvent {
  readonly seq: number;
  readonly at: number;
  /** A node id, or `controller`. */
  readonly source: string;
  readonly kind: NodeEventKind;
  readonly label: string;
  readonly reason: string;
  readonly detail: string;
  readonly version: number;
}

export class EventRing {
  readonly #cap: number;
  #items: ConsoleEvent[] = [];

  constructor(capacity: number) {
    this.#cap = Math.max(1, capacity);
  }

  get size(): number {
    return this.#items.length;
  }

  /** Adds an event (ignored when not newer than the last one: a re-delivery). */
  push(e: ConsoleEvent): void {
    const last = this.#items[this.#items.length - 1];
    if (last && e.seq <= last.seq) return;
    this.#items.push(e);
    // Drop in batches so a full ring costs O(1) amortised per event.
    if (this.#items.length > this.#cap * 1.25) this.#items = this.#items.slice(-this.#cap);
  }

  /** The newest `max` events that satisfy `pred`, newest first. */
  newest(max: number, pred: (e: ConsoleEvent) => boolean = () => true): ConsoleEvent[] {
    const out: ConsoleEvent[] = [];
    const floor = Math.max(0, this.#items.length - this.#cap);
    for (let i = this.#items.length - 1; i >= floor && out.length < max; i--) {
      const e = this.#items[i];
      if (e && pred(e)) out.push(e);
    }
    return out;
  }
}
