/**
 * StartInterval as numbered slots, pure (docs/launchd-semantics.md §2.2, §6 row 28): slot k is due
 * `anchor + k * period` on the monotonic clock, anchored at load, so firings stay N s apart from
 * load and not from exits. The runtime arms one timer for the next slot and hands every firing
 * to `intervalFired`, which decides what the firing means:
 *
 * - A timer that fires before its slot is due (real timers do, by a millisecond against
 *   performance.now(); a loaded machine's by more) fires nothing: the runtime re-arms it for the
 *   rest. Acting on it and then arming "the next slot after now" would arm the SAME slot again,
 *   and its second firing during the run would queue an extra run (the double run this module
 *   exists to prevent).
 * - A late timer fires once, for the latest slot that is due; slots it slept through are
 *   coalesced, never replayed in a burst.
 * - Slot numbers only grow: a slot fires at most once, whatever the timers do.
 */

/** Where a job's StartInterval stands. */
export interface IntervalSchedule {
  /** Monotonic ms of slot 0 (the load, or the last re-anchoring after sleep). */
  readonly anchorMs: number;
  readonly periodMs: number;
  /** The next slot that may fire (>= 1). Invariant: every slot below it has fired or was coalesced. */
  readonly nextSlot: number;
}

/** The schedule of a job loaded (or re-anchored) at `anchorMs` with StartInterval `periodSec`. */
export function intervalSchedule(anchorMs: number, periodSec: number): IntervalSchedule {
  return { anchorMs, periodMs: periodSec * 1000, nextSlot: 1 };
}

/** When the next slot is due (monotonic ms): what the runtime arms its timer for. */
export function nextDueMs(s: IntervalSchedule): number {
  return s.anchorMs + s.nextSlot * s.periodMs;
}

/** What one timer firing means. */
export type IntervalFiring =
  /** Early: nothing fires; re-arm for `nextDueMs(schedule)` (unchanged). */
  | { readonly fire: false; readonly schedule: IntervalSchedule; readonly earlyMs: number }
  /**
   * Fire once for `slot`. `coalesced` slots before it were slept through; `lagMs` is how late the
   * firing came after the slot the timer was armed for.
   */
  | {
      readonly fire: true;
      readonly slot: number;
      readonly coalesced: number;
      readonly lagMs: number;
      readonly schedule: IntervalSchedule;
    };

/** The timer armed for `nextDueMs(s)` fired at `nowMs`. */
export function intervalFired(s: IntervalSchedule, nowMs: number): IntervalFiring {
  const due = nextDueMs(s);
  if (nowMs < due) return { fire: false, schedule: s, earlyMs: due - nowMs };
  const latest = Math.floor((nowMs - s.anchorMs) / s.periodMs);
  const slot = Math.max(s.nextSlot, latest);
  return {
    fire: true,
    slot,
    coalesced: slot - s.nextSlot,
    lagMs: nowMs - due,
    schedule: { ...s, nextSlot: slot + 1 },
  };
}

/**
 * The machine slept or the wall clock moved `deltaMs` forward while the monotonic clock did not
 * count it (§7 D4, 842: firings missed during sleep coalesce into one at wake). If a whole period
 * has passed since the last slot that was due, counting the sleep, fire once now and re-anchor
 * at `nowMs`; otherwise nothing changes.
 */
export function intervalAfterSleep(
  s: IntervalSchedule,
  nowMs: number,
  deltaMs: number,
): { readonly fire: boolean; readonly schedule: IntervalSchedule } {
  if (deltaMs <= 0) return { fire: false, schedule: s };
  const previousDue = nextDueMs(s) - s.periodMs;
  if (deltaMs + (nowMs - previousDue) < s.periodMs) return { fire: false, schedule: s };
  return { fire: true, schedule: { anchorMs: nowMs, periodMs: s.periodMs, nextSlot: 1 } };
}
