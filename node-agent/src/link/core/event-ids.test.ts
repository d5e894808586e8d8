import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventIds } from './event-ids.ts';

test('an event keeps its id on every publish attempt (a retry after a lost ack)', () => {
  const ids = new EventIds('b1');
  const ev = { kind: 'job-state', label: 'com.acme.a' };
  const first = ids.of('n1', ev);
  ids.of('n1', { kind: 'other' });
  assert.equal(ids.of('n1', ev), first);
  assert.equal(ids.of('n1', ev), first);
  assert.equal(first, 'n1.b1.1');
});

test('another event, even with the same content, gets another id; another boot, other ids', () => {
  const ids = new EventIds('b1');
  const a = ids.of('n1', { kind: 'drift', label: 'x' });
  const b = ids.of('n1', { kind: 'drift', label: 'x' });
  assert.notEqual(a, b);
  assert.notEqual(new EventIds('b2').of('n1', { kind: 'drift', label: 'x' }), a);
});
