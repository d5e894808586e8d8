/**
 * A job that changes while the node's last status put is still on its way is reported when
 * that put is done, not at the next periodic scan. At 10,000 simulated agents the broker's
 * acks took seconds, a job's "running" fell into that window, and the controller learnt of it
 * only at the next scan (test/bench/FLEET-RESULTS.md). Here a proxy delays everything the
 * broker sends the agent (so every put's ack is late), and the scan, the heartbeat and the
 * level check (which also refresh the snapshot) are a minute away: the snapshot must still
 * show the job running well before that.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { enrolledLinkNode, nodeStatus, putJob } from '../support/link-fleet.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

describe('fleet link: status while a put is in flight', () => {
  let cp: ControlPlaneHarness;
  let proxy: TcpProxy;
  let node: LinkNode;

  before(async () => {
    cp = await startControlPlane();
    proxy = await startTcpProxy(cp.servers[0]!.port);
    node = await enrolledLinkNode(cp, {
      urls: [proxy.url],
      settings: { scanMs: 60_000, heartbeatMs: 60_000, resyncMs: 60_000, statusMinIntervalMs: 100 },
    });
  });

  after(async () => {
    await node?.close();
    await proxy?.close();
    await cp?.close();
  });

  test('a job that starts while the put for its spawn is in flight is in the next snapshot, without waiting for the scan', async () => {
    const id = node.link.identity;
    assert.ok(id);
    // Every ack from the broker now takes a second: the put made when the job is spawned is
    // still in flight when it runs a few ms later.
    proxy.delayReplies(1000);
    const t0 = Date.now();
    const label = 'com.acme.inflight';
    await putJob(cp, id.nodeId, { label, version: 1, plist: daemonPlist(label) });
    const pid = await eventually(() => node.job(label)?.pid, 15_000, 'the job runs');
    const seen = await eventually(
      async () => {
        const s = await nodeStatus(cp, id.nodeId);
        const j = s?.jobs[label];
        return j?.subState === 'running' && s?.versions[label] === '1' && j;
      },
      20_000,
      'the snapshot shows the job running (the next scan, heartbeat or level check is a minute away)',
    );
    assert.equal(seen.active, 'active');
    assert.equal(node.job(label)?.pid, pid, 'the same process');
    assert.ok(Date.now() - t0 < 60_000, 'well before the first scan');
  });
});
