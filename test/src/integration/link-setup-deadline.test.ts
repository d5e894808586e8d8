/**
 * A session whose set-up the broker never answers is given up, and its connection closed, after
 * three connect timeouts. Seen at 10,000 agents started at once (test/bench/FLEET-RESULTS.md):
 * an overloaded broker left set-ups waiting while agents retried, and connections piled up.
 * The bound doubles with each set-up given up in a row, and is back to its base once one succeeds.
 * Here a proxy keeps the broker looking alive (connect, ping, core messages) but drops every
 * JetStream API request, so the set-up (trust read, desired-state consumer) cannot finish.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually, newPid } from '../support/link-node.ts';
import { enrolledLinkNode, putJob } from '../support/link-fleet.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

const connectTimeoutMs = 300;
const setupMs = 3 * connectTimeoutMs;

describe('fleet link: a session set-up the broker never answers', () => {
  let cp: ControlPlaneHarness;
  let proxy: TcpProxy;
  let node: LinkNode;

  before(async () => {
    cp = await startControlPlane();
    proxy = await startTcpProxy(cp.servers[0]!.port);
    node = await enrolledLinkNode(cp, { urls: [proxy.url], settings: { connectTimeoutMs } });
  });

  after(async () => {
    await node?.close();
    await proxy?.close();
    await cp?.close();
  });

  test('is given up after 3 connect timeouts (doubling) with its connection closed, and the link recovers', async () => {
    proxy.stallJetStream(true);
    await proxy.cut();
    await proxy.heal();
    const bounds = (): number[] =>
      node.logs.flatMap((l) => {
        const m = /session set-up took longer than (\d+) ms/.exec(l);
        return m ? [Number(m[1])] : [];
      });
    const timedOut = (): number => bounds().length;
    // Watch the proxy's open connections while set-ups keep failing: never more than one.
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, proxy.openConnections())), 20);
    try {
      await eventually(() => timedOut() >= 3, 20_000, 'three set-ups given up');
    } finally {
      clearInterval(sample);
    }
    assert.ok(most <= 1, `at most one connection open at a time (saw ${most})`);
    // Each set-up given up in a row doubles the next one's bound (a broker working through a
    // backlog is given the time to finish rather than the same work again).
    assert.deepEqual(bounds().slice(0, 3), [setupMs, 2 * setupMs, 4 * setupMs]);
    assert.equal(node.link.status().connected, false);
    // The broker answers again: the next attempt connects.
    proxy.stallJetStream(false);
    await eventually(() => node.link.status().connected, 15_000, 'connected again');
    // A set-up that succeeded puts the bound back to its base.
    const before = timedOut();
    proxy.stallJetStream(true);
    await proxy.cut();
    await proxy.heal();
    await eventually(() => timedOut() > before, 20_000, 'the next set-up given up');
    assert.equal(bounds()[before], setupMs);
    proxy.stallJetStream(false);
    await eventually(() => node.link.status().connected, 15_000, 'connected once more');
  });

  test('a bundle whose read-back fails is not lost: the session starts over and its catch-up applies it', async () => {
    const id = node.link.identity;
    assert.ok(id);
    await putJob(cp, id.nodeId, { label: 'com.acme.rb', version: 1, plist: daemonPlist('com.acme.rb') });
    const v1pid = await eventually(() => node.job('com.acme.rb')?.pid, 15_000, 'v1 runs');
    const connects = node.link.status().connects;
    // The live message gets through (server to client); the direct get that reads it back does not.
    proxy.stallJetStream(true);
    const plist2 = daemonPlist('com.acme.rb', { EnvironmentVariables: { LF_VERSION: '2' } });
    await putJob(cp, id.nodeId, { label: 'com.acme.rb', version: 2, plist: plist2 });
    await eventually(
      () => node.logs.some((l) => l.includes('read-back of') && l.includes('starting over')),
      20_000,
      'the failed read-back ends the session',
    );
    proxy.stallJetStream(false);
    await eventually(
      () => node.link.status().connected && node.link.status().connects > connects,
      20_000,
      'a new session',
    );
    // v2 changes the job's environment: it runs again, as a new process.
    await newPid(node, 'com.acme.rb', v1pid, 15_000, 'v2 runs');
  });
});
