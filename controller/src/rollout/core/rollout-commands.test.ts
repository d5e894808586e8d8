// Event-in / actions-out tables for the rollout machine's commands and edge cases: pause,
// resume, abort, manual rollback, deadlines, all-at-once, percentages, empty target, bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RolloutHarness, eventsOf, testSpec, writesOf } from '../testing/rollout-harness.ts';
import { createRollout, desiredByNode, step } from './rollout-machine.ts';

describe('pause and resume', () => {
  it('no node is updated while paused; the deadline does not run; resume continues', () => {
    const h = new RolloutHarness(testSpec(4));
    h.start();
    h.at(1_000).observe();
    let a = h.at(10_000).send({ type: 'pause', reason: 'lunch' });
    assert.deepEqual(eventsOf(a), ['paused']);
    assert.deepEqual(h.state.phase, { kind: 'paused', step: 0 });
    a = h.at(31_000).observe(); // the canary is healthy, but paused: no wave 1
    assert.deepEqual(writesOf(a), []);
    assert.equal(h.state.nodes['n0']?.status, 'healthy');
    a = h.at(500_000).send({ type: 'tick' }); // far past the deadline: paused time does not count
    assert.equal(h.state.phase.kind, 'paused');
    assert.deepEqual(
      a.filter((x) => x.type === 'requeue-after'),
      [],
    );
    a = h.at(500_001).send({ type: 'resume' });
    assert.deepEqual(eventsOf(a), ['resumed', 'step-passed', 'step-started']);
    assert.deepEqual(writesOf(a), ['n1=v2(rollout)', 'n2=v2(rollout)']);
    assert.equal(h.runUntilFinished(900_000), 'succeeded');
  });

  it('a failure while paused still rolls back', () => {
    const h = new RolloutHarness(testSpec(4));
    h.sim.behaviour.set('n0', 'crash');
    h.start();
    h.send({ type: 'pause', reason: 'watching' });
    const a = h.at(1_000).observe();
    assert.deepEqual(eventsOf(a), ['step-failed', 'rollback-started']);
    assert.deepEqual(writesOf(a), ['n0=v1(rollback)']);
  });

  it('resume when not paused and pause when not running are ignored, state unchanged', () => {
    const h = new RolloutHarness(testSpec(2));
    const before = h.state;
    const a = h.send({ type: 'resume' });
    assert.deepEqual(eventsOf(a), ['ignored']);
    assert.equal(h.state, before);
    h.start();
    h.send({ type: 'abort', reason: 'no' });
    const s = h.state;
    assert.deepEqual(eventsOf(h.send({ type: 'pause', reason: 'x' })), ['ignored']);
    assert.deepEqual(eventsOf(h.send({ type: 'start' })), ['ignored']);
    assert.deepEqual(eventsOf(h.send({ type: 'abort', reason: 'again' })), ['ignored']);
    assert.equal(h.state, s);
  });
});

describe('abort', () => {
  it('stops for good and leaves nodes as they are', () => {
    const h = new RolloutHarness(testSpec(4));
    h.start();
    h.at(1_000).observe();
    h.at(31_000).observe(); // wave 1: n1, n2 written
    const a = h.at(32_000).send({ type: 'abort', reason: 'wrong build' });
    assert.deepEqual(eventsOf(a), ['aborted']);
    assert.deepEqual(writesOf(a), []);
    assert.equal(h.state.phase.kind, 'aborted');
    assert.equal(h.state.history.at(-1)?.outcome, 'aborted');
    assert.equal(h.runUntilFinished(100_000), 'aborted');
    h.at(h.now + 100_000).observe();
    assert.deepEqual(
      h.allWrites().map((w) => w.nodeId),
      ['n0', 'n1', 'n2'],
    );
  });
  it('a later manual rollback sets back exactly what the aborted rollout touched', () => {
    const h = new RolloutHarness(testSpec(4));
    h.start();
    h.at(1_000).observe();
    h.at(31_000).observe();
    h.send({ type: 'abort', reason: 'x' });
    const a = h.at(40_000).send({ type: 'rollback', reason: 'revert it' });
    assert.deepEqual(writesOf(a), ['n0=v1(rollback)', 'n1=v1(rollback)', 'n2=v1(rollback)']);
  });
});

