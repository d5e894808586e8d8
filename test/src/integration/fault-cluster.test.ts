/**
 * The fault suite (docs/fault-suite.md): a 3-node nats-server cluster with R3 buckets under an
 * apply, losing first the JetStream leader of the desired-state stream, then its quorum.
 *
 * Real: three nats-server processes (SIGKILLed), the controller's own apply code
 * (DesiredStateService, in this process, over the controller's connection to all three
 * servers), and four real agents (link-node.ts: the real DomainManager and fleet link; jobs are
 * real processes). Beside them the apply targets 1,000 simulated nodes that exist only as
 * registered node ids: for those the test checks the desired key (what a node would read),
 * for the real agents what runs.
 *
 * Promised and checked:
 * - leader killed mid-apply: the apply returns (it does not hang or throw) and says which nodes
 *   it could not write and why (a timeout); the same apply retried until it reports no failure
 *   (what the CLI asks of the user) re-delivers the same version and writes only the nodes
 *   that do not hold it (the writes are counted on the broker), leaving every node's key on
 *   the applied version; each real agent started the new plist once (two job processes seen
 *   over the whole test: v1, then v2), one process machine-wide per agent, and the agents and
 *   the controller's connection are alive;
 * - quorum lost (2 of 3 servers down): the apply throws an UNAVAILABLE (retryable) error, a
 *   timeout or "no JetStream server answered" (before the fix in shared/src/nats-errors.ts the
 *   latter was a FAILED_PRECONDITION "jetstream is not enabled (is the bucket or stream
 *   provisioned?)", which the controller does not retry); once the servers are back every desired
 *   key is as before and nothing new runs; the job record is as before or took that one write (a
 *   stream leader that survived may commit a proposal the client gave up on);
 * - quorum lost in the middle of an apply (the controller's 5 s client timeout, 16 writes in
 *   flight): the apply stops trying once the broker stopped answering and returns within a
 *   bound of seconds (before, each remaining write waited out its timeout: ~4.5 minutes), with
 *   every node it did not write named; what is stored matches; the retry completes it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { UnavailableError } from '@launchfleet/shared';
import { buckets, nodeIdFromRandom } from '@launchfleet/shared/messages';
import type { DesiredStateService } from '@launchfleet/controller/desired';
import type { ControlPlaneHarness } from '../support/control-plane.ts';
import { clusterHelpers, samplePids, startClusterApply } from '../support/fault-cluster.ts';
import { instances } from '../support/fault-fleet.ts';
import { type LinkNode, alive, daemonPlist, eventually } from '../support/link-node.ts';
import { cmdline } from '../support/rollout-fleet.ts';
import { jetStreamLeaderAgreed, waitFor } from '../support/nats-server.ts';

const realAgents = 4;
const simulated = 1000;
/** KV writes in flight during an apply: the controller's `applyConcurrency` (default 256), set low so an apply lasts long enough to be cut in the middle. */
const applyConcurrency = 16;
/** Each run's jobs get their own command lines, so counting them machine-wide sees only ours. */
const base = 20_000 + Math.floor(Math.random() * 20_000) * 10;
const label = 'com.acme.fault-cluster';
const plist = (version: number): string => daemonPlist(label, {}, `exec sleep ${base + version}`);
const t0 = Date.now();
const since = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

