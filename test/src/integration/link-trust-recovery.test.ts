/**
 * An agent whose stored trust store no longer loads (the file damaged, or lost) is not left
 * deaf: at its next session it takes the store the controllers publish, as it did at
 * enrolment, writes it back, and its jobs come back from the desired state. Before, it dropped
 * every stored bundle ("no trust store to verify stored bundles"), removed its managed jobs and
 * retried a session that could never start, for ever.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keys } from '@launchfleet/shared/messages';
import { loadTrustStoreFile } from '@launchfleet/shared/signing';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually, newPid } from '../support/link-node.ts';
import { enrolledLinkNode, putJob } from '../support/link-fleet.ts';

const label = 'com.acme.kept';

describe('fleet link: a lost or damaged trust store file', () => {
  let cp: ControlPlaneHarness;
  let node: LinkNode;
  let nodeId: string;

  before(async () => {
    cp = await startControlPlane();
    node = await enrolledLinkNode(cp);
    nodeId = node.link.status().nodeId ?? '';
    await putJob(cp, nodeId, { label, version: 1, plist: daemonPlist(label) });
    await eventually(() => node.job(label)?.pid, 15_000, 'job running');
  });

  after(async () => {
    await node?.close();
    await cp?.close();
  });

  const recovers = async (damage: (path: string) => Promise<void>, what: string): Promise<void> => {
    const path = join(node.stateDir, 'trust.json');
    const pid = node.job(label)?.pid;
    await damage(path);
    assert.equal((await loadTrustStoreFile(path)).ok, false, `${what}: the file does not load`);
    const seen = node.logs.length;
    await node.restart();
    const logs = (): string => node.logs.slice(seen).join('\n');
    await eventually(() => node.link.status().connected, 20_000, `${what}: connected again`).catch(
      (e: unknown) => {
        throw new Error(`${(e as Error).message}; log since the restart:\n${logs()}`);
      },
    );
    assert.match(logs(), /stored trust store refused/);
    assert.match(logs(), /no usable trust store here: taking the one the controllers publish/);
    await newPid(node, label, pid, 15_000, `${what}: the job runs again`);
    await eventually(
      async () => (await loadTrustStoreFile(path)).ok,
      10_000,
      `${what}: the file is whole again`,
    );
  };

  test('a damaged file: the published store is taken, written back, and the job runs again', async () => {
    await recovers((p) => writeFile(p, '{"v":1,"store":', { mode: 0o600 }), 'damaged');
  });

  test('a missing file: the same', async () => {
    await recovers((p) => rm(p), 'missing');
  });

  test('a job removed while the node was down with a damaged trust file stays removed when replayed', async () => {
    const gone = 'com.acme.gone';
    const { raw } = await putJob(cp, nodeId, { label: gone, version: 1, plist: daemonPlist(gone) });
    await eventually(() => node.job(gone)?.pid, 15_000, 'the job runs');
    // Down (no broker reachable) with a damaged trust file: its stored bundles are dropped, unheld.
    await writeFile(join(node.stateDir, 'trust.json'), 'garbage', { mode: 0o600 });
    await node.restart({ urls: ['nats://127.0.0.1:1'] });
    await cp.store.desired.delete(keys.desired(nodeId, gone));
    await node.restart({ urls: cp.urls });
    await eventually(() => node.link.status().connected, 20_000, 'connected again');
    await eventually(() => node.job(label)?.pid, 15_000, 'the other job runs again');
    // The catch-up saw the delete marker; the removed job's last bundle put again is a replay.
    await cp.store.desired.put(keys.desired(nodeId, gone), raw);
    await putJob(cp, nodeId, {
      label: 'com.acme.marker2',
      version: 1,
      plist: daemonPlist('com.acme.marker2'),
    });
    await eventually(() => node.job('com.acme.marker2')?.pid, 15_000, 'the marker job runs');
    await node.link.idle();
    assert.equal(node.job(gone), undefined, 'the removed job stays removed');
  });

  test('a removed job is not unheld: its last bundle put again is ignored, as before', async () => {
    const other = 'com.acme.removed';
    const { raw } = await putJob(cp, nodeId, { label: other, version: 1, plist: daemonPlist(other) });
    await eventually(() => node.job(other)?.pid, 15_000, 'the second job runs');
    await cp.store.desired.delete(keys.desired(nodeId, other));
    await eventually(() => node.job(other) === undefined, 15_000, 'the second job is removed');
    // Through a restart too: the removal is remembered, and a re-put of the same bundle is a replay.
    await node.restart();
    await eventually(() => node.link.status().connected, 20_000, 'connected again');
    await cp.store.desired.put(keys.desired(nodeId, other), raw);
    // Watch entries arrive in order: once a later change is applied, the re-put was seen.
    await putJob(cp, nodeId, { label: 'com.acme.marker', version: 1, plist: daemonPlist('com.acme.marker') });
    await eventually(() => node.job('com.acme.marker')?.pid, 15_000, 'the marker job runs');
    await node.link.idle();
    assert.equal(node.job(other), undefined, 'the removed job stays removed');
  });
});