describe('manual rollback', () => {
  it('mid-rollout: sets back the touched nodes once, waits for acknowledgement, then rolled-back', () => {
    const h = new RolloutHarness(testSpec(6));
    h.start();
    h.at(1_000).observe();
    h.at(31_000).observe();
    const a = h.at(35_000).send({ type: 'rollback', reason: 'alert fired' });
    assert.deepEqual(eventsOf(a), ['rollback-started']);
    assert.deepEqual(writesOf(a), ['n0=v1(rollback)', 'n1=v1(rollback)', 'n2=v1(rollback)']);
    assert.equal(h.state.history.at(-1)?.outcome, 'rolled-back');
    assert.equal(h.state.outcome?.reason, 'manual rollback: alert fired');
    assert.deepEqual(eventsOf(h.send({ type: 'rollback', reason: 'twice' })), ['ignored']);
    const b = h.at(36_000).observe();
    assert.deepEqual(eventsOf(b), ['rolled-back']);
    assert.deepEqual(writesOf(b), []);
    assert.deepEqual(desiredByNode(h.state), { n0: 'v1', n1: 'v1', n2: 'v1' });
  });
  it('after success: sets every node back; a node that never acknowledges ends at the deadline', () => {
    const h = new RolloutHarness(testSpec(3, { strategy: { kind: 'all-at-once' } }));
    h.start();
    assert.equal(h.runUntilFinished(100_000), 'succeeded');
    h.sim.behaviour.set('n1', 'stuck');
    const a = h.at(200_000).send({ type: 'rollback', reason: 'bad metrics' });
    assert.deepEqual(writesOf(a), ['n0=v1(rollback)', 'n1=v1(rollback)', 'n2=v1(rollback)']);
    h.at(201_000).observe();
    assert.equal(h.state.phase.kind, 'rolling-back'); // n1 is wedged
    const b = h.at(320_000).send({ type: 'tick' });
    assert.deepEqual(eventsOf(b), ['rolled-back']);
    assert.match(h.state.log.at(-1)?.message ?? '', /1 node\(s\) had not acknowledged.*n1/);
  });
  it('from pending: nothing touched, rolled back at once', () => {
    const h = new RolloutHarness(testSpec(3));
    const a = h.send({ type: 'rollback', reason: 'changed my mind' });
    assert.deepEqual(writesOf(a), []);
    assert.equal(h.state.phase.kind, 'rolled-back');
  });
});

