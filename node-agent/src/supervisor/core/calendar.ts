/**
 * StartCalendarInterval in local time (docs/launchd-semantics.md §1.5), pure.
 *
 * 842 semantics (`cronemu`, `cronemu_wday`, `calendarinterval_setalarm`):
 * - The search starts at the next whole minute after `afterMs`; firings fall on second 0.
 * - Missing fields are wildcards; `{}` fires every minute; `{Weekday=1}` every minute of Mondays.
 * - Day and Weekday both set: either matches (OR). Weekday 7 is Sunday (the model folds it to 0).
 * - D19 (configurable, 842 default): the Weekday search ignores Month, so `{Month=12, Weekday=1}`
 *   fires every Monday of the year.
 * Daylight saving time, which 842 left to mktime():
 * - A wall time that does not exist (spring forward) fires at the first existing minute after it,
 *   that is, at the transition instant (02:30 on the spring-forward night in New York fires at 03:00).
 * - A wall time that happens twice (fall back) fires once, at its first occurrence.
 * Coalescing: the runtime keeps each entry's next firing; whenever it looks (timer, wake, clock
 * jump) every entry whose firing is due runs ONCE and is rescheduled after "now", however many
 * firings were missed (`dueCalendar`).
 *
 * The time zone is injected as an offset function so tests can pin one; `zoneOffset(name)` builds
 * one from the ICU database through Intl (no I/O).
 */
import type { CalendarInterval } from '@launchfleet/shared/job';

/** Minutes east of UTC in effect at a UTC instant (New York in winter: -300). */
export type ZoneOffsetFn = (utcMs: number) => number;

const MINUTE = 60_000;
const DAY = 86_400_000;

/** The offset function of an IANA time zone (or the process's default zone when `name` is undefined). */
export function zoneOffset(name?: string): ZoneOffsetFn {
  // Built at the first use: a formatter reads ICU's time-zone data, 5 MB of resident memory
  // that an agent without StartCalendarInterval jobs never needs (test/bench/RESULTS.md).
  let fmt: Intl.DateTimeFormat | undefined;
  const cache = new Map<number, number>();
  return (utcMs: number): number => {
    // Offsets change on minute boundaries in every zone in use; cache per minute, bounded.
    const key = Math.floor(utcMs / MINUTE);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    fmt ??= new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    const parts: Record<string, number> = {};
    for (const p of fmt.formatToParts(new Date(key * MINUTE)))
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const asUtc = Date.UTC(
      parts['year'] ?? 1970,
      (parts['month'] ?? 1) - 1,
      parts['day'] ?? 1,
      parts['hour'] ?? 0,
      parts['minute'] ?? 0,
      parts['second'] ?? 0,
    );
    const off = Math.round((asUtc - key * MINUTE) / MINUTE);
    if (cache.size > 4096) cache.clear();
    cache.set(key, off);
    return off;
  };
}

/** A fixed offset (UTC = 0), for tests and for zones without DST. */
export function fixedOffset(minutes: number): ZoneOffsetFn {
  return () => minutes;
}

export interface CalendarOptions {
  /** §7 D19: the Weekday search ignores Month (842: true). */
  readonly weekdayIgnoresMonth: boolean;
  /** How far ahead to search before giving up (e.g. `{Month=2, Day=30}` never matches). Default 8 years. */
  readonly horizonDays?: number;
}

/** Local civil fields of a "local-as-UTC" millisecond value. */
function fields(localMs: number): { y: number; mo: number; d: number; h: number; mi: number; wd: number } {
  const dt = new Date(localMs);
  return {
    y: dt.getUTCFullYear(),
    mo: dt.getUTCMonth() + 1,
    d: dt.getUTCDate(),
    h: dt.getUTCHours(),
    mi: dt.getUTCMinutes(),
    wd: dt.getUTCDay(),
  };
}

/** Does the civil date match the entry's Month/Day/Weekday (842 OR semantics, D19)? */
function dateMatches(e: CalendarInterval, mo: number, d: number, wd: number, opts: CalendarOptions): boolean {
  const monthOk = e.month === undefined || e.month === mo;
  const dayOk = e.day === undefined || e.day === d;
  if (e.weekday === undefined) return monthOk && dayOk;
  const weekdayHit = e.weekday % 7 === wd && (opts.weekdayIgnoresMonth || monthOk);
  if (e.day === undefined) return weekdayHit;
  return (monthOk && dayOk) || weekdayHit;
}

/**
 * The UTC instant at which local wall time `localMs` (local-as-UTC) happens first. For a wall time
 * skipped by a forward transition, the transition instant (the first existing minute after it).
 */
