import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import { InternalError, UnavailableError, FailedPreconditionError } from '@launchfleet/shared';
import { type ReconcileResult, again, done, terminal } from '@launchfleet/shared/reconcile';
import { WorkQueue } from './work-queue.ts';
import { ReconcileLoop } from './reconcile-loop.ts';
import { TerminalError } from './reconcile-result.ts';

const queue = (clock: FakeClock) =>
  new WorkQueue(clock, () => clock.monotonicMs(), { baseMs: 100, capMs: 1000 });

test('a key waits once however often it is added, and never runs twice at once', async () => {
  const clock = new FakeClock();
  const q = queue(clock);
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  q.add('a'); // while processing: queued again once done, not handed out now
  assert.equal(await q.get(), 'b');
  assert.equal(q.length, 0);
  q.done('a');
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
});

test('delayed adds keep the earliest; backoff doubles per failure and resets on forget', () => {
  const clock = new FakeClock();
  const q = queue(clock);
  q.addAfter('k', 500);
  q.addAfter('k', 900);
  clock.advance(499);
  assert.equal(q.length, 0);
  clock.advance(1);
  assert.equal(q.length, 1);
  const fresh = queue(clock);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => fresh.addRateLimited('y')),
    [100, 200, 400, 800, 1000],
  );
  assert.equal(q.addRateLimited('x'), 100);
  assert.equal(q.addRateLimited('x'), 200);
  q.forget('x');
  assert.equal(q.addRateLimited('x'), 100);
});

test('the loop: done forgets, again requeues after N, errors back off, terminal errors stop', async () => {
  const clock = new FakeClock();
  const q = queue(clock);
  const script = new Map<string, (ReconcileResult | Error)[]>([
    ['ok', [done]],
    ['later', [again('health window', 300), done]],
    ['backs-off', [again('not yet'), done]],
    ['refused', [terminal('cannot')]],
    ['flaky', [new UnavailableError('nats away'), new UnavailableError('nats away'), done]],
    ['broken', [new FailedPreconditionError('record unreadable: repair it')]],
    ['bug', [new InternalError('invariant')]],
    ['given-up', [new TerminalError(new Error('no'))]],
  ]);
  const calls: string[] = [];
  const loop = new ReconcileLoop({
    name: 'test',
    queue: q,
    reconcile: (key) => {
      calls.push(key);
      const r = script.get(key)?.shift() ?? done;
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
  });
  const outcomes: Record<string, string[]> = {};
  const run = async () => {
    while (q.length > 0) {
      const k = (await q.get()) ?? '';
      (outcomes[k] ??= []).push(await loop.reconcileOnce(k));
      q.done(k);
    }
  };
  for (const k of script.keys()) q.add(k);
  await run();
  clock.advance(100); // flaky's and backs-off's first backoff (100)
  await run();
  clock.advance(200); // later's requeue (300) and flaky's second backoff (200)
  await run();
  clock.advance(10_000);
  await run();
  assert.deepEqual(outcomes, {
    ok: ['done'],
    later: ['again', 'done'],
    'backs-off': ['again', 'done'],
    refused: ['terminal'],
    flaky: ['error', 'error', 'done'],
    broken: ['terminal'],
    bug: ['terminal'],
    'given-up': ['terminal'],
  });
  assert.equal(q.failures('flaky'), 0, 'success forgets the failures');
  assert.equal(q.failures('backs-off'), 0, 'done after again forgets the backoff');
  assert.deepEqual(loop.outcomes, { done: 4, again: 2, error: 2, terminal: 4 });
});
