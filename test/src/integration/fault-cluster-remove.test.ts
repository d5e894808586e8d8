/**
 * The fault suite (docs/fault-suite.md): taking a job away from nodes while a 3-node nats-server
 * cluster (R3 buckets) loses its quorum, then the retry.
 *
 * Real: three nats-server processes (2 of 3 SIGKILLed in the middle of the deletes, then started
 * again), the controller's own apply and delete code (DesiredStateService, in this process, over
 * the controller's connection to all three servers, 16 writes in flight so the deletes last long
 * enough to be cut), and four real agents (link-node.ts; jobs are real processes). Beside them
 * 1,000 simulated nodes that exist only as registered node ids (their desired key is checked).
 *
 * Promised and checked:
 * - an apply that retargets from every node to two real agents, cut by the quorum loss in its
 *   deletes: it returns naming the nodes it could not take the job away from; once quorum is
 *   back the same apply, retried until it reports no failure, re-delivers the same version and
 *   deletes what is left (before 2026-12-07 a re-delivery removed nothing: only `jobs delete`
 *   cleared them); afterwards exactly the two targeted nodes hold a key (read from the stream's
 *   leader), those two agents run the job and the other two run nothing of it;
 * - a delete cut the same way: `jobs delete` again (before: NotFound, the job was deleted)
 *   deletes what is left; no key left, no agent runs the job, the record is a tombstone that
 *   names no node still to clear.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buckets, nodeIdFromRandom } from '@launchfleet/shared/messages';
import type { DesiredStateService } from '@launchfleet/controller/desired';
import type { ControlPlaneHarness } from '../support/control-plane.ts';
import { clusterHelpers, startClusterApply } from '../support/fault-cluster.ts';
import { instances } from '../support/fault-fleet.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { cmdline } from '../support/rollout-fleet.ts';
import { jetStreamLeaderAgreed, waitFor } from '../support/nats-server.ts';

const realAgents = 4;
const simulated = 1000;
/** Deletes seen on the broker before two servers are killed (16 in flight: the controller's `applyConcurrency`, default 256, set low so the deletes last long enough to be cut). */
const cutAfter = 100;
/** This run's job command lines (`sleep <base+n>`), so counting them machine-wide sees only ours. */
const base = 60_000 + Math.floor(Math.random() * 20_000) * 10;
const label = 'com.acme.fault-remove';
const log = (s: string): void => console.log(`[fault-cluster-remove ${process.uptime().toFixed(1)} s] ${s}`);

/** The simulated nodes (registered node ids only), then the real agents' ids once enrolled. */
const simIds = Array.from({ length: simulated }, () => nodeIdFromRandom(randomBytes(13)));
const realIds: string[] = [];