export function localToUtc(localMs: number, offset: ZoneOffsetFn): number {
  // Candidate instants using the offsets in force a day either side: at most two distinct offsets.
  const offA = offset(localMs - DAY);
  const offB = offset(localMs + DAY);
  const candidates = [localMs - offA * MINUTE, localMs - offB * MINUTE].sort((a, b) => a - b);
  for (const t of candidates) if (t + offset(t) * MINUTE === localMs) return t; // earliest real occurrence
  // The wall time does not exist: find the first instant whose wall time is later than it.
  let lo = candidates[0] ?? localMs;
  let hi = candidates[1] ?? localMs;
  if (hi < lo) [lo, hi] = [hi, lo];
  // Invariant: wall(lo) < localMs <= wall(hi) is what we search for, minute resolution.
  lo = Math.floor(lo / MINUTE);
  hi = Math.ceil(hi / MINUTE);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const wall = mid * MINUTE + offset(mid * MINUTE) * MINUTE;
    if (wall < localMs) lo = mid;
    else hi = mid;
  }
  return hi * MINUTE;
}

/**
 * The next firing of one entry strictly after `afterMs` (UTC), or undefined if none within the
 * horizon. Searches day by day in local civil time, then hour/minute within the day.
 */
export function nextEntryFiring(
  entry: CalendarInterval,
  afterMs: number,
  offset: ZoneOffsetFn,
  opts: CalendarOptions,
): number | undefined {
  // Row 26: a dict with a value out of range never fires (the model drops it with a warning;
  // this guards the math against a JobSpec built some other way).
  if (!calendarEntryIsValid(entry)) return undefined;
  // Start at the next whole minute (842: tm_min + 1, seconds 0).
  const startUtc = Math.floor(afterMs / MINUTE) * MINUTE + MINUTE;
  const startLocal = startUtc + offset(startUtc) * MINUTE;
  const firstDay = Math.floor(startLocal / DAY) * DAY;
  const horizon = opts.horizonDays ?? 366 * 8 + 2;
  const hours = entry.hour !== undefined ? [entry.hour] : range(24);
  const minutes = entry.minute !== undefined ? [entry.minute] : range(60);
  for (let i = 0; i <= horizon; i++) {
    const day = firstDay + i * DAY;
    const f = fields(day);
    if (!dateMatches(entry, f.mo, f.d, f.wd, opts)) continue;
    for (const h of hours) {
      for (const mi of minutes) {
        const local = day + h * 3_600_000 + mi * MINUTE;
        // Cheap skip of wall times before the start, with an hour of slack for a repeated hour.
        if (local < startLocal - 3_600_000) continue;
        const utc = localToUtc(local, offset);
        if (utc >= startUtc) return utc;
      }
    }
  }
  return undefined;
}

/** launchd's ranges (§1.5): Minute 0-59, Hour 0-23, Day 1-31, Weekday 0-7, Month 1-12; integers only. */
export function calendarEntryIsValid(e: CalendarInterval): boolean {
  const ok = (v: number | undefined, min: number, max: number): boolean =>
    v === undefined || (Number.isInteger(v) && v >= min && v <= max);
  return (
    ok(e.minute, 0, 59) && ok(e.hour, 0, 23) && ok(e.day, 1, 31) && ok(e.weekday, 0, 7) && ok(e.month, 1, 12)
  );
}

/** The earliest next firing over all entries (an array of dicts), strictly after `afterMs`. */
export function nextCalendarFiring(
  entries: readonly CalendarInterval[],
  afterMs: number,
  offset: ZoneOffsetFn,
  opts: CalendarOptions,
): number | undefined {
  let best: number | undefined;
  for (const e of entries) {
    const t = nextEntryFiring(e, afterMs, offset, opts);
    if (t !== undefined && (best === undefined || t < best)) best = t;
  }
  return best;
}

/**
 * Coalescing (§1.5 step 4): given the stored next firing and the wall time now, should the job
 * fire (once, however many firings were missed), and what is the next firing after now?
 *
 * `steppedBack`: the wall clock was just stepped back. The stored firing was computed before the
 * step and may now lie hours ahead, past matches that are in the future again: it is re-aimed
 * at the next match after now (nothing fires for a step back). launchd 842's absolute kqueue
 * timer would stay silent until the clock caught up; a calendar job that says "every minute"
 * goes on every minute here, as cron and systemd timers do after a clock change.
 */
export function dueCalendar(
  entries: readonly CalendarInterval[],
  storedNextMs: number | undefined,
  nowMs: number,
  offset: ZoneOffsetFn,
  opts: CalendarOptions,
  steppedBack = false,
): { readonly fire: boolean; readonly nextMs: number | undefined } {
  if (storedNextMs === undefined) return { fire: false, nextMs: undefined };
  if (storedNextMs > nowMs) {
    if (!steppedBack) return { fire: false, nextMs: storedNextMs };
    const fresh = nextCalendarFiring(entries, nowMs, offset, opts);
    return { fire: false, nextMs: fresh !== undefined && fresh < storedNextMs ? fresh : storedNextMs };
  }
  // Reschedule to the next FUTURE match: strictly after now, so the current minute is not fired twice.
  return { fire: true, nextMs: nextCalendarFiring(entries, nowMs, offset, opts) };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
