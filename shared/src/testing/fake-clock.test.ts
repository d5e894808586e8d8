import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './fake-clock.ts';

test('FakeClock fires due timers in time order and moves both clocks', () => {
  const c = new FakeClock(0, 0);
  const fired: string[] = [];
  c.after(20, () => fired.push(`b@${c.monotonicMs()}`));
  c.after(10, () => fired.push(`a@${c.monotonicMs()}`));
  const cancelled = c.after(15, () => fired.push('never'));
  cancelled.cancel();
  c.advance(25);
  assert.deepEqual(fired, ['a@10', 'b@20']);
  assert.equal(c.monotonicMs(), 25);
  assert.equal(c.wallMs(), 25);
  c.jumpWall(1000);
  assert.equal(c.monotonicMs(), 25);
  assert.equal(c.wallMs(), 1025);
});
