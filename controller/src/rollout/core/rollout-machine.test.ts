// Event-in / actions-out tables for the rollout machine: the four end-to-end stories of issue 7
// at the pure level, on a virtual clock against the fake fleet.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RolloutHarness, eventsOf, testSpec, writesOf } from '../testing/rollout-harness.ts';
import { decodeRolloutState } from './rollout-state.ts';
import { inFlux } from '../testing/rollout-harness.ts';

describe('story 1: a good version rolls out through canary and waves', () => {
  it('canary first, then waves in order, never more than maxUnavailable in flux', () => {
    // 8 nodes: canary n0; waves n1-n3, n4-n6, n7; maxUnavailable 2; healthy after 30 s.
    const h = new RolloutHarness(testSpec(8));
    let a = h.start();
    assert.deepEqual(writesOf(a), ['n0=v2(rollout)']);
    assert.deepEqual(eventsOf(a), ['started', 'step-started']);
    assert.deepEqual(h.state.phase, { kind: 'canary', step: 0 });
    assert.deepEqual(a.at(-1), { type: 'requeue-after', ms: 120_000 }); // nothing to wait for but the deadline

    a = h.at(1_000).observe(); // n0 acknowledged and runs v2 since 1 s
    assert.deepEqual(writesOf(a), []);
    assert.deepEqual(a.at(-1), { type: 'requeue-after', ms: 30_000 });
    assert.equal(h.state.nodes['n0']?.status, 'updating');

    a = h.at(30_999).observe(); // not yet: 29.999 s of the 30
    assert.deepEqual(writesOf(a), []);

    a = h.at(31_000).observe(); // canary healthy: wave 1 starts, two nodes at a time
    assert.deepEqual(eventsOf(a), ['step-passed', 'step-started']);
    assert.deepEqual(writesOf(a), ['n1=v2(rollout)', 'n2=v2(rollout)']);
    assert.deepEqual(h.state.phase, { kind: 'wave', step: 1, wave: 1 });

    h.at(32_000).observe();
    a = h.at(62_000).observe(); // n1, n2 healthy: room for n3 only (wave 1 is n1-n3)
    assert.deepEqual(writesOf(a), ['n3=v2(rollout)']);
    assert.equal(inFlux(h.state), 1);

    h.at(63_000).observe();
    a = h.at(93_000).observe();
    assert.deepEqual(writesOf(a), ['n4=v2(rollout)', 'n5=v2(rollout)']);
    assert.deepEqual(h.state.phase, { kind: 'wave', step: 2, wave: 2 });

    assert.equal(h.runUntilFinished(600_000), 'succeeded');
    assert.deepEqual(
      h.allWrites().map((w) => w.nodeId),
      ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'],
    );
    assert.equal(Math.max(...h.batches.map((b) => b.inFlux)), 2);
    assert.deepEqual(
      h.state.history.map((e) => `${e.name}:${e.outcome}`),
      ['canary:passed', 'wave-1:passed', 'wave-2:passed', 'wave-3:passed'],
    );
    assert.ok(Object.values(h.state.nodes).every((r) => r.status === 'healthy'));
    assert.equal(h.state.current, null);
    assert.ok(h.state.finishedAt !== null);
  });

  it('feeding the same observations twice emits no duplicate set-desired (expectations)', () => {
    const h = new RolloutHarness(testSpec(4));
    h.start();
    // The node has not picked up v2 yet: the same stale observation arrives twice.
    const stale = h.sim
      .observe(0)
      .map((o) => (o.nodeId === 'n0' ? { ...o, acknowledgedVersion: 'v1', reportedVersion: 'v1' } : o));
    for (let i = 0; i < 2; i++) {
      const a = h.send({ type: 'observe', observations: stale });
      assert.deepEqual(writesOf(a), []);
    }
    assert.equal(h.sim.forwardWrites('n0'), 1);
  });
});

