/**
 * Revocations that survive restarts, on a real 3-server cluster running the `full` account
 * resolver: a node revoked through the controller is refused by every server; then the
 * controller stops (nothing pushes the revocation again), each server restarts in turn and,
 * at the end, all three at once: the revoked node is refused by every server on its very first
 * attempt, while a node that was not revoked gets in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeIdentity, connectAsNode, enroll } from '@launchfleet/node-agent/link';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';

const refused = /authorization/i;

describe('control plane: a revocation survives server restarts with the controller down (3 servers)', () => {
  let cp: ControlPlaneHarness;
  let stateRoot: string;
  let kept: NodeIdentity;
  let revoked: NodeIdentity;

  /** Connects to exactly one server, once. */
  const tryServer = (id: NodeIdentity, url: string) =>
    connectAsNode(id, { servers: url, reconnect: false, maxReconnectAttempts: 0, timeoutMs: 3000 });
  const admitted = async (id: NodeIdentity, url: string) => (await tryServer(id, url)).close();

  before(async () => {
    cp = await startControlPlane({ cluster: true });
    stateRoot = await mkdtemp(join(tmpdir(), 'lf-revoke-cluster-'));
    const enrolled: NodeIdentity[] = [];
    for (const name of ['kept', 'revoked']) {
      const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
      const r = await enroll({
        servers: cp.urls,
        enrollCreds: cp.enrollCreds,
        token,
        stateDir: join(stateRoot, name),
        hostname: `${name}.local`,
        timeoutMs: 5000,
      });
      assert.ok(r.ok, JSON.stringify(r));
      enrolled.push(r.value);
    }
    [kept, revoked] = enrolled as [NodeIdentity, NodeIdentity];
  });

  after(async () => {
    await cp?.close();
    if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
  });

  test('revoke: every server acknowledges it and holds it, and refuses the node', async () => {
    for (const s of cp.servers) await admitted(revoked, s.url);
    // A JWT issued in the second of the revocation is covered (revocation time is rounded up).
    const report = await cp.enrollment.revokeNode(revoked.nodeId);
    const names = cp.servers.map((s) => s.name).sort();
    assert.deepEqual(report.acks.map((a) => a.server).sort(), names, 'every server acknowledged');
    assert.ok(
      report.acks.every((a) => a.ok && a.message === 'jwt updated'),
      JSON.stringify(report.acks),
    );
    assert.deepEqual(
      report.servers,
      names.map((server) => ({ server, inForce: true })),
    );
    for (const s of cp.servers) await assert.rejects(tryServer(revoked, s.url), refused, s.name);
  });

  test('with the controller down, each server restarted refuses the revoked node at once', async () => {
    await cp.enrollment.stop();
    await cp.sys.close();
    await cp.nc.close();
    for (const s of cp.servers) {
      await s.restart();
      // The first attempt, on the server that just came back, and on every other.
      for (const t of cp.servers) await assert.rejects(tryServer(revoked, t.url), refused, `${t.name}`);
      await admitted(kept, s.url);
    }
  });

  test('a restart of the whole cluster at once changes nothing', async () => {
    await Promise.all(cp.servers.map((s) => s.kill()));
    // SIGKILL: no orderly shutdown, whatever the servers had on disk is what they have.
    for (const s of cp.servers) await s.restart();
    for (const s of cp.servers) {
      await assert.rejects(tryServer(revoked, s.url), refused, s.name);
      await admitted(kept, s.url);
    }
  });
});
