/**
 * One calendar timer for every StartCalendarInterval job of the agent (launchd keeps all entries
 * in one list sorted by next firing, with one absolute timer: docs/launchd-semantics.md §1.5 step 4). Each
 * job's next firing is a wall-clock time; the single timer is armed for the earliest one. When it fires, or
 * when the clock-jump detector calls `recheck()` after sleep or a clock change, every due job
 * fires ONCE and is rescheduled after now (coalescing). After a step back every job's next
 * firing is re-aimed at its next match after the new time (core/calendar.ts, dueCalendar).
 */
import type { CalendarInterval } from '@launchfleet/shared/job';
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import type { Disposable } from '../ports/file-system.ts';
import { dueCalendar, nextCalendarFiring, type CalendarOptions, type ZoneOffsetFn } from './core/calendar.ts';

/** The longest the single timer sleeps before re-checking (bounds drift between wall and monotonic time). */
const MAX_ARM_MS = 3_600_000;

interface Entry {
  readonly entries: readonly CalendarInterval[];
  /** Called with the wall time the firing was scheduled for (the timer-lag metric). */
  readonly fire: (dueWallMs: number | undefined) => void;
  nextMs: number | undefined;
}

export class CalendarScheduler {
  private readonly items = new Set<Entry>();
  private timer: TimerHandle | undefined;
  private armedFor: number | undefined;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly offset: ZoneOffsetFn;
  private readonly opts: CalendarOptions;

  constructor(clock: Clock, scheduler: Scheduler, offset: ZoneOffsetFn, opts: CalendarOptions) {
    this.clock = clock;
    this.scheduler = scheduler;
    this.offset = offset;
    this.opts = opts;
  }

  /** Registers a job's entries; `fire` is called once per (coalesced) firing. */
  add(
    entries: readonly CalendarInterval[],
    fire: (dueWallMs: number | undefined) => void,
  ): Disposable & { nextMs(): number | undefined } {
    const item: Entry = {
      entries,
      fire,
      nextMs: nextCalendarFiring(entries, this.clock.wallMs(), this.offset, this.opts),
    };
    this.items.add(item);
    this.arm();
    return {
      dispose: () => {
        this.items.delete(item);
        this.arm();
      },
      nextMs: () => item.nextMs,
    };
  }

  /**
   * Fires every due entry once and re-arms; called by the timer and after a clock jump
   * (`steppedBack`: the wall clock went back, so firings computed before it are re-aimed).
   */
  recheck(steppedBack = false): void {
    const now = this.clock.wallMs();
    const due: { item: Entry; dueMs: number | undefined }[] = [];
    for (const item of this.items) {
      const r = dueCalendar(item.entries, item.nextMs, now, this.offset, this.opts, steppedBack);
      if (r.fire) due.push({ item, dueMs: item.nextMs });
      item.nextMs = r.nextMs;
    }
    // The timer was armed for a distance on the old wall clock: after a jump it is armed again
    // for the new one, even when the earliest firing is the same (a step forward short of it
    // would otherwise run it late by the whole step: fault-time).
    this.armedFor = undefined;
    this.arm();
    for (const { item, dueMs } of due) item.fire(dueMs);
  }

  /** Number of registered jobs. */
  size(): number {
    return this.items.size;
  }

  /** Stops the timer (agent shutdown). */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.items.clear();
  }

  private arm(): void {
    let earliest: number | undefined;
    for (const item of this.items)
      if (item.nextMs !== undefined && (earliest === undefined || item.nextMs < earliest))
        earliest = item.nextMs;
    if (earliest === this.armedFor && this.timer) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.armedFor = earliest;
    if (earliest === undefined) return;
    const delay = Math.min(MAX_ARM_MS, Math.max(0, earliest - this.clock.wallMs()));
    this.timer = this.scheduler.after(delay, () => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.recheck();
    });
  }
}
