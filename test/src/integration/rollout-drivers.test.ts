/**
 * Durable rollouts and one driver at a time (issue 7), against a real nats-server and four
 * real agents (in process):
 * - a driver killed right after storing a state and before writing the bundles that state
 *   asked for: a second driver takes the expired lease over, repairs the lost writes, and
 *   finishes the rollout; the KV history of every node's desired key shows exactly one
 *   rollout write per node;
 * - two drivers started together on one rollout: one drives, the other never steps it;
 * - the lease and the state record are compare-and-set: of racing writers, exactly one wins;
 * - finished rollouts are not read again every tick, and are deleted once past the configured
 *   retention (by count, then by age).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UnavailableError, systemClock } from '@launchfleet/shared';
import { RolloutLease, type RolloutRuntime } from '@launchfleet/controller/rollout';
import { eventually } from '../support/link-node.ts';
import {
  type RolloutFleet,
  awaitPhase,
  desiredWrites,
  runningCommand,
  startRolloutFleet,
  versionedPlist,
} from '../support/rollout-fleet.ts';

const gate = {
  minHealthySeconds: 1,
  progressDeadlineSeconds: 10,
  maxUnhealthy: { n: 1 },
  requireNoCrashInWindow: true,
};
const strategy = {
  kind: 'canary-waves' as const,
  canary: { n: 1 },
  waves: [{ n: 3 }],
  maxUnavailable: { n: 3 },
};

async function baseline(fleet: RolloutFleet, label: string): Promise<number> {
  const r = await fleet.desired.apply({
    plist: versionedPlist(label, 1),
    domain: 'system',
    target: { kind: 'all' },
    by: 'test',
  });
  for (const node of fleet.nodes)
    await eventually(async () => (await runningCommand(node, label)) === 'sleep 301', 15_000, 'v1 running');
  return r.version;
}

describe('rollout drivers: crash and resume, exclusivity', () => {
  let fleet: RolloutFleet;

  before(async () => {
    fleet = await startRolloutFleet(4);
  });

  after(async () => {
    await fleet?.close();
  });

  test('a driver killed between storing a state and applying it: another resumes, no node written twice', async () => {
    const label = 'com.acme.resume';
    const v1 = await baseline(fleet, label);
    let killedAt: { stored: number; wave: string[] } | undefined;
    const a: RolloutRuntime = await fleet.runtime('ctl-a', {
      onStored: (_id, state) => {
        // The first stored state that sets wave-1's nodes: crash before a single bundle is written.
        const wave = Object.entries(state.nodes)
          .filter(([, n]) => n.step === 1 && n.lastSet !== null)
          .map(([id]) => id);
        if (!killedAt && wave.length > 0) {
          killedAt = { stored: Date.now(), wave };
          a.driver.kill();
        }
      },
    });
    const rec = await a.service.start({
      rolloutId: 'resume-1',
      plist: versionedPlist(label, 2),
      target: { kind: 'all' },
      strategy,
      gate,
      by: 'test',
    });
    const to = Number(rec.spec.toVersion);
    await eventually(() => killedAt, 30_000, 'driver a killed mid-rollout');
    const wave = killedAt?.wave ?? [];
    assert.equal(wave.length, 3);
    // The state says the wave was set, but nothing reached the wave's nodes.
    for (const id of wave)
      assert.deepEqual(
        (await desiredWrites(fleet, id, label)).map((w) => w.version),
        [v1],
      );
    const b = await fleet.runtime('ctl-b');
    const done = await awaitPhase(b, 'resume-1', ['succeeded', 'rolled-back', 'failed'], 40_000);
    assert.equal(done.state.phase.kind, 'succeeded', JSON.stringify(done.state.history));
    assert.equal(b.driver.stats.repairs, 3, 'b repaired the three lost writes');
    assert.ok(b.driver.stats.steps > 0);
    for (const id of fleet.nodeIds)
      assert.deepEqual(
        (await desiredWrites(fleet, id, label)).map((w) => w.version),
        [v1, to],
        `exactly one rollout write on ${id}`,
      );
    for (const node of fleet.nodes)
      await eventually(async () => (await runningCommand(node, label)) === 'sleep 302', 15_000, 'v2 running');
    await b.stop();
  });

  test('a store whose ack was lost (stored, but the driver heard an error): the same driver repairs, no node written twice', async () => {
    // A controller cut off from the broker right after its compare-and-set of the rollout record
    // reached the broker: the record holds the new state, the driver hears a timeout and applied
    // none of its actions. The lease is still its own, so no takeover repairs the gap: it must.
    const label = 'com.acme.lostack';
    const v1 = await baseline(fleet, label);
    const a: RolloutRuntime = await fleet.runtime('ctl-lost-ack');
    const update = a.store.update.bind(a.store);
    let lost: string[] | undefined;
    a.store.update = async (id, record, revision) => {
      const rev = await update(id, record, revision);
      // The first stored state that sets wave-1's nodes: stored, and then the ack "lost".
      const wave = Object.entries(record.state.nodes)
        .filter(([, n]) => n.step === 1 && n.lastSet !== null)
        .map(([nodeId]) => nodeId);
      if (!lost && rev !== undefined && wave.length > 0) {
        lost = wave;
        throw new UnavailableError('storing the rollout: timeout (the ack lost, by the test)');
      }
      return rev;
    };
    // Stopped however the test ends: a driver left running would drive the next test's rollouts.
    try {
      const rec = await a.service.start({
        rolloutId: 'lost-ack-1',
        plist: versionedPlist(label, 2),
        target: { kind: 'all' },
        strategy,
        gate,
        by: 'test',
      });
      const to = Number(rec.spec.toVersion);
      await eventually(() => lost, 30_000, 'the ack of the wave step lost');
      assert.equal(lost?.length, 3);
      const done = await awaitPhase(a, 'lost-ack-1', ['succeeded', 'rolled-back', 'failed'], 40_000);
      assert.equal(done.state.phase.kind, 'succeeded', JSON.stringify(done.state.history));
      assert.equal(
        a.driver.stats.repairs,
        3,
        'the driver repaired the three writes its lost store asked for',
      );
      for (const id of fleet.nodeIds)
        assert.deepEqual(
          (await desiredWrites(fleet, id, label)).map((w) => w.version),
          [v1, to],
          `exactly one rollout write on ${id}`,
        );
      for (const node of fleet.nodes)
        await eventually(
          async () => (await runningCommand(node, label)) === 'sleep 302',
          15_000,
          'v2 running',
        );
    } finally {
      await a.stop();
    }
  });

  test('two drivers started together: only one drives the rollout', async () => {
    const label = 'com.acme.race';
    const v1 = await baseline(fleet, label);
    const [x, y] = await Promise.all([fleet.runtime('ctl-x'), fleet.runtime('ctl-y')]);
    const rec = await x.service.start({
      rolloutId: 'race-1',
      plist: versionedPlist(label, 2),
      target: { kind: 'all' },
      strategy,
      gate,
      by: 'test',
    });
    y.driver.poke();
    const done = await awaitPhase(x, 'race-1', ['succeeded', 'rolled-back', 'failed'], 40_000);
    assert.equal(done.state.phase.kind, 'succeeded');
    const steppers = [x, y].filter((r) => r.driver.stats.steps > 0);
    assert.equal(
      steppers.length,
      1,
      `one driver stepped the rollout (x ${x.driver.stats.steps}, y ${y.driver.stats.steps})`,
    );
    assert.equal(x.driver.stats.lostRaces + y.driver.stats.lostRaces, 0);
    for (const id of fleet.nodeIds)
      assert.deepEqual(
        (await desiredWrites(fleet, id, label)).map((w) => w.version),
        [v1, Number(rec.spec.toVersion)],
      );
    await Promise.all([x.stop(), y.stop()]);
  });

  test('leases and records are compare-and-set: one winner among racers', async () => {
    const rt = await fleet.runtime('ctl-cas', { drive: false });
    const kv = rt.store.kv;
    const racers = Array.from(
      { length: 8 },
      (_, i) => new RolloutLease(kv, `racer-${i}`, 60_000, systemClock),
    );
    const won = await Promise.all(racers.map((l) => l.acquire('lease-race')));
    assert.equal(won.filter(Boolean).length, 1);
    const winner = racers[won.indexOf(true)]!;
    // Renewal by the holder works; the others still lose while it is live.
    assert.equal(await winner.acquire('lease-race'), true);
    assert.deepEqual(
      await Promise.all(racers.filter((l) => l !== winner).map((l) => l.acquire('lease-race'))),
      Array(7).fill(false),
    );
    // An expired lease is taken over by exactly one of the racers.
    const short = new RolloutLease(kv, 'short', 200, systemClock);
    assert.equal(await short.acquire('lease-expiry'), true);
    await new Promise((r) => setTimeout(r, 300));
    const takeover = await Promise.all(racers.map((l) => l.acquire('lease-expiry')));
    assert.equal(takeover.filter(Boolean).length, 1);
    // The record: two updates from the same revision, one lands.
    const stored = await rt.store.get('race-1');
    assert.ok(stored);
    const results = await Promise.all([
      rt.store.update('race-1', stored.record, stored.revision),
      rt.store.update('race-1', stored.record, stored.revision),
    ]);
    assert.equal(results.filter((r) => r !== undefined).length, 1);
  });

  test('finished rollouts: not re-read every tick, deleted past the retention count and age', async () => {
    const label = 'com.acme.keep';
    await baseline(fleet, label);
    const rt = await fleet.runtime('ctl-keep', { keepFinishedMs: 5000, keepFinishedCount: 1 });
    const once = async (id: string, v: number) => {
      await rt.service.start({
        rolloutId: id,
        plist: versionedPlist(label, v),
        target: { kind: 'all' },
        strategy: { kind: 'all-at-once' },
        gate,
        by: 'test',
      });
      const r = await awaitPhase(rt, id, ['succeeded', 'rolled-back', 'failed'], 40_000);
      assert.equal(r.state.phase.kind, 'succeeded');
    };
    await once('keep-1', 2);
    await once('keep-2', 3);
    // Count 1: the older one goes as soon as the newer one has finished.
    await eventually(async () => (await rt.store.get('keep-1')) === undefined, 10_000, 'keep-1 deleted');
    assert.ok(await rt.store.get('keep-2'), 'the newest finished rollout is kept');
    // With a 150 ms tick, a scan would read it ~13 times in 2 s; the reconciler waits for its retention.
    // Up to 3: the watch's notices of keep-1's deletion (its record, then its lease) may still arrive
    // in the window on a loaded machine, each one pass that finds keep-1 absent.
    const passes = rt.driver.stats.passes;
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(rt.driver.stats.passes - passes <= 3, `${rt.driver.stats.passes - passes} reads in 2 s`);
    await eventually(
      async () => (await rt.store.get('keep-2')) === undefined,
      10_000,
      'keep-2 deleted by age',
    );
    assert.ok(rt.driver.stats.deleted >= 2);
    await rt.stop();
  });
});
