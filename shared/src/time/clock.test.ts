import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemScheduler } from './clock.ts';

test('systemScheduler: a delay beyond one Node timer does not fire early, and is cancellable', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    let fired = 0;
    // 30 days (finished-rollout retention) and just past the limit.
    const long = systemScheduler.after(30 * 24 * 3600_000, () => fired++);
    const edge = systemScheduler.after(2 ** 31, () => fired++); // one past the longest Node timer
    let short = 0;
    const near = systemScheduler.after(5, () => short++);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fired, 0, 'a timer of 30 days fired within 100 ms');
    assert.equal(short, 1, 'a short timer fires as before');
    long.cancel();
    edge.cancel();
    near.cancel();
    assert.deepEqual(warnings, [], 'no TimeoutOverflowWarning');
  } finally {
    process.off('warning', onWarning);
  }
});