describe('story 2: a version that crashes on start stops at the canary and rolls back', () => {
  it("rolls back every node it reached, and only those, to each one's previous version", () => {
    const spec = testSpec(6, {
      fromVersions: { n0: 'v1', n1: 'v0.9', n3: 'v1', n4: 'v1', n5: 'v1' }, // n2 had no healthy version
      strategy: { kind: 'canary-waves', canary: { n: 3 }, waves: [{ n: 3 }], maxUnavailable: { n: 3 } },
    });
    const h = new RolloutHarness(spec);
    for (const id of spec.targetNodes) h.sim.behaviour.set(id, 'crash');
    let a = h.start();
    assert.deepEqual(writesOf(a), ['n0=v2(rollout)', 'n1=v2(rollout)', 'n2=v2(rollout)']);

    a = h.at(1_000).observe(); // all three crash-loop: 3 unhealthy >= threshold 1
    assert.deepEqual(eventsOf(a), ['step-failed', 'rollback-started']);
    assert.deepEqual(writesOf(a), ['n0=v1(rollback)', 'n1=v0.9(rollback)', 'n2=null(rollback)']);
    assert.equal(h.state.phase.kind, 'rolling-back');
    assert.match(h.state.outcome?.reason ?? '', /canary failed: 3 unhealthy.*crash-looping/);
    assert.deepEqual(
      h.state.history.map((e) => `${e.name}:${e.outcome}`),
      ['canary:failed'],
    );

    a = h.at(2_000).observe(); // the nodes acknowledge their old versions
    assert.deepEqual(eventsOf(a), ['rolled-back']);
    assert.equal(h.state.phase.kind, 'rolled-back');
    assert.deepEqual(writesOf(a), []);

    // Nothing more, ever: not for the untouched nodes, not on later observations.
    h.at(100_000).observe();
    h.send({ type: 'tick' });
    assert.deepEqual(
      h.allWrites().map((w) => `${w.nodeId}:${w.reason}`),
      ['n0:rollout', 'n1:rollout', 'n2:rollout', 'n0:rollback', 'n1:rollback', 'n2:rollback'],
    );
    assert.deepEqual(
      ['n3', 'n4', 'n5'].map((id) => h.state.nodes[id]?.status),
      ['untouched', 'untouched', 'untouched'],
    );
  });

  it('with autoRollback off the rollout stops as failed and touches nothing more', () => {
    const h = new RolloutHarness(testSpec(4, { autoRollback: false }));
    h.sim.behaviour.set('n0', 'crash');
    h.start();
    const a = h.at(1_000).observe();
    assert.deepEqual(eventsOf(a), ['step-failed', 'failed']);
    assert.deepEqual(writesOf(a), []);
    assert.equal(h.state.phase.kind, 'failed');
    assert.equal(h.runUntilFinished(10_000), 'failed');
    assert.equal(h.allWrites().length, 1);
  });
});

describe('story 3: a controller restarted mid-rollout resumes from the serialised state', () => {
  it('re-touches no node, re-emits nothing already done, and ends as an uninterrupted run does', () => {
    const spec = testSpec(7);
    const reference = new RolloutHarness(spec);
    reference.start();
    assert.equal(reference.runUntilFinished(900_000), 'succeeded');

    const h = new RolloutHarness(spec);
    h.start();
    h.at(1_000).observe();
    const last = h.sim.observe(31_000);
    h.at(31_000).send({ type: 'observe', observations: last }); // wave 1 starts: n1, n2 written
    assert.deepEqual(
      h.sim.writes.map((w) => w.nodeId),
      ['n0', 'n1', 'n2'],
    );

    // The controller dies. A new one reads the KV entry (JSON) and carries on with the same fleet.
    const stored = JSON.stringify(h.state);
    const decoded = decodeRolloutState(JSON.parse(stored));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, h.state);
    const h2 = new RolloutHarness(spec, decoded.value, h.sim);
    h2.at(31_000);
    // The same observations again (redelivered), then a tick: nothing to do yet.
    assert.deepEqual(writesOf(h2.send({ type: 'observe', observations: last })), []);
    assert.deepEqual(writesOf(h2.send({ type: 'tick' })), []);

    assert.equal(h2.runUntilFinished(900_000), 'succeeded');
    for (const id of spec.targetNodes) assert.equal(h.sim.forwardWrites(id), 1, id);
    assert.deepEqual(
      h.sim.writes.map((w) => `${w.nodeId}@${w.at}`),
      reference.sim.writes.map((w) => `${w.nodeId}@${w.at}`),
    );
  });

  it('refuses a stored state of another schema', () => {
    const r = decodeRolloutState({ ...new RolloutHarness(testSpec(1)).state, schemaVersion: 2 });
    assert.ok(!r.ok);
    assert.match(r.error, /schema 2/);
    assert.ok(!decodeRolloutState('nope').ok);
    assert.ok(
      !decodeRolloutState({ ...new RolloutHarness(testSpec(1)).state, nodes: { n0: { step: 'x' } } }).ok,
    );
  });
});