describe('fault: 3-node cluster loses its desired-state leader, then its quorum, under an apply', () => {
  let cp: ControlPlaneHarness;
  let nodes: LinkNode[] = [];
  const realIds: string[] = [];
  const simIds = Array.from({ length: simulated }, () => nodeIdFromRandom(randomBytes(13)));
  let desired: DesiredStateService;
  let stopSampler = (): void => undefined;

  const allIds = (): string[] => [
    ...simIds.slice(0, simulated / 2),
    ...realIds,
    ...simIds.slice(simulated / 2),
  ];
  let h!: ReturnType<typeof clusterHelpers>;
  const storedVersion = (id: string) => h.storedVersion(id);
  const leaderOf = (stream: string) => h.leaderOf(stream);
  const whole = () => h.whole();

  before(async () => {
    ({ cp, nodes, desired } = await startClusterApply({
      realAgents,
      realIds,
      allIds,
      concurrency: applyConcurrency,
    }));
    h = clusterHelpers(cp, label);
  });

  after(async () => {
    stopSampler();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await cp?.close();
  });

  test('the desired-state leader SIGKILLed mid-apply: every node ends on the applied version, each once', async () => {
    const before = await desired.apply({
      plist: plist(1),
      domain: 'system',
      target: { kind: 'all' },
      by: 'test',
    });
    assert.equal(before.failures.length, 0, JSON.stringify(before.failures.slice(0, 3)));
    const v1Pids: number[] = [];
    for (const n of nodes)
      v1Pids.push(
        await eventually(
          async () => {
            const p = n.job(label)?.pid;
            return p !== undefined && (await cmdline(p)) === `sleep ${base + 1}` ? p : undefined;
          },
          20_000,
          'v1 runs',
        ),
      );
    const sampler = samplePids(nodes, label, v1Pids);
    const seenPids = sampler.seen;
    stopSampler = () => sampler.stop();
    const { server: leader, meta } = await eventually(
      () => leaderOf(`KV_${buckets.desired}`).catch(() => undefined),
      30_000,
      'the stream has a leader',
    );
    // Count the apply's writes as they go out; kill the leader once a quarter of them went.
    const writes = h.countWrites();
    const applying = desired.apply({
      plist: plist(2),
      domain: 'system',
      target: { kind: 'all' },
      by: 'test',
    });
    await eventually(() => writes.n >= (simulated + realAgents) / 4, 20_000, 'a quarter of the writes out');
    const seenAtKill = writes.n;
    const killedAt = Date.now();
    await leader.kill();
    const seenAfterKill = writes.n;
    const r = await applying;
    const applyMs = Date.now() - killedAt;
    writes.stop();
    assert.ok(
      seenAfterKill < simulated + realAgents,
      `the leader died mid-apply (${seenAfterKill} writes out)`,
    );
    console.log(
      `[fault-cluster] killed ${leader.name} (stream leader${meta ? ' and meta leader' : ''}) after ${seenAtKill} writes ` +
        `(${seenAfterKill} when it was dead, ${writes.n} at the end); ` +
        `apply returned ${applyMs} ms later: written ${r.written}, superseded ${r.superseded}, failed ${r.failures.length}` +
        (r.failures[0] ? ` (e.g. ${r.failures[0].reason})` : ''),
    );
    assert.equal(r.version, 2);
    assert.equal(r.written + r.superseded + r.failures.length, simulated + realAgents);
    for (const f of r.failures)
      assert.match(f.reason, /UNAVAILABLE|did not answer|timeout|no responders/i, f.reason);
    // Unless the apply gave up (nodes not tried), the broker answered again in time: every write
    // cut off by the kill was tried again and went through (write-gate.ts, writeThroughGate).
    if (r.notAttempted === 0)
      assert.equal(
        r.failures.length,
        0,
        `writes cut off by the kill and not tried again: ${r.failures.length}`,
      );

    // A write reported failed may still have been stored (its ack was lost with the leader).
    let storedAnyway = 0;
    for (const f of r.failures) if ((await storedVersion(f.nodeId)) === r.version) storedAnyway++;
    console.log(
      `[fault-cluster] of ${r.failures.length} failed writes, ${storedAnyway} were stored all the same`,
    );

    // The user's retry, as the CLI says: the same apply again, to the same target. It re-delivers
    // version 2 and writes only the nodes that do not hold it: counted as they go out.
    const missed: string[] = [];
    for (const id of allIds()) if ((await storedVersion(id)) !== r.version) missed.push(id);
    let retryFailures = 0;
    const retryWrites = h.countWrites();
    const again = await eventually(
      async () => {
        // While new leaders are elected the retry itself may fail UNAVAILABLE: retried again.
        const x = await desired
          .apply({ plist: plist(2), domain: 'system', target: { kind: 'all' }, by: 'test' })
          .catch((e: unknown) => {
            console.log(`[fault-cluster] a retry failed: ${String(e)}`);
            return undefined;
          });
        retryFailures += x?.failures.length ?? 0;
        return x && x.failures.length === 0 ? x : undefined;
      },
      30_000,
      'a retried apply with no failures',
    );
    retryWrites.stop();
    console.log(
      `[fault-cluster] retried apply: version ${again.version}, ${missed.length} nodes missed v2, ` +
        `the last retry wrote ${again.written}, ${again.unchanged} unchanged; ${retryWrites.n} writes seen over all retries`,
    );
    assert.equal(again.version, r.version, 'the retry re-delivers the applied version');
    assert.equal(again.written + again.unchanged, simulated + realAgents);
    assert.ok(again.written <= missed.length, `the retry wrote ${again.written} of ${missed.length} missed`);
    // Each missed node once, plus a write again for each a failed retry could not confirm.
    assert.ok(
      retryWrites.n <= missed.length + retryFailures,
      `writes during the retries: ${retryWrites.n} (missed ${missed.length}, retry failures ${retryFailures})`,
    );
    for (const id of allIds()) assert.equal(await storedVersion(id), r.version, `desired key of ${id}`);
    const cmd = `sleep ${base + 2}`;
    const pids: number[] = [];
    for (const n of nodes)
      pids.push(
        await eventually(
          async () => {
            const p = n.job(label)?.pid;
            return p !== undefined && (await cmdline(p)) === cmd ? p : undefined;
          },
          30_000,
          `${cmd} runs`,
        ),
      );
    // Settled: the same processes a while later, and exactly one per agent machine-wide.
    await new Promise((res) => setTimeout(res, 3000));
    assert.deepEqual(
      nodes.map((n) => n.job(label)?.pid),
      pids,
      'no job restarted after it ran the applied version',
    );
    sampler.stop();
    assert.deepEqual(
      seenPids.map((l) => l.length),
      nodes.map(() => 2),
      `each agent ran two processes of the job: v1, then v2 (pids seen: ${sampler.trace()})`,
    );
    assert.equal(instances(cmd), realAgents, 'one instance per agent');
    assert.equal(instances(`sleep ${base + 1}`), 0, 'the old version stopped everywhere');
    for (const n of nodes) assert.ok(n.link.status().connected, 'agent link up');
    assert.ok(!cp.nc.isClosed(), 'controller connection alive');
    await leader.restart();
    await waitFor(
      () => jetStreamLeaderAgreed(cp.servers.map((s) => s.monitorPort)),
      30_000,
      'cluster whole again',
    );
    console.log(`[fault-cluster] leader test done at ${since()}`);
  });

  test('quorum lost (2 of 3 down): the apply fails as UNAVAILABLE; afterwards no node key moved and the record took at most that one write', async () => {
    // Whole again even if the first test failed before it restarted the server it killed.
    await whole();
    const jobsBefore = await desired.get(label);
    assert.ok(jobsBefore);
    const versionsBefore = new Map<string, number | null>();
    for (const id of allIds()) versionsBefore.set(id, await storedVersion(id));
    const pidsBefore = nodes.map((n) => n.job(label)?.pid);
    const { server: leader } = await eventually(
      () => leaderOf(`KV_${buckets.desired}`).catch(() => undefined),
      30_000,
      'the stream has a leader again',
    );
    const [down1, down2] = [leader, ...cp.servers.filter((s) => s !== leader)];
    assert.ok(down1 && down2);
    await down1.kill();
    await down2.kill();
    const started = Date.now();
    let changedNothing: boolean | undefined;
    await assert.rejects(
      desired.apply({ plist: plist(3), domain: 'system', target: { kind: 'all' }, by: 'test' }),
      (e: Error) => {
        changedNothing = e instanceof UnavailableError ? e.changedNothing : undefined;
        console.log(
          `[fault-cluster] apply without quorum: ${e.name}: ${e.message} (${Date.now() - started} ms; ` +
            `changedNothing ${String(changedNothing)})`,
        );
        assert.equal(e.name, 'Unavailable');
        // Which one depends on how far the surviving server got in noticing its peers are gone: a
        // read or publish it no longer routes anywhere (no responders; a direct get says so in its
        // own words), or one that waits (timeout).
        assert.match(
          e.message,
          /^(reading|writing) the job record of .*: (timeout|no responders|no JetStream server answered.*retry|the controller is not connected to the message broker.*nothing was sent; retry)/,
        );
        // A read before the write, a write not sent or one no stream took changed nothing and is
        // marked so (the API then says "nothing was changed"); a timed-out write is not.
        assert.equal(
          changedNothing,
          !/^writing the job record of .*: timeout/.test(e.message),
          'marked as having changed nothing exactly when the write was not tried, sent or stored',
        );
        return true;
      },
    );
    await down1.restart();
    await down2.restart();
    // Quorum back: the meta leader and a leader for each of the two streams (on a loaded machine a
    // stream's election can end well after the meta leader's: CI once read the job record for 20 s
    // in vain after the meta leader alone).
    await whole();
    let readError = '';
    const jobsAfter = await eventually(
      async () =>
        desired.get(label).catch((e: unknown) => {
          readError = String(e);
          return undefined;
        }),
      30_000,
      'the job record can be read again',
    ).catch((e: unknown) => {
      throw new Error(`${String(e)} (last error: ${readError})`);
    });
    // A write the client gave up on can still be committed once quorum returns: the stream's leader
    // may have survived and held the proposal (seen in CI: 'the job record did not move 4 !== 3').
    // The caller was told the change may or may not take effect. Either the record did not move,
    // or it moved exactly one version, to this apply's plist; no node key moved either way (the
    // apply stopped at the record).
    // Where the error said nothing was changed, nothing was.
    if (changedNothing)
      assert.equal(jobsAfter.version, jobsBefore.version, 'an apply that said it changed nothing did not');
    assert.ok(
      jobsAfter.version === jobsBefore.version ||
        (jobsAfter.version === jobsBefore.version + 1 && jobsAfter.plist === plist(3)),
      `the job record did not move, or took only the refused apply's write (${jobsBefore.version} -> ${jobsAfter.version})`,
    );
    for (const id of allIds())
      assert.equal(await storedVersion(id), versionsBefore.get(id), `desired key of ${id} unchanged`);
    await new Promise((res) => setTimeout(res, 2000));
    assert.deepEqual(
      nodes.map((n) => n.job(label)?.pid),
      pidsBefore,
      'nothing restarted',
    );
    for (const p of pidsBefore) assert.ok(alive(p));
    assert.equal(instances(`sleep ${base + 3}`), 0, 'the refused version runs nowhere');
    await eventually(() => nodes.every((n) => n.link.status().connected), 30_000, 'agents reconnected');
    console.log(`[fault-cluster] quorum test done at ${since()}`);
  });

  test('quorum lost in the middle of an apply: the apply says which nodes it missed; a retry after quorum completes it', async () => {
    // What a failure prints (CI once failed here on 2.10.27 without the assertion's text): the
    // step, the figures so far, the cluster's state and each server's last log lines.
    const ctx: Record<string, unknown> = {};
    const step = (s: string) => {
      ctx['step'] = s;
    };
    try {
      await quorumLostMidApply(ctx, step);
    } catch (e) {
      console.log(
        `[fault-cluster] mid-apply quorum test FAILED at step "${String(ctx['step'])}": ${String(e)}\n` +
          `[fault-cluster] figures: ${JSON.stringify(ctx)}\n${await h.diagnose().catch((x: unknown) => String(x))}`,
      );
      throw e;
    }
  });

  async function quorumLostMidApply(ctx: Record<string, unknown>, step: (s: string) => void): Promise<void> {
    step('whole');
    await whole();
    // Read what is there once every replica of both streams is current: right after servers
    // restarted (the test before this one) a direct get can be answered by a replica still
    // catching up, and a stale record or key read here would fail the checks below though the
    // cluster did nothing wrong.
    // What a read said before they were: printed when it differs (evidence, not a check).
    step('read before the replicas are current');
    const beforeEarly = (await desired.get(label))?.version ?? 0;
    const heldEarly = new Map<string, number | null>();
    for (const id of allIds()) heldEarly.set(id, await storedVersion(id));
    step('replicas current before the apply');
    await h.streamInSync(`KV_${buckets.jobs}`);
    await h.inSync();
    const before = (await desired.get(label))?.version ?? 0;
    ctx['before'] = before;
    const held = new Map<string, number | null>();
    for (const id of allIds()) held.set(id, await storedVersion(id));
    const staleKeys = allIds().filter((id) => heldEarly.get(id) !== held.get(id));
    if (beforeEarly !== before || staleKeys.length > 0)
      console.log(
        `[fault-cluster] reads before every replica was current differed: job record v${beforeEarly} (then v${before}), ` +
          `${staleKeys.length} desired keys (e.g. ${staleKeys
            .slice(0, 3)
            .map((id) => `v${heldEarly.get(id)} then v${held.get(id)}`)
            .join(', ')})`,
      );
    ctx['staleBeforeSync'] = { record: beforeEarly !== before, keys: staleKeys.length };
    // The controller's client timeout (5 s) and 16 writes in flight: once quorum is gone every
    // write still to go would wait out its timeout (16 at a time, about 4.5 minutes for the ~870
    // left) if the apply did not stop trying.
    const { server: leader } = await eventually(
      () => leaderOf(`KV_${buckets.desired}`).catch(() => undefined),
      30_000,
      'the stream has a leader',
    );
    const other = cp.servers.find((s) => s !== leader);
    assert.ok(other);
    ctx['killed'] = [leader.name, other.name];
    step('apply, then kill two servers');
    const writes = h.countWrites();
    const started = Date.now();
    const applying = desired.apply({
      plist: plist(4),
      domain: 'system',
      target: { kind: 'all' },
      by: 'test',
    });
    await eventually(() => writes.n >= 100, 20_000, 'writes going out');
    await Promise.all([leader.kill(), other.kill()]);
    const r = await applying;
    writes.stop();
    const tookMs = Date.now() - started;
    ctx['apply'] = {
      version: r.version,
      written: r.written,
      superseded: r.superseded,
      unchanged: r.unchanged,
      failed: r.failures.length,
      notAttempted: r.notAttempted,
      tookMs,
      writesSeen: writes.n,
      reasons: [...new Set(r.failures.map((f) => f.reason))].slice(0, 5),
    };
    step('the apply without quorum');
    assert.equal(r.version, before + 1, 'the job record took the new version before the cut');
    // Every node accounted for. `unchanged`: the apply found the node's key already holding this
    // very value (seen once, leg 1, 2026-12-07: written 85, unchanged 3, failed 916, when the test
    // summed only written and failed; how a cut apply comes to find its own value is not
    // established). Such a node is checked below like a written one: it must hold the new version.
    assert.equal(r.written + r.unchanged + r.failures.length, simulated + realAgents);
    assert.ok(r.failures.length > 0, `some writes cut off (written ${r.written})`);
    for (const f of r.failures)
      assert.match(f.reason, /timeout|no JetStream server answered|jetstream|no responders/i, f.reason);
    // Measured about 15 s (docs/fault-suite.md); the bound is 4 times that. Before the apply
    // stopped trying, this took about 4.5 minutes.
    assert.ok(tookMs < 60_000, `the apply without quorum returned after ${tookMs} ms`);
    assert.ok(r.notAttempted > 0, `the writes left were not tried (${r.notAttempted})`);
    step('restart the two servers');
    await leader.restart();
    await other.restart();
    await waitFor(() => jetStreamLeaderAgreed(cp.servers.map((s) => s.monitorPort)), 30_000, 'quorum back');
    step('what is stored after quorum returned');
    // Precisely what is there now, as the stream's leader says once every replica caught up
    // (1 run in 12 read, by direct get right after the restarts, a node reported written at its
    // old version; most likely a replica still behind answered, not proven): every node reported
    // written has the new version; a node reported failed has the old one or (its ack lost) the
    // new one.
    await h.inSync();
    const failed = new Set(r.failures.map((f) => f.nodeId));
    let storedAnyway = 0;
    for (const id of allIds()) {
      const v = await eventually(() => h.leaderVersion(id).catch(() => undefined), 20_000, `read ${id}`);
      if (!failed.has(id)) assert.equal(v, r.version, `${id} reported written`);
      else {
        assert.ok(v === held.get(id) || v === r.version, `${id} reported failed holds v${v}`);
        if (v === r.version) storedAnyway++;
      }
    }
    console.log(
      `[fault-cluster] quorum lost mid-apply: written ${r.written}, unchanged ${r.unchanged}, failed ${r.failures.length} ` +
        `(${r.notAttempted} not tried) ` +
        `(${storedAnyway} of them stored all the same), apply returned after ${tookMs} ms` +
        (r.failures[0] ? `; e.g. ${r.failures[0].reason}` : ''),
    );
    ctx['storedAnyway'] = storedAnyway;
    // The retry the apply's failures ask for: every node on one version, each agent on the new plist once.
    step('the retry');
    const retries: string[] = [];
    ctx['retries'] = retries;
    const again = await eventually(
      async () => {
        const x = await desired
          .apply({ plist: plist(4), domain: 'system', target: { kind: 'all' }, by: 'test' })
          .catch((e: unknown) => {
            retries.push(String(e).slice(0, 200));
            return undefined;
          });
        if (x)
          retries.push(
            `v${x.version}: written ${x.written}, unchanged ${x.unchanged}, failed ${x.failures.length}` +
              (x.failures[0] ? ` (${x.failures[0].reason.slice(0, 120)})` : ''),
          );
        return x && x.failures.length === 0 ? x : undefined;
      },
      40_000,
      'a retried apply with no failures',
    );
    step('after the retry');
    assert.equal(again.version, r.version, 'the retry re-delivers the version');
    for (const id of allIds()) assert.equal(await storedVersion(id), again.version, `desired key of ${id}`);
    const cmd = `sleep ${base + 4}`;
    step('the agents run the retried version');
    for (const n of nodes)
      await eventually(async () => (await cmdline(n.job(label)?.pid)) === cmd, 30_000, `${cmd} runs`);
    await eventually(() => instances(cmd) === realAgents, 10_000, 'one instance per agent');
    assert.equal(instances(`sleep ${base + 2}`), 0, 'the old version stopped everywhere');
    console.log(`[fault-cluster] mid-apply quorum test done at ${since()}`);
  }
});
