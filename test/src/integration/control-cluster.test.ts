/**
 * The control plane on a 3-node nats-server cluster with R3 buckets: desired state survives
 * the loss of one server (reads go on; writes resume once the stream leader moves), and a
 * revocation pushed through one server cuts off a node connected to another.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { buckets, keys } from '@launchfleet/shared/messages';
import { type NodeIdentity, connectAsNode, enroll } from '@launchfleet/node-agent/link';
import { putSignedBundle } from '@launchfleet/controller/identity';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { eventually } from '../support/eventually.ts';
import { firstServerError } from '../support/events.ts';

describe('control plane: 3-node cluster, R3 buckets', () => {
  let cp: ControlPlaneHarness;
  let stateRoot: string;
  let a: NodeIdentity;
  let b: NodeIdentity;

  before(async () => {
    cp = await startControlPlane({ cluster: true });
    stateRoot = await mkdtemp(join(tmpdir(), 'lf-agents-'));
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 2 });
    const one = async (n: string) => {
      const r = await enroll({
        servers: cp.urls,
        enrollCreds: cp.enrollCreds,
        token,
        stateDir: join(stateRoot, n),
        hostname: n,
      });
      assert.ok(r.ok, JSON.stringify(r));
      return r.value;
    };
    a = await one('a');
    b = await one('b');
  });

  after(async () => {
    await cp?.close();
    if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
  });

  test('buckets are replicated three ways', async () => {
    const st = await cp.store.desired.status();
    assert.equal(st.replicas, 3);
  });

  test('desired state survives a killed server; writes resume', async () => {
    const key = cp.keyStore.activeSigningKey();
    const label = 'com.acme.ha';
    const mk = (version: number) => ({
      label,
      domain: 'system',
      plist: `<plist><dict><key>Label</key><string>${label}</string><key>V</key><integer>${version}</integer></dict></plist>`,
      version,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 3600_000,
      nodeId: a.nodeId,
    });
    await putSignedBundle(cp.store, key, mk(1));
    const ncA = await connectAsNode(a, { servers: cp.urls, reconnectTimeWaitMs: 100 });
    try {
      const kv = await new Kvm(ncA).open(buckets.desired, { allow_direct: true });
      assert.ok(await kv.get(keys.desired(a.nodeId, label)));
      await cp.servers[0]?.kill();
      const after1 = await eventually(async () => {
        const e = await kv.get(keys.desired(a.nodeId, label));
        if (!e) throw new Error('missing');
        return e;
      }, 15_000);
      assert.match(after1.string(), /"version":1/);
      // Writes resume (docs/engineering.md, "Machine facts": ~6 s until the stream has a leader again).
      await eventually(() => putSignedBundle(cp.store, key, mk(2)), 20_000);
      const after2 = await eventually(async () => {
        const e = await kv.get(keys.desired(a.nodeId, label));
        if (!e?.string().includes('"version":2')) throw new Error('not yet v2');
        return e;
      }, 10_000);
      assert.ok(after2);
    } finally {
      await ncA.close();
    }
  });

  test('a revocation reaches every server of the cluster', async () => {
    // B talks to a live server other than the one the controller's system connection uses,
    // so the update has to cross a route to reach it.
    const sysServer = cp.sys.info?.server_name;
    const other = cp.servers.slice(1).find((s) => s.name !== sysServer);
    assert.ok(other, `a live server other than ${sysServer}`);
    const ncB = await connectAsNode(b, { servers: [other.url], maxReconnectAttempts: 0 });
    assert.notEqual(ncB.info?.server_name, sysServer);
    const cutOff = firstServerError(ncB);
    await eventually(() => cp.enrollment.revokeNode(b.nodeId), 10_000);
    assert.match(await cutOff, /revoked/i);
    await ncB.close().catch(() => undefined);
  });
});
