import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ConsoleEvent, EventRing } from './event-ring.ts';

const ev = (seq: number, label = 'a'): ConsoleEvent => ({
  seq,
  at: seq,
  source: 'controller',
  kind: 'job-state',
  label,
  reason: '',
  detail: '',
  version: 0,
});

test('the ring keeps the newest events, newest first, and drops re-deliveries', () => {
  const r = new EventRing(10);
  for (let i = 1; i <= 100; i++) r.push(ev(i, i % 2 ? 'odd' : 'even'));
  r.push(ev(50));
  assert.deepEqual(
    r.newest(3).map((e) => e.seq),
    [100, 99, 98],
  );
  assert.deepEqual(
    r.newest(100, (e) => e.label === 'odd').map((e) => e.seq),
    [99, 97, 95, 93, 91],
  );
  assert.equal(r.newest(100).length, 10);
});
