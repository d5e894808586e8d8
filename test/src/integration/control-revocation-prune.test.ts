/**
 * Revocations are dropped once nothing they refuse can still be presented: a node revoked with
 * 3-second credentials leaves the fleet account's revocations (in KV and on the server) soon
 * after they expired, and its expired credentials are refused all the same; a node enrolled
 * before credentials expired (a JWT without expiry) stays revoked for good.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type NodeIdentity,
  connectAsNode,
  enroll,
  formatCreds,
  parseCreds,
  readCredsParts,
} from '@launchfleet/node-agent/link';
import { writeFileAtomic } from '@launchfleet/node-agent';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { eventually } from '../support/link-node.ts';
import { EventLog } from '../support/link-fleet.ts';

describe('control plane: revocations pruned once their credentials expired', () => {
  let cp: ControlPlaneHarness;
  let dir: string;
  let events: EventLog;

  const enrolled = async (name: string): Promise<NodeIdentity> => {
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
    const r = await enroll({
      servers: cp.urls,
      enrollCreds: cp.enrollCreds,
      token,
      stateDir: join(dir, name),
      hostname: `${name}.local`,
    });
    assert.ok(r.ok, JSON.stringify(r));
    return r.value;
  };
  const revokedOnServer = async (publicKey: string) =>
    (await cp.identity.accountOnServers(cp.sys)).every((v) => v.revoked[publicKey] !== undefined);

  before(async () => {
    cp = await startControlPlane({
      enrollment: { credentialsLifetimeMs: 3000, revocationGraceMs: 0, accountResyncMs: 300 },
    });
    events = new EventLog(cp.nc);
    dir = await mkdtemp(join(tmpdir(), 'lf-prune-'));
  });

  after(async () => {
    await cp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a revoked node whose credentials expired leaves the revocations; it stays refused', async () => {
    const a = await enrolled('a');
    const key = (await cp.enrollment.registry.get(a.nodeId))?.publicKey ?? '';
    const report = await cp.enrollment.revokeNode(a.nodeId);
    assert.ok(report.servers.every((s) => s.inForce));
    assert.ok((await cp.enrollment.registry.revocations())[key] !== undefined);
    // Expiry 3 s after enrolment; then the 300 ms resync prunes it.
    await eventually(
      async () => (await cp.enrollment.registry.revocations())[key] === undefined,
      10_000,
      'pruned in KV',
    );
    await eventually(async () => !(await revokedOnServer(key)), 5000, 'pruned on the server');
    await eventually(
      () => events.events.some((e) => e.kind === 'revocations-pruned' && e.detail?.includes(key)),
      5000,
      'a revocations-pruned event naming the key',
    );
    // Expired credentials are refused by the server on their own.
    await assert.rejects(
      connectAsNode(a, { servers: cp.urls, reconnect: false, maxReconnectAttempts: 0 }),
      /authorization|expired/i,
    );
    // And the registry still says the node was revoked: it gets no new credentials.
    assert.ok((await cp.enrollment.registry.get(a.nodeId))?.revokedAt !== undefined);
  });

  test('a node holding credentials without expiry stays revoked for good', async () => {
    const l = await enrolled('legacy');
    // As a node enrolled before credentials expired: a JWT without exp, a record without expiry.
    const parts = await readCredsParts(l);
    assert.ok(parts);
    const v = await cp.enrollment.registry.getVersioned(l.nodeId);
    assert.ok(v);
    const {
      credentialsExpireAt: _a,
      credentialsExpireBy: _b,
      credentialsIssuedAt: _c,
      credentialsIssuer: _d,
      ...legacy
    } = v.record;
    await cp.enrollment.registry.update(legacy, v.revision);
    const jwt = await cp.identity.nodeJwt(l.nodeId, legacy.publicKey);
    await writeFileAtomic(l.credsPath, formatCreds(jwt, parts.seed), 0o600);
    assert.equal(parseCreds(formatCreds(jwt, parts.seed))?.jwt, jwt);
    await cp.enrollment.revokeNode(l.nodeId);
    // Long past when a 3-second credential would have been pruned.
    await new Promise((r) => setTimeout(r, 5000));
    assert.ok(
      (await cp.enrollment.registry.revocations())[legacy.publicKey] !== undefined,
      'still revoked in KV',
    );
    assert.ok(await revokedOnServer(legacy.publicKey), 'still revoked on the server');
    await assert.rejects(
      connectAsNode(l, { servers: cp.urls, reconnect: false, maxReconnectAttempts: 0 }),
      /authorization/i,
    );
  });
});
