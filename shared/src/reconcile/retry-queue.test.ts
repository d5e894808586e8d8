import { test } from 'node:test';
import assert from 'node:assert/strict';
import { again, done, terminal } from './reconcile-result.ts';
import { RetryQueue } from './retry-queue.ts';

const policy = { baseMs: 100, capMs: 1000 };

test('again without a time: per-key exponential backoff from the base, capped', () => {
  const q = new RetryQueue(policy);
  const waits: number[] = [];
  let now = 0;
  for (let i = 0; i < 7; i++) {
    const at = q.settle('system/a', again('EIO'), now) as number;
    waits.push(at - now);
    now = at;
  }
  assert.deepEqual(waits, [100, 200, 400, 800, 1000, 1000, 1000]);
  assert.equal(q.failures('system/a'), 7);
});

test('keys back off independently: one failing key does not delay another', () => {
  const q = new RetryQueue(policy);
  for (let i = 0; i < 5; i++) q.settle('system/slow', again('EIO'), 0);
  assert.equal(q.settle('system/other', again('EIO'), 0), 100);
  assert.equal(q.next(), 100);
  assert.equal(q.failures('system/other'), 1);
});

test('done and terminal take the key out and forget its backoff', () => {
  const q = new RetryQueue(policy);
  q.settle('k', again('x'), 0);
  q.settle('k', again('x'), 100);
  assert.equal(q.settle('k', done, 300), undefined);
  assert.equal(q.size, 0);
  assert.equal(q.settle('k', again('x'), 400), 500, 'after done, the backoff starts at the base again');
  assert.equal(q.settle('k', terminal('label-conflict'), 500), undefined);
  assert.equal(q.held('k', 500), false);
  assert.equal(q.next(), undefined);
  assert.equal(q.failures('k'), 0);
});

test('again after a known time is used as given and does not grow the backoff', () => {
  const q = new RetryQueue(policy);
  assert.equal(q.settle('k', again('tearing down', 2500), 10), 2510);
  assert.equal(q.failures('k'), 0);
  assert.equal(q.settle('k', again('EIO'), 2510), 2610, 'the first backed-off retry still waits the base');
});

test('a key is queued once: asked for again while waiting, it keeps the earlier time', () => {
  const q = new RetryQueue(policy);
  q.add('k', 500);
  q.add('k', 300);
  q.add('k', 900);
  assert.equal(q.size, 1);
  assert.equal(q.next(), 300);
  assert.deepEqual(q.take(299), []);
  assert.deepEqual(q.take(300), ['k']);
  assert.deepEqual(q.take(300), [], 'taken once');
  // Tried and failed while an earlier look had been asked for meanwhile: the earlier time wins.
  q.add('k', 350);
  assert.equal(q.settle('k', again('EIO'), 300), 350);
});

test('held until the time comes; take returns the due keys earliest first', () => {
  const q = new RetryQueue(policy);
  q.settle('b', again('x', 200), 0);
  q.settle('a', again('x', 100), 0);
  q.settle('c', again('x', 900), 0);
  assert.equal(q.held('a', 99), true);
  assert.equal(q.held('a', 100), false);
  assert.equal(q.held('unknown', 0), false);
  assert.deepEqual(q.take(500), ['a', 'b']);
  assert.equal(q.held('a', 0), false, 'a taken key is not held');
  assert.equal(q.failures('a'), 0);
  assert.equal(q.next(), 900);
  assert.deepEqual(q.keys().sort(), ['a', 'b', 'c'], 'taken keys keep their backoff until settled');
});

test('forgetWhere drops the selected keys only', () => {
  const q = new RetryQueue(policy);
  q.settle('system/a', again('x'), 0);
  q.settle('gui/501/a', again('x'), 0);
  q.settle('system/b', again('x'), 0);
  q.forgetWhere((k) => k.endsWith('/a'));
  assert.deepEqual(q.keys(), ['system/b']);
});

test('backOff: one more failure in a row, the earlier time kept; resetBackoff keeps a time asked for', () => {
  const q = new RetryQueue(policy);
  assert.deepEqual(
    [0, 0, 0, 0, 0].map(() => {
      const wait = q.backOff('x', 0);
      q.take(10_000);
      return wait;
    }),
    [100, 200, 400, 800, 1000],
  );
  q.resetBackoff('x');
  assert.equal(q.size, 0, 'a key neither waiting nor failing is not kept');
  q.add('k', 50);
  assert.equal(q.backOff('k', 0, 'nats away'), 100, 'the wait is the backoff');
  assert.equal(q.next(), 50, 'but the earlier time stands');
  assert.deepEqual(q.entries(), [{ key: 'k', failures: 1, dueAt: 50, why: 'nats away' }]);
  q.resetBackoff('k');
  assert.deepEqual(q.entries(), [{ key: 'k', failures: 0, dueAt: 50, why: undefined }]);
  assert.equal(q.backOff('k', 0), 100, 'the backoff starts at the base again');
  q.clear();
  assert.equal(q.next(), undefined);
});

test('entries say why a key waits and until when', () => {
  const q = new RetryQueue(policy);
  q.settle('system/a', again('EIO: i/o error'), 1000);
  q.settle('system/b', again('domain tearing down', 2500), 1000);
  assert.deepEqual(q.entries(), [
    { key: 'system/a', failures: 1, dueAt: 1100, why: 'EIO: i/o error' },
    { key: 'system/b', failures: 0, dueAt: 3500, why: 'domain tearing down' },
  ]);
});