describe('fault: a job taken away from nodes while the cluster loses its quorum, then the retry', () => {
  let desired: DesiredStateService;
  let nodes: LinkNode[] = [];
  let cp: ControlPlaneHarness;
  let h!: ReturnType<typeof clusterHelpers>;
  const allIds = (): string[] => [...simIds, ...realIds];

  before(async () => {
    ({ cp, nodes, desired } = await startClusterApply({ realAgents, realIds, allIds, concurrency: 16 }));
    h = clusterHelpers(cp, label);
  });

  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await cp?.close();
  });

  /** `run` started; once `cutAfter` deletes passed the broker, two servers (one the desired-state leader) SIGKILLed. */
  async function cutQuorumDuring<T>(
    run: () => Promise<T>,
  ): Promise<{ r: T; tookMs: number; deletesSeen: number }> {
    await h.whole();
    await h.inSync();
    const { server: leader } = await eventually(
      () => h.leaderOf(`KV_${buckets.desired}`).catch(() => undefined),
      30_000,
      'the stream has a leader',
    );
    const other = cp.servers.find((s) => s !== leader);
    assert.ok(other);
    const seen = h.countWrites();
    const started = Date.now();
    const running = run();
    await eventually(() => seen.n >= cutAfter, 20_000, 'deletes going out');
    await Promise.all([leader.kill(), other.kill()]);
    const r = await running;
    const tookMs = Date.now() - started;
    seen.stop();
    await leader.restart();
    await other.restart();
    await waitFor(() => jetStreamLeaderAgreed(cp.servers.map((s) => s.monitorPort)), 30_000, 'quorum back');
    await h.whole();
    await h.inSync();
    return { r, tookMs, deletesSeen: seen.n };
  }

  /** The nodes whose key holds the label, as the stream's leader says. */
  async function holders(): Promise<string[]> {
    const out: string[] = [];
    for (const id of allIds()) {
      const v = await eventually(() => h.leaderVersion(id).catch(() => undefined), 20_000, `read ${id}`);
      if (v !== null) out.push(id);
    }
    return out.sort();
  }

  /** Retries `run` (the user's retry) until it reports no failure; counts the deletes it sends. */
  async function retryUntilClean<T extends { failures: readonly unknown[] }>(
    what: string,
    run: () => Promise<T>,
  ): Promise<{ last: T; tries: string[]; deletesSeen: number }> {
    const tries: string[] = [];
    const seen = h.countWrites();
    const last = await eventually(
      async () => {
        const x = await run().catch((e: unknown) => {
          tries.push(String(e).slice(0, 200));
          return undefined;
        });
        if (x) tries.push(`${x.failures.length} failed`);
        return x && x.failures.length === 0 ? x : undefined;
      },
      40_000,
      `${what} with no failures`,
    );
    seen.stop();
    return { last, tries, deletesSeen: seen.n };
  }

  /**
   * The record names no node still to clear. Its last write (dropping the nodes cleared) is best
   * effort: if the cluster did not take it, the next call (`again`) writes it; said when needed.
   */
  async function noneToClear(again: () => Promise<unknown>): Promise<void> {
    for (let i = 0; ; i++) {
      const left = (await desired.get(label))?.clearing;
      if (left === undefined) return;
      assert.ok(i < 3, `the record still names ${left.length} nodes to clear`);
      log(`the record still names ${left.length} nodes to clear: once more`);
      await again();
    }
  }

  const runs = (n: LinkNode) => n.job(label)?.pid;
  /** The failures' reasons, counted (the first 80 characters of each). */
  const reasons = (fs: readonly { reason: string }[]): string => {
    const c = new Map<string, number>();
    for (const f of fs) c.set(f.reason.slice(0, 80), (c.get(f.reason.slice(0, 80)) ?? 0) + 1);
    return [...c].map(([r, n]) => `${n} × ${r}`).join(' | ');
  };

  test('an apply that retargets, cut in its deletes: the retry takes the job away from every node no longer targeted', async () => {
    const all = { kind: 'all' } as const;
    const v1 = await desired.apply({
      plist: daemonPlist(label, {}, `exec sleep ${base + 1}`),
      domain: 'system',
      target: all,
      by: 'test',
    });
    assert.equal(v1.failures.length, 0, JSON.stringify(v1.failures.slice(0, 3)));
    for (const n of nodes)
      await eventually(async () => (await cmdline(runs(n))) === `sleep ${base + 1}`, 20_000, 'v1 runs');
    const kept = realIds.slice(0, 2);
    const toTwo = {
      plist: daemonPlist(label, {}, `exec sleep ${base + 1}`),
      domain: 'system',
      target: { kind: 'nodes', names: kept } as const,
      by: 'test',
    };
    const { r, tookMs, deletesSeen } = await cutQuorumDuring(() => desired.apply(toTwo));
    log(
      `retarget cut: v${r.version}, written ${r.written}, removed ${r.removed}, ` +
        `failed ${r.failures.length} (${r.notAttempted} counted not tried), returned after ${tookMs} ms, ` +
        `${deletesSeen} deletes seen` +
        `; reasons: ${reasons(r.failures)}`,
    );
    assert.equal(r.version, v1.version + 1);
    assert.ok(r.failures.length > 0, 'the quorum loss cut the deletes');
    assert.ok(
      r.failures.every((f) => !kept.includes(f.nodeId)),
      'only deletes failed (the two writes went before the cut)',
    );
    assert.ok(tookMs < 60_000, `the apply returned after ${tookMs} ms`);
    // Counted since 2026-12-07 (before, the deletes not tried were rows only: notAttempted 0).
    assert.ok(r.notAttempted > 0, `the deletes left were not tried (${r.notAttempted})`);
    const left = await holders();
    assert.ok(left.length > kept.length, `keys left to delete after the cut: ${left.length - kept.length}`);

    const {
      last,
      tries,
      deletesSeen: retryDeletes,
    } = await retryUntilClean('a retried apply', () => desired.apply(toTwo));
    log(
      `retried apply: v${last.version}, removed ${last.removed}, ` +
        `${left.length - kept.length} keys were left, ${retryDeletes} deletes seen over the retries (${tries.join('; ')})`,
    );
    assert.equal(last.version, r.version, 'the retry re-delivers the version');
    assert.ok(last.removed > 0, 'the retry deleted what the cut apply left');
    assert.deepEqual(await holders(), [...kept].sort(), 'exactly the targeted nodes hold the job');
    await noneToClear(() => desired.apply(toTwo));
    for (const n of nodes.slice(2))
      await eventually(() => runs(n) === undefined, 30_000, 'an agent no longer targeted stops the job');
    for (const n of nodes.slice(0, 2)) assert.equal(await cmdline(runs(n)), `sleep ${base + 1}`);
    assert.equal(
      instances(`sleep ${base + 1}`),
      kept.length,
      'one instance per targeted agent, none elsewhere',
    );
  });

  test('a delete cut in its deletes: deleting the job again takes it away from every node', async () => {
    const all = { kind: 'all' } as const;
    const v = await retryUntilClean('an apply to every node', () =>
      desired.apply({
        plist: daemonPlist(label, {}, `exec sleep ${base + 2}`),
        domain: 'system',
        target: all,
        by: 'test',
      }),
    );
    for (const n of nodes)
      await eventually(async () => (await cmdline(runs(n))) === `sleep ${base + 2}`, 30_000, 'v2 runs');
    const { r, tookMs, deletesSeen } = await cutQuorumDuring(() => desired.delete(label, 'test'));
    log(
      `delete cut: v${r.version}, removed ${r.removed}, failed ${r.failures.length}, ` +
        `returned after ${tookMs} ms, ${deletesSeen} deletes seen` +
        `; reasons: ${reasons(r.failures)}`,
    );
    assert.equal(r.version, v.last.version + 1, 'the tombstone');
    assert.ok(r.failures.length > 0, 'the quorum loss cut the deletes');
    assert.ok(tookMs < 60_000, `the delete returned after ${tookMs} ms`);
    const left = await holders();
    assert.ok(left.length > 0, 'keys left after the cut');

    const {
      last,
      tries,
      deletesSeen: retryDeletes,
    } = await retryUntilClean('deleting it again', () => desired.delete(label, 'test'));
    log(
      `deleted again: v${last.version}, removed ${last.removed}, ${left.length} keys were left, ` +
        `${retryDeletes} deletes seen over the retries (${tries.join('; ')})`,
    );
    assert.equal(last.version, r.version, 'no new version');
    assert.deepEqual(await holders(), [], 'no node holds the job');
    await noneToClear(() => desired.delete(label, 'test'));
    assert.equal((await desired.get(label))?.deleted, true, 'a tombstone');
    for (const n of nodes) await eventually(() => runs(n) === undefined, 30_000, 'every agent stops the job');
    assert.equal(instances(`sleep ${base + 2}`), 0, 'the job runs nowhere');
    await assert.rejects(desired.delete(label, 'test'), /not found|NotFound/i, 'nothing left: not found');
    for (const n of nodes) assert.ok(n.link.status().connected, 'agent link up');
  });
});
