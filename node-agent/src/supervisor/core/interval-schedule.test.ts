// StartInterval slots: what an early, an on-time and a late timer firing mean.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { intervalAfterSleep, intervalFired, intervalSchedule, nextDueMs } from './interval-schedule.ts';

describe('interval schedule', () => {
  const s = intervalSchedule(1000, 60);

  it('slot 1 is due one period after the anchor', () => {
    assert.equal(nextDueMs(s), 61_000);
  });

  it('an early firing fires nothing and keeps the slot (the runtime re-arms for the rest)', () => {
    const f = intervalFired(s, 60_950);
    assert.deepEqual(f, { fire: false, schedule: s, earlyMs: 50 });
  });

  it('an on-time firing fires its slot once; the next is one period later', () => {
    const f = intervalFired(s, 61_000);
    assert.ok(f.fire);
    assert.equal(f.slot, 1);
    assert.equal(nextDueMs(f.schedule), 121_000);
    // The same timer delivered again (a duplicate or a re-armed remainder) cannot fire slot 1 again.
    const again = intervalFired(f.schedule, 61_050);
    assert.equal(again.fire, false);
  });

  it('a firing late by three periods fires once for the latest due slot', () => {
    const f = intervalFired(s, 61_000 + 3 * 60_000 + 10);
    assert.ok(f.fire);
    assert.equal(f.slot, 4);
    assert.equal(f.coalesced, 3);
    assert.equal(f.lagMs, 180_010);
    assert.equal(nextDueMs(f.schedule), 301_000);
  });

  it('after sleep: fires once and re-anchors when a whole period passed counting the sleep', () => {
    assert.deepEqual(intervalAfterSleep(s, 11_000, 30_000), { fire: false, schedule: s });
    const r = intervalAfterSleep(s, 11_000, 3_600_000);
    assert.equal(r.fire, true);
    assert.equal(nextDueMs(r.schedule), 71_000);
    assert.deepEqual(intervalAfterSleep(s, 11_000, -5_000), { fire: false, schedule: s });
  });
});
