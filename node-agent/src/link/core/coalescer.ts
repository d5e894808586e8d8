/**
 * Per-key publish coalescing (pure): at most one publication per key per window, and the
 * latest value always goes out. A crash-looping job that changes state 50 times a second
 * publishes once a second, and its final state is never lost.
 *
 * ```
 *   offer(k, v, now)  ──▶ nothing sent within the window ──▶ { emit: v }       (send now)
 *                     └─▶ sent less than window ago      ──▶ { wakeAt: t }     (v replaces any pending value)
 *   due(now)          ──▶ every pending value whose window has passed, to send now
 * ```
 * The runtime owns the one timer (at `nextWake()`); this class only keeps times it is given.
 */

interface Slot<V> {
  lastSent: number;
  pending: V | undefined;
}

/** Outcome of an offer. */
export type OfferResult<V> =
  { readonly emit: V; readonly wakeAt?: undefined } | { readonly emit?: undefined; readonly wakeAt: number };

export class Coalescer<V> {
  readonly #windowMs: number;
  readonly #slots = new Map<string, Slot<V>>();
  /** Values replaced before they were sent (for metrics/tests). */
  coalesced = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** A new value for `key` at `now` (monotonic ms). */
  offer(key: string, value: V, now: number): OfferResult<V> {
    const s = this.#slots.get(key);
    if (s === undefined || now - s.lastSent >= this.#windowMs) {
      this.#slots.set(key, { lastSent: now, pending: undefined });
      return { emit: value };
    }
    if (s.pending !== undefined) this.coalesced++;
    s.pending = value;
    return { wakeAt: s.lastSent + this.#windowMs };
  }

  /** Pending values whose window has passed at `now`; they count as sent at `now`. */
  due(now: number): [string, V][] {
    const out: [string, V][] = [];
    for (const [k, s] of this.#slots) {
      if (s.pending !== undefined && now - s.lastSent >= this.#windowMs) {
        out.push([k, s.pending]);
        s.pending = undefined;
        s.lastSent = now;
      }
    }
    return out;
  }

  /** The earliest time a pending value becomes due, if any. */
  nextWake(): number | undefined {
    let min: number | undefined;
    for (const s of this.#slots.values())
      if (s.pending !== undefined) {
        const t = s.lastSent + this.#windowMs;
        if (min === undefined || t < min) min = t;
      }
    return min;
  }

  /** Forgets a key (job gone) once nothing is pending, so memory stays bounded by live jobs. */
  forget(key: string): void {
    const s = this.#slots.get(key);
    if (s !== undefined && s.pending === undefined) this.#slots.delete(key);
  }

  /** Keys tracked (bounded by the jobs that changed within a window). */
  get size(): number {
    return this.#slots.size;
  }
}
