/**
 * The catch-up an agent runs on every connection reads its desired state (puts and delete
 * markers) through its index and direct gets: no JetStream consumer and no JetStream API request,
 * counted by the broker's own advisories (node-agent/src/link/desired-follower.ts). A node whose
 * index is missing (a controller older than the index) catches up once through a short-lived
 * consumer that the broker drops seconds later (node-agent/src/link/kv-catch-up.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { buckets, keys, kvStreamName, kvSubject, subjects } from '@launchfleet/shared/messages';
import { systemScheduler } from '@launchfleet/shared/clock';
import { kvCatchUp, connectAsNode } from '@launchfleet/node-agent/link';
import { provisionControlPlane } from '@launchfleet/controller/identity';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { daemonPlist, eventually } from '../support/link-node.ts';
import { enrolledNodeSuite, putJob, signedRaw } from '../support/link-fleet.ts';
import { JsAdvisories } from '../support/js-advisories.ts';

describe('fleet link: the catch-up read', () => {
  const suite = enrolledNodeSuite();

  test('reads puts and deletions made while the agent was away with direct gets: no consumer, no API request', async () => {
    const { cp, node, nodeId } = suite;
    const advisories = new JsAdvisories(cp.nc);
    await advisories.ready(cp.nc);
    const dir = await mkdtemp(join(tmpdir(), 'lf-catch-up-'));
    const versionFile = join(dir, 'keep.version');
    const keep = (v: number): string =>
      daemonPlist(
        'com.acme.keep',
        { EnvironmentVariables: { LF_VERSION: String(v) } },
        `echo "$LF_VERSION" > ${versionFile}; exec sleep 300`,
      );
    await putJob(cp, nodeId, { label: 'com.acme.keep', version: 1, plist: keep(1) });
    await putJob(cp, nodeId, { label: 'com.acme.gone', version: 1, plist: daemonPlist('com.acme.gone') });
    await eventually(
      async () => (await readFile(versionFile, 'utf8').catch(() => '')).trim() === '1',
      15_000,
      'keep runs v1',
    );
    await eventually(() => node.job('com.acme.gone')?.pid, 15_000, 'gone runs');
    // Away: keep changes, gone is deleted, a third job appears.
    await node.link.stop();
    await putJob(cp, nodeId, { label: 'com.acme.keep', version: 2, plist: keep(2) });
    await cp.store.desired.delete(keys.desired(nodeId, 'com.acme.gone'));
    await putJob(cp, nodeId, { label: 'com.acme.new', version: 1, plist: daemonPlist('com.acme.new') });
    await node.restart();
    await eventually(() => node.link.status().connected, 15_000, 'back');
    await eventually(() => node.job('com.acme.new')?.pid, 15_000, 'new runs');
    await eventually(() => node.job('com.acme.gone') === undefined, 15_000, 'gone is unloaded');
    await eventually(
      async () => (await readFile(versionFile, 'utf8').catch(() => '')).trim() === '2',
      15_000,
      'keep runs v2',
    );
    // The broker's own count: the node created no consumer and asked the JetStream API nothing,
    // on its first connection or after the restart. One request of ours shows the count works.
    await (await jetstreamManager(cp.nc)).streams.info(kvStreamName(buckets.desired));
    await eventually(() => advisories.api.length > 0, 5000, 'the audit advisory of our own request');
    advisories.stop();
    assert.deepEqual(advisories.consumersCreated, [], 'consumers created');
    assert.deepEqual(
      advisories.apiBy((c) => c === nodeId),
      [],
      'JetStream API requests by the node',
    );
    await rm(dir, { recursive: true, force: true });
  });

  test('without an index (an older controller) it catches up through a consumer that is gone within seconds', async () => {
    const { cp, node, nodeId } = suite;
    const jsm = await jetstreamManager(cp.nc);
    const stream = kvStreamName(buckets.desired);
    const consumers = async (): Promise<number> => (await jsm.streams.info(stream)).state.consumer_count;
    await node.link.stop();
    await cp.store.desired.purge(keys.desiredIndex(nodeId));
    await putJob(cp, nodeId, { label: 'com.acme.legacy', version: 1, plist: daemonPlist('com.acme.legacy') });
    await cp.store.desired.purge(keys.desiredIndex(nodeId));
    await node.restart();
    await eventually(() => node.link.status().connected, 15_000, 'back');
    await eventually(() => node.job('com.acme.legacy')?.pid, 15_000, 'legacy runs');
    // The catch-up's consumer: dropped by the broker a few seconds after the read.
    await eventually(async () => (await consumers()) === 0, 20_000, 'no consumer left on the stream');
    await cp.store.desiredIndex.repair([nodeId]);
  });

  test('a store that lost a running job (no value, no delete marker) is not a removal: it keeps running and the node says so', async () => {
    // A wiped or re-created stream, or a restored backup, must not stop a fleet's jobs: the
    // controller removes a label by a delete marker, never by purging (desired-follower.ts).
    const { cp, node, nodeId } = suite;
    const jsm = await jetstreamManager(cp.nc);
    const stream = kvStreamName(buckets.desired);
    await putJob(cp, nodeId, { label: 'com.acme.lost', version: 1, plist: daemonPlist('com.acme.lost') });
    await eventually(() => node.job('com.acme.lost')?.pid, 15_000, 'lost runs');
    const drift: string[] = [];
    const sub = cp.nc.subscribe(subjects.event(nodeId, 'drift'), {
      callback: (_e, m) => {
        drift.push(m.string());
      },
    });
    // While the node is away, the store loses the key (every message of it, markers included):
    // first with the index still listing it, then with the index gone too (the consumer path).
    for (const lose of [[keys.desired(nodeId, 'com.acme.lost')], [keys.desiredOf(nodeId)]]) {
      await node.link.stop();
      for (const k of lose) await jsm.streams.purge(stream, { filter: kvSubject(buckets.desired, k) });
      drift.length = 0;
      node.logs.length = 0;
      await node.restart();
      await eventually(() => node.link.status().connected, 15_000, 'back');
      await eventually(
        () => drift.some((d) => d.includes('desired-state-missing') && d.includes('com.acme.lost')),
        15_000,
        `a drift event names the lost job (${lose.join(', ')})`,
      );
      assert.ok(
        node.logs.some((l) => /desired state of com\.acme\.lost is gone/.test(l)),
        node.logs.join('\n'),
      );
      // Past the catch-up and a level check: still loaded and running.
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(node.job('com.acme.lost')?.pid, 'the job keeps running');
    }
    sub.unsubscribe();
    // Applying it again writes the key and the index; removing it then stops it.
    await cp.store.desiredIndex.repair([nodeId]);
    await putJob(cp, nodeId, { label: 'com.acme.lost', version: 2, plist: daemonPlist('com.acme.lost') });
    await cp.store.desired.delete(keys.desired(nodeId, 'com.acme.lost'));
    await eventually(() => node.job('com.acme.lost') === undefined, 15_000, 'removed by its delete marker');
  });

  test('a desired-state stream deleted and re-created: jobs keep running, the node says what is missing, new applies work', async () => {
    const { cp, node, nodeId } = suite;
    const jsm = await jetstreamManager(cp.nc);
    await putJob(cp, nodeId, {
      label: 'com.acme.survivor',
      version: 1,
      plist: daemonPlist('com.acme.survivor'),
    });
    const pid = await eventually(() => node.job('com.acme.survivor')?.pid, 15_000, 'survivor runs');
    const drift: string[] = [];
    const sub = cp.nc.subscribe(subjects.event(nodeId, 'drift'), {
      callback: (_e, m) => {
        drift.push(m.string());
      },
    });
    // The stream goes away under a connected node: nothing it runs stops.
    await jsm.streams.delete(kvStreamName(buckets.desired));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(node.job('com.acme.survivor')?.pid, pid, 'runs on while the stream is missing');
    // A reconnect while it is missing: the reads fail, the node retries, the job runs on.
    node.logs.length = 0;
    await node.restart();
    await eventually(
      () =>
        node.logs.some((l) => /cannot read this node's desired state from KV_lf_desired .*retrying/.test(l)),
      15_000,
      'a clear error while the stream is missing',
    );
    await eventually(() => node.job('com.acme.survivor')?.pid, 15_000, 'restored from the agent state');
    // Re-created empty (what a controller's provisioning does at its start).
    await provisionControlPlane(cp.nc, { replicas: 1 });
    await eventually(
      () => drift.some((d) => d.includes('desired-state-missing') && d.includes('com.acme.survivor')),
      30_000,
      'the node reports the job the new stream does not have',
    );
    assert.ok(node.job('com.acme.survivor')?.pid, 'still running');
    await putJob(cp, nodeId, { label: 'com.acme.after', version: 1, plist: daemonPlist('com.acme.after') });
    await eventually(() => node.job('com.acme.after')?.pid, 20_000, 'a job applied to the new stream runs');
    sub.unsubscribe();
  });

  test('live messages the stream refused hold up nothing: an apply right after three of them runs at once', async (t) => {
    // Found by the fault suite, and behind a CI flake of link-reconcile: the follower looked
    // again at a refused message for ~10 s inside its one queue, so every later entry waited,
    // 10 s per refused message. Here: three writes a lost compare-and-set would make (the stream
    // refuses them, core subscribers still see them), then a real apply of another job.
    const { cp, node, nodeId } = suite;
    const subject = kvSubject(buckets.desired, keys.desired(nodeId, 'com.acme.refused'));
    for (let i = 0; i < 3; i++) {
      const h = headers();
      h.set('Nats-Expected-Last-Subject-Sequence', String(1_000_000 + i));
      cp.nc.publish(subject, signedRaw(cp, refusedBundle(nodeId, i + 1)), { headers: h });
    }
    await cp.nc.flush();
    const t0 = Date.now();
    await putJob(cp, nodeId, { label: 'com.acme.after', version: 1, plist: daemonPlist('com.acme.after') });
    // Before the fix: not before ~28 s (three waits of ~9.4 s in a row).
    await eventually(() => node.job('com.acme.after')?.pid, 8000, 'the apply after the refused writes runs');
    const ms = Date.now() - t0;
    assert.equal(node.job('com.acme.refused'), undefined, 'a write the stream refused is never applied');
    t.diagnostic(`apply after 3 refused writes: running in ${ms} ms`);
    await node.link.idle();
    assert.equal(node.job('com.acme.refused'), undefined, 'nor later');
  });

  test('a catch-up the broker never answers fails after its deadline; nothing crashes', async () => {
    // Found by the 10,000-agent benchmark: the deadline fired while the consumer-create request
    // was still out, its rejection had no handler yet, and Node ended the simulator process.
    const { cp, node } = suite;
    const id = node.link.identity;
    assert.ok(id);
    const proxy = await startTcpProxy(cp.servers[0]!.port);
    const nc = await connectAsNode(id, { servers: [proxy.url], reconnect: false });
    try {
      proxy.stallJetStream(true);
      const t0 = Date.now();
      await assert.rejects(
        kvCatchUp({
          nc,
          stream: kvStreamName(buckets.desired),
          keyPrefix: `$KV.${buckets.desired}.`,
          filterSubject: kvSubject(buckets.desired, keys.desiredOf(id.nodeId)),
          inboxPrefix: subjects.nodeInboxPrefix(id.nodeId),
          scheduler: systemScheduler,
          timeoutMs: 300,
        }),
        /incomplete after 300 ms/,
      );
      assert.ok(Date.now() - t0 < 2000, 'failed at its deadline, not at a later timeout');
      // Past the request's own timeout: a late rejection must find a handler.
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      await nc.close();
      await proxy.close();
    }
  });
});

/** A valid, signed bundle for `com.acme.refused` that only ever reaches the node unstored. */
function refusedBundle(nodeId: string, version: number) {
  const now = Date.now();
  return {
    label: 'com.acme.refused',
    version,
    domain: 'system',
    nodeId,
    issuedAt: now,
    expiresAt: now + 3600_000,
    plist: daemonPlist('com.acme.refused'),
  };
}
