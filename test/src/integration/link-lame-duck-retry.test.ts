/**
 * A move off a server in lame-duck mode that fails is tried again, within seconds, before the
 * server closes the session. Seen at 2,000 simulated agents on 2 cores: 167 of the 389 sessions a
 * rolling restart interrupted were moves refused by a busy server (`Authentication Timeout`);
 * the agent then stayed on the lame-duck server, which closed it: an outage.
 *
 * Here the node reaches each server through its own TCP proxy (tcp-proxy.ts). When its server
 * enters lame-duck mode the other two refuse connections, so the first move fails; they accept
 * again at once, and the node must move on its next try, make-before-break: no reconnect, no
 * "disconnected after", its job running throughout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { enrolledLinkNode, nodeServer, putJob, serverHolding } from '../support/link-fleet.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

describe('fleet link: a failed lame-duck move', () => {
  let cp: ControlPlaneHarness;
  let proxies: TcpProxy[] = [];
  let node: LinkNode;

  before(async () => {
    cp = await startControlPlane({
      cluster: true,
      // The node has 10 s to move before the server begins to close its clients.
      serverConfig: 'lame_duck_duration: "30s"\nlame_duck_grace_period: "10s"',
    });
    proxies = await Promise.all(cp.servers.map((s) => startTcpProxy(s.port)));
    node = await enrolledLinkNode(cp, {
      urls: proxies.map((p) => p.url),
      settings: { lameDuckMoveSpreadMs: 500, returnHomeMs: false },
    });
  });

  after(async () => {
    await node?.close();
    for (const p of proxies) await p.close();
    await cp?.close();
  });

  test('is tried again and made without a gap before the server closes the session', async () => {
    const nodeId = node.link.identity?.nodeId;
    assert.ok(nodeId);
    await putJob(cp, nodeId, { label: 'com.acme.retry', version: 1, plist: daemonPlist('com.acme.retry') });
    const pid = await eventually(() => node.job('com.acme.retry')?.pid, 15_000, 'job runs');
    const home = await nodeServer(cp, nodeId);
    const server = cp.servers[home];
    assert.ok(server);
    for (const [i, p] of proxies.entries()) if (i !== home) await p.cut();
    const connects = node.link.status().connects;
    node.logs.length = 0;
    process.kill(server.pid, 'SIGUSR2');
    await eventually(
      () => node.logs.some((l) => l.includes('could not move') && l.includes('trying again shortly')),
      10_000,
      `the first move failed and is to be tried again:\n${node.logs.join('\n')}`,
    );
    for (const [i, p] of proxies.entries()) if (i !== home) await p.heal();
    await eventually(
      async () => {
        if (!node.logs.some((l) => l.includes('is in lame-duck mode), without a gap'))) return undefined;
        const i = await serverHolding(cp, nodeId);
        return i >= 0 && i !== home ? i : undefined;
      },
      15_000,
      `the node moved on a later try:\n${node.logs.join('\n')}`,
    );
    assert.ok(
      !node.logs.some((l) => l.includes('disconnected after')),
      `never without a session:\n${node.logs.join('\n')}`,
    );
    assert.equal(node.link.status().connects, connects, 'no reconnect: the session moved');
    const changes = node.link.status().sessionChanges;
    assert.equal(changes['moved_lame_duck'], 1, JSON.stringify(changes));
    assert.ok((changes['move_failed'] ?? 0) >= 1, JSON.stringify(changes));
    assert.equal(node.job('com.acme.retry')?.pid, pid, 'the job ran on throughout');
  });
});
