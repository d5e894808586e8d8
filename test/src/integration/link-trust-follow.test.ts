/**
 * The agent follows the trust store without a JetStream consumer (issue 9: at fleet scale
 * every consumer costs nats-server idle CPU and memory): a core subscription to
 * `$KV.lf_trust.store` sees updates made while the node is connected, a direct get after
 * every (re)connect catches what was published while it was away, and no consumer follows
 * lf_trust or lf_desired (desired state is followed the same way: desired-follower.ts). A real nats-server in operator mode, a real fleet link
 * (through a TCP proxy, so the test can cut it off), and a DesiredWatch on a connection that
 * reconnects by itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { NatsConnection, Status } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { systemClock } from '@launchfleet/shared';
import { buckets, keys, kvStreamName, kvSubject } from '@launchfleet/shared/messages';
import { type TrustStore, encodeSignedTrustStore, signTrustStore } from '@launchfleet/shared/signing';
import { DesiredWatch, type NodeIdentity, connectAsNode } from '@launchfleet/node-agent/link';
import { publishTrustStore } from '@launchfleet/controller/identity';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { EventLog, enrolledLinkNode, putJob } from '../support/link-fleet.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

const denied = /Permissions Violation/i;
/** Long enough that only a live message or a (re)connect can deliver an update within a test. */
const noRefreshMs = 10 * 60_000;

