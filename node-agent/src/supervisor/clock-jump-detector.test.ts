import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Scheduler } from '@launchfleet/shared/clock';
import { ClockJumpDetector } from './clock-jump-detector.ts';

/** Hand-driven clocks: wall, monotonic and (optionally) boot time. */
function clocks(withBoot: boolean): { clock: Clock; t: { wall: number; mono: number; boot: number } } {
  const t = { wall: 1_000_000, mono: 0, boot: 0 };
  const clock: Clock = {
    wallMs: () => t.wall,
    monotonicMs: () => t.mono,
    ...(withBoot && { bootMs: () => t.boot }),
  };
  return { clock, t };
}
const noTimers: Scheduler = { after: () => ({ cancel: () => undefined }) };

test('a wall-clock step is not sleep when there is a boot clock; sleep is', () => {
  const { clock, t } = clocks(true);
  const seen: [number, number][] = [];
  const d = new ClockJumpDetector(clock, noTimers, (delta, slept) => seen.push([delta, slept]));
  d.start();
  // 30 s pass, then the wall clock is stepped 3 hours forward: no sleep.
  t.wall += 30_000 + 3 * 3_600_000;
  t.mono += 30_000;
  t.boot += 30_000;
  d.check();
  // 30 s pass, then the wall clock is stepped 1 hour back.
  t.wall += 30_000 - 3_600_000;
  t.mono += 30_000;
  t.boot += 30_000;
  d.check();
  // The machine sleeps 10 minutes: wall and boot move on, monotonic does not.
  t.wall += 600_000;
  t.boot += 600_000;
  d.check();
  assert.deepEqual(seen, [
    [3 * 3_600_000, 0],
    [-3_600_000, 0],
    [600_000, 600_000],
  ]);
});

test('without a boot clock every forward jump counts as sleep (as before)', () => {
  const { clock, t } = clocks(false);
  const seen: [number, number][] = [];
  const d = new ClockJumpDetector(clock, noTimers, (delta, slept) => seen.push([delta, slept]));
  d.start();
  t.wall += 3 * 3_600_000;
  d.check();
  t.wall -= 3_600_000;
  d.check();
  assert.deepEqual(seen, [
    [3 * 3_600_000, 3 * 3_600_000],
    [-3_600_000, 0],
  ]);
});