describe('progress deadline', () => {
  it('a node that never picks up the version fails the step at the deadline and rolls back', () => {
    const h = new RolloutHarness(testSpec(4));
    h.sim.behaviour.set('n0', 'stuck');
    h.start();
    h.at(1_000).observe();
    const a = h.at(119_999).observe();
    assert.deepEqual(eventsOf(a), []);
    const b = h.at(120_000).send({ type: 'tick' });
    // n0 never left v1, so it already acknowledges the version it is set back to.
    assert.deepEqual(eventsOf(b), ['step-failed', 'rollback-started', 'rolled-back']);
    assert.deepEqual(writesOf(b), ['n0=v1(rollback)']);
    assert.equal(h.state.history[0]?.outcome, 'deadline-exceeded');
    assert.match(h.state.outcome?.reason ?? '', /no progress for 120 s \(0 healthy, 1 pending/);
  });
  it('progress (a node turning healthy) restarts the deadline within a step', () => {
    // One wave of 3 nodes, one at a time, 30 s each: 90 s+ in the step, deadline 50 s.
    const h = new RolloutHarness(
      testSpec(3, {
        strategy: { kind: 'canary-waves', canary: { n: 0 }, waves: [{ n: 3 }], maxUnavailable: { n: 1 } },
        gate: {
          minHealthySeconds: 30,
          progressDeadlineSeconds: 50,
          maxUnhealthy: { n: 1 },
          requireNoCrashInWindow: true,
        },
      }),
    );
    h.start();
    assert.equal(h.runUntilFinished(300_000), 'succeeded');
    assert.deepEqual(
      h.allWrites().map((w) => w.nodeId),
      ['n0', 'n1', 'n2'],
    );
  });
});

describe('strategies and sizes', () => {
  it('all-at-once updates every node at once and succeeds after one gate', () => {
    const h = new RolloutHarness(testSpec(4, { strategy: { kind: 'all-at-once' } }));
    assert.deepEqual(writesOf(h.start()), [
      'n0=v2(rollout)',
      'n1=v2(rollout)',
      'n2=v2(rollout)',
      'n3=v2(rollout)',
    ]);
    assert.deepEqual(h.state.phase, { kind: 'wave', step: 0, wave: 1 });
    assert.equal(h.runUntilFinished(100_000), 'succeeded');
    assert.deepEqual(
      h.state.history.map((e) => e.name),
      ['all'],
    );
  });
  it('percentages: 1% canary of 10 is one node; 50% maxUnavailable is 5', () => {
    const h = new RolloutHarness(
      testSpec(10, {
        strategy: {
          kind: 'canary-waves',
          canary: { percent: 1 },
          waves: [{ percent: 90 }],
          maxUnavailable: { percent: 50 },
        },
      }),
    );
    assert.deepEqual(writesOf(h.start()), ['n0=v2(rollout)']);
    h.at(1_000).observe();
    assert.deepEqual(
      writesOf(h.at(31_000).observe()),
      ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => `${n}=v2(rollout)`),
    );
    assert.equal(h.runUntilFinished(300_000), 'succeeded');
  });
  it('an empty target succeeds at start without any write', () => {
    const h = new RolloutHarness(testSpec(0));
    const a = h.start();
    assert.deepEqual(writesOf(a), []);
    assert.deepEqual(eventsOf(a), ['started', 'succeeded']);
    assert.equal(h.state.phase.kind, 'succeeded');
  });
  it('a percentage failure threshold tolerates unhealthy nodes below it', () => {
    const h = new RolloutHarness(
      testSpec(4, {
        strategy: { kind: 'all-at-once' },
        gate: {
          minHealthySeconds: 30,
          progressDeadlineSeconds: 120,
          maxUnhealthy: { percent: 50 },
          requireNoCrashInWindow: true,
        },
      }),
    );
    h.sim.behaviour.set('n3', 'crash');
    h.start();
    assert.equal(h.runUntilFinished(100_000), 'succeeded');
    assert.equal(h.state.nodes['n3']?.status, 'unhealthy');
    assert.equal(h.state.history[0]?.counts?.unhealthy, 1);
  });
});

describe('bad and odd input', () => {
  it('observations of nodes outside the target are ignored; stale ones are dropped', () => {
    const spec = testSpec(2);
    let s = createRollout(spec);
    const base = { online: true, acknowledgedVersion: 'v1', reportedVersion: 'v1', job: null };
    const r1 = step(spec, s, { type: 'start', observations: [{ nodeId: 'x9', lastSeenAt: 5, ...base }] }, 0);
    assert.deepEqual(writesOf(r1.actions), []);
    assert.equal(Object.hasOwn(r1.state.nodes, 'x9'), false);
    s = step(
      spec,
      r1.state,
      { type: 'observe', observations: [{ nodeId: 'n0', lastSeenAt: 10, ...base }] },
      1,
    ).state;
    const stale = { nodeId: 'n0', lastSeenAt: 9, ...base, online: false };
    s = step(spec, s, { type: 'observe', observations: [stale] }, 2).state;
    assert.equal(s.nodes['n0']?.observation?.lastSeenAt, 10);
    const junk = [null, 42, { nodeId: '__proto__' }] as unknown as [];
    assert.doesNotThrow(() => step(spec, s, { type: 'observe', observations: junk }, 3));
  });
  it('every state is plain JSON and step never mutates its input', () => {
    const h = new RolloutHarness(testSpec(5));
    h.sim.setOnline('n2', false);
    h.sim.behaviour.set('n4', 'crash');
    h.start();
    for (let t = 1; t < 200; t++) {
      const before = JSON.stringify(h.state);
      const prev = h.state;
      h.at(t * 1_000).observe();
      assert.equal(JSON.stringify(prev), before);
      assert.deepEqual(JSON.parse(JSON.stringify(h.state)), h.state);
    }
    assert.equal(h.state.phase.kind, 'rolled-back'); // n4 crashed in wave 2
  });
});
