/**
 * A rolling restart of a 3-node cluster puts each server in lame-duck mode first: the server
 * announces it, stops accepting connections and closes its clients spread over its lame-duck
 * duration. An agent told so reconnects to another server within its short lame-duck spread
 * (fleet-link.ts, `lameDuckSpreadMs`) instead of waiting out the long spread meant for a broker
 * that dropped everyone at once; its job runs on throughout. This is the path of an agent that
 * does not move first (`lameDuckMoveSpreadMs: 0`, or a server that closed it before its move):
 * link-home-server.test.ts covers the move.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { enrolledLinkNode, nodeServer, putJob, serverHolding } from '../support/link-fleet.ts';

describe('fleet link: a server in lame-duck mode', () => {
  let cp: ControlPlaneHarness;
  let node: LinkNode;

  before(async () => {
    cp = await startControlPlane({
      cluster: true,
      serverConfig: 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"',
    });
    // The long spread a whole-broker loss needs, drawn at its top: without the lame-duck rule
    // the node would wait ~9 minutes before it reconnects.
    node = await enrolledLinkNode(cp, {
      settings: { reconnectSpreadMs: 600_000, lameDuckSpreadMs: 500, lameDuckMoveSpreadMs: 0 },
      random: () => 0.9,
    });
  });

  after(async () => {
    await node?.close();
    await cp?.close();
  });

  test('the node moves to another server within its lame-duck spread; its job keeps running', async () => {
    const nodeId = node.link.identity?.nodeId;
    assert.ok(nodeId);
    await putJob(cp, nodeId, { label: 'com.acme.ldm', version: 1, plist: daemonPlist('com.acme.ldm') });
    const pid = await eventually(() => node.job('com.acme.ldm')?.pid, 15_000, 'job runs');
    const from = await nodeServer(cp, nodeId);
    const server = cp.servers[from];
    assert.ok(server);
    node.logs.length = 0;
    process.kill(server.pid, 'SIGUSR2');
    await eventually(
      () => node.logs.some((l) => l.includes('lame-duck')),
      10_000,
      'the node heard the lame-duck announcement',
    );
    const to = await eventually(
      async () => {
        const i = await serverHolding(cp, nodeId);
        return i >= 0 && i !== from && node.link.status().connected ? i : undefined;
      },
      15_000,
      'the node is connected to another server',
    );
    assert.notEqual(to, from);
    assert.equal(node.job('com.acme.ldm')?.pid, pid, 'the job ran on throughout');
    // And it still follows desired state there.
    await putJob(cp, nodeId, { label: 'com.acme.ldm2', version: 1, plist: daemonPlist('com.acme.ldm2') });
    await eventually(() => node.job('com.acme.ldm2')?.pid, 20_000, 'a job applied after the move runs');
  });
});
