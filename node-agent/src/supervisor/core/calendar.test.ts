// StartCalendarInterval math (docs/launchd-semantics.md §1.5, §6 rows 20-27, §7 D19), in pinned time zones.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dueCalendar, fixedOffset, localToUtc, nextCalendarFiring, zoneOffset } from './calendar.ts';

const opts = { weekdayIgnoresMonth: true };
const utc = fixedOffset(0);
const NY = zoneOffset('America/New_York');
const BERLIN = zoneOffset('Europe/Berlin');
const iso = (ms: number | undefined): string => (ms === undefined ? 'none' : new Date(ms).toISOString());
/** Successive firings after `fromIso`. */
function firings(
  entries: Parameters<typeof nextCalendarFiring>[0],
  fromIso: string,
  n: number,
  zone = utc,
  o = opts,
) {
  const out: string[] = [];
  let t = Date.parse(fromIso);
  for (let i = 0; i < n; i++) {
    const next = nextCalendarFiring(entries, t, zone, o);
    if (next === undefined) break;
    out.push(iso(next));
    t = next;
  }
  return out;
}

describe('calendar matching (842 cronemu)', () => {
  it('row 20: {Minute=0} fires at HH:00:00 every hour; the search starts at the next whole minute', () => {
    assert.deepEqual(firings([{ minute: 0 }], '2026-01-05T10:00:00.000Z', 3), [
      '2026-01-05T11:00:00.000Z',
      '2026-01-05T12:00:00.000Z',
      '2026-01-05T13:00:00.000Z',
    ]);
    assert.deepEqual(firings([{ minute: 0 }], '2026-01-05T09:59:30.500Z', 1), ['2026-01-05T10:00:00.000Z']);
  });

  it('row 21: {Hour=3, Minute=15} fires daily at 03:15:00 local time', () => {
    assert.deepEqual(firings([{ hour: 3, minute: 15 }], '2026-01-05T12:00:00Z', 2, NY), [
      '2026-01-06T08:15:00.000Z',
      '2026-01-07T08:15:00.000Z',
    ]);
  });

  it('row 22: Weekday 0 and 7 are both Sunday; with no Hour/Minute it fires every minute of Sunday', () => {
    // The model folds 7 to 0; the math also accepts 7 (7 % 7).
    const a = firings([{ weekday: 0 }], '2026-01-05T12:00:00Z', 3);
    const b = firings([{ weekday: 7 }], '2026-01-05T12:00:00Z', 3);
    assert.deepEqual(a, b);
    assert.deepEqual(a, ['2026-01-11T00:00:00.000Z', '2026-01-11T00:01:00.000Z', '2026-01-11T00:02:00.000Z']);
  });

  it('row 23: {Day=1, Weekday=1} fires on the 1st and on every Monday (OR)', () => {
    const days = firings([{ day: 1, weekday: 1, hour: 9, minute: 0 }], '2026-01-27T12:00:00Z', 4).map((s) =>
      s.slice(0, 10),
    );
    // Tue 27 Jan 2026 -> Sun 1 Feb (1st), Mon 2 Feb, Mon 9 Feb, Mon 16 Feb.
    assert.deepEqual(days, ['2026-02-01', '2026-02-02', '2026-02-09', '2026-02-16']);
  });

  it('row 24: an array fires at each entry (09:00 and 17:30)', () => {
    assert.deepEqual(
      firings(
        [
          { hour: 9, minute: 0 },
          { hour: 17, minute: 30 },
        ],
        '2026-01-05T08:00:00Z',
        3,
      ),
      ['2026-01-05T09:00:00.000Z', '2026-01-05T17:30:00.000Z', '2026-01-06T09:00:00.000Z'],
    );
  });

  it('row 25: {} fires every minute', () => {
    assert.deepEqual(firings([{}], '2026-01-05T08:00:10Z', 2), [
      '2026-01-05T08:01:00.000Z',
      '2026-01-05T08:02:00.000Z',
    ]);
  });

  it('D19: the Weekday search ignores Month in 842 (configurable)', () => {
    const entry = [{ month: 12, weekday: 1, hour: 0, minute: 0 }];
    assert.equal(firings(entry, '2026-01-01T00:00:00Z', 1)[0], '2026-01-05T00:00:00.000Z');
    assert.equal(
      firings(entry, '2026-01-01T00:00:00Z', 1, utc, { weekdayIgnoresMonth: false })[0],
      '2026-12-07T00:00:00.000Z',
    );
  });

  it('an impossible date (Feb 30) gives no firing instead of looping forever', () => {
    assert.equal(
      nextCalendarFiring([{ month: 2, day: 30 }], Date.parse('2026-01-01T00:00:00Z'), utc, opts),
      undefined,
    );
    // Feb 29 is found in the next leap year.
    assert.equal(
      iso(
        nextCalendarFiring(
          [{ month: 2, day: 29, hour: 0, minute: 0 }],
          Date.parse('2026-03-01T00:00:00Z'),
          utc,
          opts,
        ),
      ),
      '2028-02-29T00:00:00.000Z',
    );
  });
});

