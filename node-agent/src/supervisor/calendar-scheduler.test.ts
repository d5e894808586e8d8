import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import { CalendarScheduler } from './calendar-scheduler.ts';
import { fixedOffset } from './core/calendar.ts';

describe('CalendarScheduler after a wall-clock jump', () => {
  it('a step forward short of the next firing: it fires at its wall time, not late by the step', () => {
    // 12:00:00; the hourly job (minute 0) is due at 13:00, its timer armed for 60 min.
    const clock = new FakeClock();
    const cal = new CalendarScheduler(clock, clock, fixedOffset(0), { weekdayIgnoresMonth: false });
    const fired: number[] = [];
    cal.add([{ minute: 0 }], () => fired.push(clock.wallMs()));
    clock.advance(60_000);
    // The clock is stepped 50 minutes forward (12:51); the jump detector re-checks.
    clock.jumpWall(50 * 60_000);
    cal.recheck();
    assert.deepEqual(fired, [], 'nothing was due at the step');
    // 9 minutes later it is 13:00 on the new clock: the job runs then, not 50 minutes later.
    clock.advance(9 * 60_000 + 1000);
    assert.deepEqual(fired, [Date.UTC(2026, 0, 5, 13, 0, 0)]);
    cal.close();
  });
});
