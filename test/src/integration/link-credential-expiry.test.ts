/**
 * A node offline past the expiry of its credentials, with a real controller (gRPC API, fleet
 * view) and a real agent link behind a TCP proxy (the partition): while cut off its job keeps
 * running; once its 6-second credentials have expired the controller lists it as `expired`,
 * and when the network is back the agent says what happened and how to come back (status,
 * metric source, log), and comes back by itself as the same node once a new bootstrap token is
 * put in its token file, with its job never restarted. The old token, revoked, does not do.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { RunningController } from '@launchfleet/controller';
import { ControllerFleet, RawApi } from '../support/controller-fleet.ts';
import { type LinkNode, daemonPlist, eventually, startLinkNode } from '../support/link-node.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

const lifetimeMs = 6000;

describe('a node offline past the expiry of its credentials', () => {
  let fleet: ControllerFleet;
  let c: RunningController;
  let api: RawApi;
  let proxy: TcpProxy;
  let node: LinkNode;
  let nodeId: string;
  let firstTokenId: string;
  let pid: number | undefined;

  const view = async () => {
    const r = await api.call('DescribeNode', { node: nodeId }, fleet.tokens.viewer);
    return r['summary'] as Record<string, unknown>;
  };

  before(async () => {
    fleet = await ControllerFleet.start();
    c = await fleet.startController('ctl', { nodeCredentialsLifetimeMs: lifetimeMs });
    api = new RawApi(c.grpcPort, fleet.tls);
    proxy = await startTcpProxy(fleet.server.port);
    const t = await c.app.enrollment.createToken({ ttlMs: 60_000 });
    firstTokenId = t.id;
    node = await startLinkNode({
      urls: [proxy.url],
      token: t.token,
      enrollCreds: await fleet.identity.enrollCreds(),
    });
    await eventually(() => node.link.status().connected, 15_000, 'connected');
    nodeId = node.link.identity?.nodeId ?? '';
    await api.call(
      'ApplyJob',
      { plist: daemonPlist('com.acme.away'), target: { nodes: { names: [nodeId] } } },
      fleet.tokens.operator,
    );
    pid = await eventually(() => node.job('com.acme.away')?.pid, 15_000, 'the job runs');
  });

  after(async () => {
    await node?.close();
    await proxy?.close();
    await fleet?.close();
  });

  test('cut off past expiry: the job keeps running; the controller lists the node as expired', async () => {
    // The used token must not bring the node back on its own.
    await c.app.enrollment.revokeToken(firstTokenId);
    await proxy.cut();
    const expiresAt = node.link.status().credentials?.expiresAt ?? 0;
    assert.ok(expiresAt > Date.now(), 'credentials that expire');
    await eventually(() => node.link.status().credentials?.state === 'expired', lifetimeMs * 2, 'expired');
    assert.equal(node.job('com.acme.away')?.pid, pid, 'the job runs on, offline');
    const sm = await view();
    assert.equal(sm['credentialsExpired'], true);
    assert.ok(Number(sm['credentialsExpireAtMs']) <= Date.now());
    const list = await api.call('ListNodes', {}, fleet.tokens.viewer);
    const listed = (list['nodes'] as Record<string, unknown>[]).find((n) => n['nodeId'] === nodeId);
    assert.equal(listed?.['credentialsExpired'], true);
  });

  test('back online: refused, and it says how to come back; nothing reconnects with the old token', async () => {
    // While cut off, its re-enrolment attempts could not reach the controller (and it said so,
    // with the same advice): only what it says once the network is back counts here.
    const from = node.logs.length;
    await proxy.heal();
    await eventually(
      () =>
        node.logs
          .slice(from)
          .some(
            (l) =>
              l.includes(`credentials of ${nodeId} expired at`) &&
              l.includes('write a new bootstrap token') &&
              l.includes('revoked-token'),
          ),
      15_000,
      'the agent says its credentials expired, that the token was refused, and what to do',
    );
    const st = node.link.status();
    assert.equal(st.connected, false);
    assert.equal(st.credentials?.state, 'expired');
    assert.match(
      st.lastError ?? '',
      /expired at .* re-enrolment with the token in .* failed \(.*revoked-token/,
    );
    assert.equal(node.job('com.acme.away')?.pid, pid, 'the job still runs');
  });

  test('a new bootstrap token in the token file: it re-enrols as the same node, with its job', async () => {
    const t = await c.app.enrollment.createToken({ ttlMs: 60_000 });
    await writeFile(
      node.tokenFile,
      `${t.token}\n${new TextDecoder().decode(await fleet.identity.enrollCreds())}`,
      {
        mode: 0o600,
      },
    );
    await eventually(() => node.link.status().connected, 20_000, 'connected again');
    assert.equal(node.link.identity?.nodeId, nodeId, 'the same node id');
    assert.equal(node.link.status().credentials?.state, 'valid');
    await eventually(async () => (await view())['credentialsExpired'] === false, 10_000, 'no longer expired');
    assert.equal(node.job('com.acme.away')?.pid, pid, 'the job was never restarted');
    // It renews from here on as any node does.
    await eventually(() => (node.link.status().credentials?.renewals ?? 0) >= 1, lifetimeMs * 2, 'renewed');
  });
});
