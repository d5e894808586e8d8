/**
 * A node's home server on a real 3-node cluster (node-agent link/core/server-order.ts and
 * link-session.ts): the node connects to its home server first; when that server enters
 * lame-duck mode (a rolling restart), the session moves to another server make-before-break, so
 * the node never goes without a session and its job runs on; once the server is back, the node
 * returns home, again without a gap, and still follows desired state.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverKey, serverPreference } from '@launchfleet/node-agent/link';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { enrolledLinkNode, putJob, serverHolding } from '../support/link-fleet.ts';

describe('fleet link: a home server, and moves without a gap', () => {
  let cp: ControlPlaneHarness;
  let node: LinkNode;

  before(async () => {
    cp = await startControlPlane({
      cluster: true,
      // The server closes its clients from 8 s after the notice: the node's move (within 1 s)
      // comes first, as it does against the production default (10 s grace, 2 min duration).
      serverConfig: 'lame_duck_duration: "30s"\nlame_duck_grace_period: "8s"',
    });
    node = await enrolledLinkNode(cp, {
      settings: { lameDuckMoveSpreadMs: 1000, returnHomeMs: { minMs: 2000, maxMs: 4000 } },
    });
  });

  after(async () => {
    await node?.close();
    await cp?.close();
  });

  test('home first; lame duck: moved away without a gap; back home once the server is up', async () => {
    const nodeId = node.link.identity?.nodeId;
    assert.ok(nodeId);
    const homeUrl = serverPreference(nodeId, cp.urls)[0];
    const home = cp.servers.findIndex((s) => serverKey(s.url) === serverKey(homeUrl ?? ''));
    assert.ok(home >= 0, `home ${homeUrl} among ${cp.urls.join(', ')}`);
    await eventually(
      async () => ((await serverHolding(cp, nodeId)) === home ? true : undefined),
      15_000,
      `the node connected to its home server (${homeUrl})`,
    );
    await putJob(cp, nodeId, { label: 'com.acme.home', version: 1, plist: daemonPlist('com.acme.home') });
    const pid = await eventually(() => node.job('com.acme.home')?.pid, 15_000, 'job runs');
    const connects = node.link.status().connects;
    node.logs.length = 0;

    const server = cp.servers[home];
    assert.ok(server);
    const restarted = server.restartLameDuck(120_000);
    // The new connection shows at its server while its set-up runs, and the old one until it is
    // closed: the move is done when the link says so and only the new server holds the node.
    const moved = (why: string): boolean => node.logs.some((l) => l.includes(`(${why}), without a gap`));
    const away = await eventually(
      async () => {
        if (!node.logs.some((l) => l.includes('is in lame-duck mode), without a gap'))) return undefined;
        const i = await serverHolding(cp, nodeId);
        return i >= 0 && i !== home ? i : undefined;
      },
      15_000,
      'the node moved to another server, make-before-break',
    );
    assert.equal(node.link.status().connects, connects, 'no reconnect: the session moved');
    assert.ok(node.link.status().connected);

    await restarted;
    await eventually(
      async () =>
        moved('back to its home server') && (await serverHolding(cp, nodeId)) === home ? true : undefined,
      30_000,
      `the node returned to its home server from server ${away}, make-before-break`,
    );
    assert.ok(
      !node.logs.some((l) => l.includes('disconnected after')),
      `never without a session:\n${node.logs.join('\n')}`,
    );
    assert.equal(node.link.status().connects, connects, 'no reconnect at any point');
    // What the agent's metric counts (launchfleet_agent_nats_session_changes_total): the returns
    // home tried while home was down (lame duck for 30 s, then restarting) failed and stayed.
    const changes = node.link.status().sessionChanges;
    assert.deepEqual(
      { ...changes, move_failed: 0 },
      { connect: connects, moved_lame_duck: 1, moved_home: 1, move_failed: 0 },
    );
    assert.ok(
      (changes['move_failed'] ?? 0) >= 1,
      `returns home tried while home was away: ${JSON.stringify(changes)}`,
    );
    assert.equal(node.job('com.acme.home')?.pid, pid, 'the job ran on throughout');
    // And it follows desired state at home.
    await putJob(cp, nodeId, { label: 'com.acme.home2', version: 1, plist: daemonPlist('com.acme.home2') });
    await eventually(() => node.job('com.acme.home2')?.pid, 20_000, 'a job applied after the moves runs');
  });
});