describe('daylight saving time', () => {
  it('spring forward (New York, 8 Mar 2026): 02:30 does not exist and fires at 03:00 EDT', () => {
    const t = nextCalendarFiring([{ hour: 2, minute: 30 }], Date.parse('2026-03-07T12:00:00Z'), NY, opts);
    // 7 Mar 02:30 EST has passed; 8 Mar 02:30 is skipped -> the first existing minute, 03:00 EDT = 07:00Z.
    assert.equal(iso(t), '2026-03-08T07:00:00.000Z');
    const after = nextCalendarFiring([{ hour: 2, minute: 30 }], t ?? 0, NY, opts);
    assert.equal(iso(after), '2026-03-09T06:30:00.000Z', 'back to 02:30 EDT the next day');
  });

  it('fall back (New York, 1 Nov 2026): 01:30 happens twice and fires once', () => {
    const fires = firings([{ minute: 30 }], '2026-11-01T04:00:00Z', 3, NY);
    // 00:30 EDT (04:30Z), 01:30 EDT (05:30Z), then 02:30 EST (07:30Z): the second 01:30 (06:30Z) is skipped.
    assert.deepEqual(fires, [
      '2026-11-01T04:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T07:30:00.000Z',
    ]);
  });

  it('Europe/Berlin: 02:15 on 29 Mar 2026 fires at 03:00 CEST; 02:15 on 25 Oct fires once', () => {
    assert.equal(
      iso(nextCalendarFiring([{ hour: 2, minute: 15 }], Date.parse('2026-03-28T12:00:00Z'), BERLIN, opts)),
      '2026-03-29T01:00:00.000Z',
    );
    const oct = firings([{ hour: 2, minute: 15 }], '2026-10-24T12:00:00Z', 2, BERLIN);
    assert.deepEqual(oct, ['2026-10-25T00:15:00.000Z', '2026-10-26T01:15:00.000Z']);
  });

  it('localToUtc picks the first occurrence of a repeated wall time', () => {
    const local = Date.UTC(2026, 10, 1, 1, 30);
    assert.equal(iso(localToUtc(local, NY)), '2026-11-01T05:30:00.000Z');
  });
});

describe('coalescing (row 27)', () => {
  it('three missed firings while asleep give exactly one run, rescheduled after now', () => {
    const entries = [{ minute: 0 }];
    const stored = nextCalendarFiring(entries, Date.parse('2026-01-05T09:30:00Z'), utc, opts);
    assert.equal(iso(stored), '2026-01-05T10:00:00.000Z');
    // Wake at 12:20: 10:00, 11:00 and 12:00 were missed.
    const r = dueCalendar(entries, stored, Date.parse('2026-01-05T12:20:00Z'), utc, opts);
    assert.equal(r.fire, true);
    assert.equal(iso(r.nextMs), '2026-01-05T13:00:00.000Z');
    const again = dueCalendar(entries, r.nextMs, Date.parse('2026-01-05T12:20:01Z'), utc, opts);
    assert.equal(again.fire, false);
  });

  it('a backward clock jump does not fire early', () => {
    const r = dueCalendar(
      [{ minute: 0 }],
      Date.parse('2026-01-05T10:00:00Z'),
      Date.parse('2026-01-05T08:00:00Z'),
      utc,
      opts,
    );
    assert.deepEqual(r, { fire: false, nextMs: Date.parse('2026-01-05T10:00:00Z') });
  });

  it('after a step back the next firing is re-aimed at the next match after the new time, nothing fires', () => {
    // Stored before the step: the 10:00 firing. The clock goes back to 08:20: 09:00 comes first.
    const back = Date.parse('2026-01-05T08:20:00Z');
    const r = dueCalendar([{ minute: 0 }], Date.parse('2026-01-05T10:00:00Z'), back, utc, opts, true);
    assert.deepEqual(r, { fire: false, nextMs: Date.parse('2026-01-05T09:00:00Z') });
    // Every minute, stepped back 3 hours: the next minute, not three hours away.
    const m = dueCalendar(
      [{}],
      Date.parse('2026-01-05T12:01:00Z'),
      Date.parse('2026-01-05T09:00:30Z'),
      utc,
      opts,
      true,
    );
    assert.deepEqual(m, { fire: false, nextMs: Date.parse('2026-01-05T09:01:00Z') });
    // A step back that passes no match keeps the stored firing.
    const k = dueCalendar(
      [{ hour: 23, minute: 0 }],
      Date.parse('2026-01-05T23:00:00Z'),
      back,
      utc,
      opts,
      true,
    );
    assert.deepEqual(k, { fire: false, nextMs: Date.parse('2026-01-05T23:00:00Z') });
  });
});

describe('invalid entries (row 26)', () => {
  it('a dict with Minute=60, Hour=24, Day=0, Weekday=8 or Month=13 never fires; valid siblings still do', () => {
    const from = Date.parse('2026-01-05T10:00:00Z');
    for (const bad of [
      { minute: 60 },
      { hour: 24 },
      { day: 0 },
      { weekday: 8 },
      { month: 13 },
      { minute: 1.5 },
    ])
      assert.equal(nextCalendarFiring([bad], from, utc, opts), undefined, JSON.stringify(bad));
    assert.equal(
      iso(nextCalendarFiring([{ minute: 60 }, { minute: 5 }], from, utc, opts)),
      '2026-01-05T10:05:00.000Z',
    );
  });
});