describe('fleet link: the trust store followed without a consumer', () => {
  let cp: ControlPlaneHarness;
  let proxy: TcpProxy;
  let node: LinkNode;
  let events: EventLog;
  let id: NodeIdentity;

  /**
   * Consumers someone is listening to (`push_bound`). The agent's catch-up read at connect is a
   * watch it stops at once; nats.js gives ordered consumers a 5 min inactivity threshold, so the
   * server lists it, unbound, until then.
   */
  const consumerCount = async (bucket: 'lf_trust' | 'lf_desired'): Promise<number> => {
    const jsm = await jetstreamManager(cp.nc);
    let n = 0;
    for await (const c of jsm.consumers.list(kvStreamName(bucket))) if (c.push_bound) n++;
    return n;
  };
  /** Versions of the trust-updated events the fleet node reported. */
  const updatedVersions = (): number[] => events.of(id.nodeId, 'trust-updated').map((e) => e.version ?? -1);
  /** Publishes the next store with one more key, as rotation step 1 does; returns its version. */
  const rotate = async (): Promise<number> => {
    await cp.keyStore.addSigningKey();
    return (await publishTrustStore(cp.store.trust, cp.keyStore, { now: Date.now() })).store.version;
  };

  before(async () => {
    cp = await startControlPlane();
    events = new EventLog(cp.nc);
    proxy = await startTcpProxy(cp.servers[0]!.port);
    node = await enrolledLinkNode(cp, { urls: [proxy.url], settings: { trustRefreshMs: noRefreshMs } });
    const ident = node.link.identity;
    assert.ok(ident);
    id = ident;
  });

  after(async () => {
    await node?.close();
    await proxy?.close();
    await cp?.close();
  });

  test('a rotation published while the agent is connected applies through the subscription; lf_trust has no consumer', async () => {
    assert.equal(await consumerCount('lf_trust'), 0, 'no consumer on KV_lf_trust');
    // Desired state is followed without a consumer too; the listing made at connect is ephemeral.
    await eventually(
      async () => (await consumerCount('lf_desired')) === 0,
      15_000,
      'no consumer on KV_lf_desired',
    );
    const connects = node.link.status().connects;
    const version = await rotate();
    await eventually(() => updatedVersions().includes(version), 10_000, `trust-updated v${version}`);
    assert.equal(node.link.status().connects, connects, 'no reconnect: the live message carried it');
    // Persisted for the next start, and bundles signed by the new key verify.
    // (The link writes the file after it reports the update, so wait for it.)
    const storedVersion = async (): Promise<number | undefined> => {
      try {
        return (JSON.parse(await readFile(id.trustStorePath, 'utf8')) as { store: TrustStore }).store.version;
      } catch {
        return undefined; // between the write and the rename
      }
    };
    await eventually(
      async () => (await storedVersion()) === version,
      10_000,
      `trust store v${version} persisted`,
    );
    const k2 = cp.keyStore.signingKeys().find((k) => k.keyId !== cp.keyStore.activeSigningKey().keyId);
    assert.ok(k2);
    await cp.keyStore.activate(k2.keyId);
    await putJob(cp, id.nodeId, { label: 'com.acme.k2', version: 1, plist: daemonPlist('com.acme.k2') });
    await eventually(() => node.job('com.acme.k2')?.pid, 10_000, 'a job signed by the new key runs');
    assert.equal(await consumerCount('lf_trust'), 0, 'still no consumer on KV_lf_trust');
    assert.equal(await consumerCount('lf_desired'), 0, 'still no consumer on KV_lf_desired');
    assert.deepEqual(events.of(id.nodeId, 'trust-refused'), [], 'nothing refused on the way');
  });

  test('the node may subscribe to the trust key and nothing wider, and may not watch lf_trust', async () => {
    const nc = await connectAsNode(id, { servers: cp.urls, reconnect: false });
    try {
      const ok = nc.subscribe(kvSubject(buckets.trust, keys.trustStore));
      for (const subject of ['$KV.lf_trust.>', '$KV.lf_desired.*.>', '$KV.lf_desired.>']) {
        const sub = nc.subscribe(subject);
        assert.match(String(await sub.closed), denied, subject);
      }
      const trust = await new Kvm(nc).open(buckets.trust, { allow_direct: true });
      await assert.rejects(trust.watch({ key: keys.trustStore }), denied, 'no consumer on lf_trust');
      assert.ok(await trust.get(keys.trustStore), 'direct get still allowed');
      await nc.flush();
      assert.equal(ok.isClosed(), false, 'the trust key subscription stands');
    } finally {
      await nc.close();
    }
  });

  test('an update made while the agent is cut off is picked up when it reconnects', async () => {
    const connects = node.link.status().connects;
    await proxy.cut();
    await eventually(() => !node.link.status().connected, 10_000, 'link disconnected');
    const version = await rotate();
    await proxy.heal();
    await eventually(
      () => updatedVersions().includes(version),
      15_000,
      `trust-updated v${version} after reconnect`,
    );
    assert.ok(node.link.status().connects > connects);
    assert.deepEqual(events.of(id.nodeId, 'trust-refused'), []);
  });

  describe('a DesiredWatch on a connection that reconnects by itself', () => {
    let wproxy: TcpProxy;
    let nc: NatsConnection;
    let watch: DesiredWatch;
    const seen: { kind: string; reason: string; version: number | undefined }[] = [];
    const statuses: Status['type'][] = [];
    const logs: string[] = [];

    before(async () => {
      wproxy = await startTcpProxy(cp.servers[0]!.port);
      nc = await connectAsNode(id, { servers: [wproxy.url], reconnectTimeWaitMs: 100 });
      void (async () => {
        for await (const s of nc.status()) statuses.push(s.type);
      })();
      const stored = JSON.parse(await readFile(id.trustStorePath, 'utf8')) as { store: TrustStore };
      watch = new DesiredWatch({
        nc,
        nodeId: id.nodeId,
        trust: stored.store,
        clock: systemClock,
        trustRefreshMs: noRefreshMs,
        trustConfirmMs: 200,
        log: (_level, msg) => logs.push(msg),
        onBundle: () => undefined,
        publish: (e) => seen.push({ kind: e.kind, reason: e.reason ?? '', version: e.version }),
      });
      await watch.start();
    });

    after(async () => {
      await watch?.stop();
      await nc?.close();
      await wproxy?.close();
    });

    test('an update published while its connection was down is read after the reconnect', async () => {
      const before = watch.trust.version;
      await wproxy.cut();
      await eventually(() => statuses.includes('disconnect'), 10_000, 'client saw the disconnect');
      const version = await rotate();
      assert.ok(version > before);
      // Nothing can have reached the watch: its connection is down.
      assert.equal(watch.trust.version, before);
      await wproxy.heal();
      await eventually(() => statuses.includes('reconnect'), 15_000, 'client reconnected');
      await eventually(() => watch.trust.version === version, 10_000, `watch at v${version}`);
      assert.ok(seen.some((e) => e.kind === 'trust-updated' && e.version === version));
    });

    test('a rollback put into the bucket is refused and reported once; a real next store still applies', async () => {
      const held = watch.trust;
      const signer = cp.keyStore.activeSigningKey();
      const rollback = signTrustStore({ ...held, version: held.version - 1 }, signer);
      await cp.store.trust.put(keys.trustStore, encodeSignedTrustStore(rollback));
      await eventually(
        () => seen.some((e) => e.kind === 'trust-refused' && e.reason === 'older-version'),
        10_000,
        'rollback reported',
      );
      assert.deepEqual(watch.trust, held, 'not rolled back');
      // A reconnect reads the rolled-back value again: it is not reported a second time.
      const disconnects = statuses.filter((s) => s === 'disconnect').length;
      await wproxy.cut();
      await eventually(
        () => statuses.filter((s) => s === 'disconnect').length > disconnects,
        10_000,
        'disconnected again',
      );
      await wproxy.heal();
      await eventually(
        () => logs.some((l) => l.includes('older-version') && l.includes('reported before')),
        15_000,
        'the reconnect read saw the rollback again',
      );
      const next = signTrustStore({ ...held, version: held.version + 1, issuedAt: Date.now() }, signer);
      await cp.store.trust.put(keys.trustStore, encodeSignedTrustStore(next));
      await eventually(() => watch.trust.version === held.version + 1, 10_000, 'next store applied');
      assert.equal(seen.filter((e) => e.kind === 'trust-refused').length, 1, JSON.stringify(seen));
      assert.deepEqual(watch.trust, next.store);
    });
  });
});