describe('story 4: offline nodes do not hang the rollout and converge when they return', () => {
  it('after success, a returning node gets the new version once', () => {
    const h = new RolloutHarness(testSpec(5));
    h.sim.setOnline('n3', false);
    h.start();
    assert.equal(h.runUntilFinished(900_000), 'succeeded');
    assert.equal(h.state.nodes['n3']?.status, 'offline-deferred');
    assert.equal(h.sim.forwardWrites('n3'), 0);
    const wave = h.state.history.find((e) => e.name === 'wave-1');
    assert.equal(wave?.counts?.offline, 1); // counted apart: neither healthy nor blocking

    h.sim.setOnline('n3', true);
    const a = h.at(h.now + 60_000).observe();
    assert.deepEqual(writesOf(a), ['n3=v2(converge)']);
    assert.deepEqual(eventsOf(a), ['node-returned']);
    h.at(h.now + 1_000).observe();
    const done = h.at(h.now + 30_000).observe();
    assert.deepEqual(writesOf(done), []);
    assert.equal(h.state.nodes['n3']?.status, 'healthy');
    assert.equal(h.sim.forwardWrites('n3'), 1);
  });

  it("a node back during the rollout is updated in the running step, ahead of that step's own nodes", () => {
    // canary n0; wave 1 n1-n3 (n1 offline); wave 2 n4-n6; maxUnavailable 2.
    const h = new RolloutHarness(testSpec(7));
    h.sim.setOnline('n1', false);
    h.start();
    h.at(1_000).observe();
    assert.deepEqual(writesOf(h.at(31_000).observe()), ['n2=v2(rollout)', 'n3=v2(rollout)']);
    h.at(32_000).observe();
    assert.deepEqual(writesOf(h.at(62_000).observe()), ['n4=v2(rollout)', 'n5=v2(rollout)']);
    assert.equal(h.state.history[1]?.counts?.offline, 1); // wave 1 passed without n1
    h.sim.setOnline('n1', true);
    h.at(63_000).observe(); // n4, n5 still in flux: no room yet
    assert.equal(h.sim.forwardWrites('n1'), 0);
    // n4, n5 healthy: two slots, the returned n1 first, then wave 2's last node.
    assert.deepEqual(writesOf(h.at(93_000).observe()), ['n1=v2(rollout)', 'n6=v2(rollout)']);
    assert.equal(h.state.nodes['n1']?.gateStep, 2); // judged by wave 2's gate
    assert.equal(h.runUntilFinished(300_000), 'succeeded');
    for (const id of h.spec.targetNodes) assert.equal(h.sim.forwardWrites(id), 1, id);
  });

  it('after a rollback, a returning untouched node is left on its old version', () => {
    const h = new RolloutHarness(testSpec(4));
    h.sim.setOnline('n2', false);
    h.sim.behaviour.set('n0', 'crash');
    h.start();
    assert.equal(h.runUntilFinished(60_000), 'rolled-back');
    h.sim.setOnline('n2', true);
    const a = h.at(h.now + 5_000).observe();
    assert.deepEqual(writesOf(a), []);
    assert.equal(h.state.nodes['n2']?.status, 'untouched');
    assert.equal(h.sim.writes.filter((w) => w.nodeId === 'n2').length, 0);
  });

  it('a node that goes offline after its update stops counting in flux and re-enters the gate on return', () => {
    // canary n0; wave n1-n3 with maxUnavailable 2. n1 goes offline before picking up v2.
    const h = new RolloutHarness(testSpec(4));
    h.start();
    h.at(1_000).observe();
    h.at(31_000).observe(); // n1, n2 written
    h.sim.setOnline('n1', false);
    const a = h.at(32_000).observe();
    assert.deepEqual(eventsOf(a), ['node-deferred']);
    assert.deepEqual(writesOf(a), ['n3=v2(rollout)']); // n1 no longer holds a slot
    assert.equal(h.runUntilFinished(900_000), 'succeeded');
    assert.equal(h.state.nodes['n1']?.status, 'offline-deferred');
    h.sim.setOnline('n1', true);
    assert.deepEqual(writesOf(h.at(h.now + 1_000).observe()), []); // already written: not again
    h.at(h.now + 31_000).observe();
    assert.equal(h.state.nodes['n1']?.status, 'healthy');
    assert.equal(h.sim.forwardWrites('n1'), 1);
  });

  it('a step whose nodes are never observed fails at its deadline rather than passing blind', () => {
    const h = new RolloutHarness(testSpec(3));
    const a = h.send({ type: 'start' });
    assert.deepEqual(writesOf(a), []);
    const b = h.at(120_000).send({ type: 'tick' });
    assert.deepEqual(eventsOf(b), ['step-failed', 'rollback-started', 'rolled-back']);
    assert.match(h.state.outcome?.reason ?? '', /canary deadline-exceeded.*1 to update/);
    assert.deepEqual(writesOf(b), []);
  });
});
