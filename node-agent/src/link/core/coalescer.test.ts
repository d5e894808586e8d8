import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from './coalescer.ts';

test('first value goes out at once; later ones within the window are held, the latest wins', () => {
  const c = new Coalescer<string>(1000);
  assert.deepEqual(c.offer('a', 'running', 0), { emit: 'running' });
  assert.deepEqual(c.offer('a', 'waiting', 100), { wakeAt: 1000 });
  assert.deepEqual(c.offer('a', 'running', 200), { wakeAt: 1000 });
  assert.equal(c.nextWake(), 1000);
  assert.deepEqual(c.due(999), []);
  assert.deepEqual(c.due(1000), [['a', 'running']]);
  assert.equal(c.coalesced, 1);
  assert.equal(c.nextWake(), undefined);
  // The window restarts at the delayed send.
  assert.deepEqual(c.offer('a', 'waiting', 1500), { wakeAt: 2000 });
  assert.deepEqual(c.offer('b', 'running', 1500), { emit: 'running' }, 'keys are independent');
});

test('a flapping key publishes at most once per window over a long run', () => {
  const c = new Coalescer<number>(1000);
  let sent = 0;
  let last: number | undefined;
  for (let t = 0; t <= 10_000; t += 20) {
    for (const [, v] of c.due(t)) {
      sent++;
      last = v;
    }
    if (c.offer('job', t, t).emit !== undefined) {
      sent++;
      last = t;
    }
  }
  for (const [, v] of c.due(20_000)) {
    sent++;
    last = v;
  }
  assert.ok(sent <= 12, `sent ${sent}`);
  assert.equal(last, 10_000, 'the final value is published');
});

test('forget keeps pending values and drops idle keys', () => {
  const c = new Coalescer<string>(1000);
  c.offer('a', 'x', 0);
  c.offer('a', 'y', 10);
  c.forget('a');
  assert.equal(c.size, 1);
  c.due(1000);
  c.forget('a');
  assert.equal(c.size, 0);
});
