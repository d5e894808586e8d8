/**
 * The fleet link when the broker goes away: jobs keep running, an agent restarted while NATS
 * is down runs its last verified state (from its state dir), and when the broker is back the
 * node converges to what changed meanwhile and publishes what happened while it was away.
 * The node reaches the broker through a TCP proxy, so the test can keep it away while the
 * controller already writes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@launchfleet/shared/messages';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import {
  type LinkNode,
  alive,
  daemonPlist,
  eventually,
  execedEnviron,
  newPid,
} from '../support/link-node.ts';
import { EventLog, enrolledLinkNode, putJob } from '../support/link-fleet.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

const keep = 'com.acme.keep';
const gone = 'com.acme.gone';
const fresh = 'com.acme.fresh';

describe('fleet link: offline operation and convergence', () => {
  let cp: ControlPlaneHarness;
  let proxy: TcpProxy;
  let node: LinkNode;
  let events: EventLog;
  let nodeId: string;
  let rawKeepV1: string;

  before(async () => {
    cp = await startControlPlane();
    events = new EventLog(cp.nc);
    proxy = await startTcpProxy(cp.servers[0]!.port);
    node = await enrolledLinkNode(cp, { urls: [proxy.url] });
    nodeId = node.link.status().nodeId ?? '';
    rawKeepV1 = (await putJob(cp, nodeId, { label: keep, version: 1, plist: daemonPlist(keep) })).raw;
    await putJob(cp, nodeId, { label: gone, version: 1, plist: daemonPlist(gone) });
    await eventually(
      () => node.job(keep)?.pid !== undefined && node.job(gone)?.pid !== undefined,
      10_000,
      'jobs running',
    );
  });

  after(async () => {
    await node?.close();
    await proxy?.close();
    await cp?.close();
  });

  test('broker killed: the link notices, running jobs keep running', async () => {
    const pids = [node.job(keep)?.pid, node.job(gone)?.pid];
    await cp.servers[0]!.kill();
    await eventually(() => !node.link.status().connected, 10_000, 'link disconnected');
    // It keeps trying, paced by the backoff (100..500 ms in tests), and nothing else changes.
    const failures = node.link.status().connectFailures;
    await eventually(() => node.link.status().connectFailures >= failures + 2, 10_000, 'reconnect attempts');
    assert.deepEqual([node.job(keep)?.pid, node.job(gone)?.pid], pids);
    for (const p of pids) assert.ok(alive(p), `pid ${p} alive`);
    assert.equal(node.job(keep)?.state, 'running');
  });

  test('agent restarted while NATS is down: the last verified state runs again', async () => {
    const old = [node.job(keep)?.pid, node.job(gone)?.pid];
    await node.restart();
    for (const p of old) assert.ok(!alive(p), 'the supervisor stopped its jobs on shutdown');
    const pids = await eventually(
      () => {
        const a = node.job(keep)?.pid;
        const b = node.job(gone)?.pid;
        return a !== undefined && b !== undefined ? [a, b] : undefined;
      },
      10_000,
      'last verified jobs running offline',
    );
    for (const p of pids) assert.ok(alive(p));
    assert.equal(node.link.status().connected, false);
    assert.equal(node.link.status().nodeId, nodeId, 'the stored identity is reused (no second enrolment)');
  });

  test('broker back: changes made while the node was away are applied; events from offline arrive', async () => {
    // Keep the node away while the broker comes back and the controller writes.
    await proxy.cut();
    await cp.servers[0]!.restart();
    const plist2 = daemonPlist(keep, { EnvironmentVariables: { LF_VERSION: '2' } });
    await eventually(
      async () => {
        try {
          await putJob(cp, nodeId, { label: keep, version: 2, plist: plist2 });
          return true;
        } catch {
          return false;
        }
      },
      15_000,
      'controller can write again',
    );
    await cp.store.desired.delete(keys.desired(nodeId, gone));
    await putJob(cp, nodeId, { label: fresh, version: 1, plist: daemonPlist(fresh) });
    // Meanwhile, offline, someone boots out a managed job: repaired locally, reported later.
    const r = await node.system().bootout(gone, { wait: true });
    assert.ok(r.ok);
    await eventually(() => node.job(gone)?.pid, 10_000, 'repaired offline');
    assert.equal(node.link.status().connected, false);
    const oldKeep = node.job(keep)?.pid;
    await proxy.heal();
    await eventually(() => node.link.status().connected, 15_000, 'reconnected');
    const newKeep = await newPid(node, keep, oldKeep, 10_000, 'keep v2 running');
    assert.match(await execedEnviron(newKeep), /LF_VERSION=2/);
    await eventually(() => node.job(gone) === undefined, 10_000, 'gone unloaded');
    await eventually(() => node.job(fresh)?.pid, 10_000, 'fresh loaded');
    // The drift repaired while offline was published after reconnecting.
    await eventually(
      () => events.of(nodeId, 'drift', gone).some((e) => e.reason === 'job-unloaded'),
      10_000,
      'offline drift event delivered',
    );
    assert.ok(node.link.status().desiredRevision > 0);
  });

  test('after another restart, a replay of a superseded bundle is still refused (history persisted)', async () => {
    const pid = node.job(keep)?.pid;
    await node.restart();
    await eventually(() => node.link.status().connected, 15_000, 'reconnected after restart');
    const running = await eventually(() => node.job(keep)?.pid, 10_000, 'keep running after restart');
    assert.notEqual(running, pid);
    await cp.store.desired.put(keys.desired(nodeId, keep), rawKeepV1);
    await eventually(
      () => events.of(nodeId, 'bundle-refused', keep).some((e) => e.reason === 'replayed' && e.version === 1),
      10_000,
      'replay refused',
    );
    await node.link.idle();
    assert.equal(node.job(keep)?.pid, running, 'the running v2 job is untouched');
  });
});
