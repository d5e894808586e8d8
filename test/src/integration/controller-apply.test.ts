/**
 * Desired state through the controller's API against a real nats-server: apply to enrolled
 * nodes by selector, names and all; every node reads its own key with its own credentials and
 * verifies the signature against the trust store it got at enrolment; narrowing the target
 * takes the job away; delete removes it everywhere; two controllers applying the same label at
 * once never share a version and every node ends at the highest one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { Kvm } from '@nats-io/kv';
import { buckets, keys } from '@launchfleet/shared/messages';
import { acceptTrustStore, verifyBundle, type TrustStore } from '@launchfleet/shared/signing';
import type { RunningController } from '@launchfleet/controller';
import type { NodeIdentity } from '@launchfleet/node-agent/link';
import { ControllerFleet, RawApi, jobPlist } from '../support/controller-fleet.ts';

const N = 24;

describe('controller: desired state', () => {
  let fleet: ControllerFleet;
  let c1: RunningController;
  let c2: RunningController;
  let api1: RawApi;
  let api2: RawApi;
  let nodes: NodeIdentity[];
  const trust = new Map<string, TrustStore>();

  /** What node `id` reads under `label` with its own credentials: the verified version, or undefined. */
  const readAsNode = async (id: NodeIdentity, label: string): Promise<number | undefined> => {
    const nc = await fleet.nodeConn(id);
    const kv = await new Kvm(nc).open(buckets.desired, { allow_direct: true });
    const e = await kv.get(keys.desired(id.nodeId, label));
    if (!e || e.operation !== 'PUT') return undefined;
    const store = trust.get(id.nodeId);
    assert.ok(store);
    const v = verifyBundle(e.value, store, { now: Date.now(), nodeId: id.nodeId, expectedLabel: label });
    assert.ok(v.ok, `node ${id.nodeId} refuses its bundle: ${v.ok ? '' : `${v.reason} ${v.detail}`}`);
    return v.bundle.version;
  };
  const versions = (ids: NodeIdentity[], label: string) => Promise.all(ids.map((n) => readAsNode(n, label)));

  before(async () => {
    fleet = await ControllerFleet.start();
    c1 = await fleet.startController('ctl-1');
    c2 = await fleet.startController('ctl-2');
    nodes = await fleet.enrollNodes(c1, N, (i) => ({
      site: i % 2 === 0 ? 'ams' : 'fra',
      os: i < 4 ? 'linux' : 'macos',
    }));
    for (const n of nodes) {
      const t = acceptTrustStore(await readFile(n.trustStorePath, 'utf8'), undefined);
      assert.ok(t.ok);
      trust.set(n.nodeId, t.store);
    }
    // Both controllers see every enrolment through the registry watch.
    for (const c of [c1, c2])
      await waitUntil(
        () => nodes.every((n) => c.aggregator.index.node(n.nodeId)?.registered === true),
        'registry watch',
      );
    api1 = new RawApi(c1.grpcPort, undefined);
    api2 = new RawApi(c2.grpcPort, undefined);
  });

  after(async () => {
    api1?.close();
    api2?.close();
    await fleet?.close();
  });

  test('apply by selector reaches exactly the matching nodes, signed for each node', async () => {
    const r = await api1.call(
      'ApplyJob',
      { plist: jobPlist('com.acme.backup'), domain: 'system', target: { selector: 'site=ams,os!=linux' } },
      fleet.tokens.operator,
    );
    const want = nodes.filter((_, i) => i % 2 === 0 && i >= 4);
    assert.equal(r['label'], 'com.acme.backup');
    assert.equal(r['version'], 1);
    assert.equal(r['nodesTargeted'], want.length);
    assert.equal(r['nodesWritten'], want.length);
    assert.deepEqual(
      await versions(want, 'com.acme.backup'),
      want.map(() => 1),
    );
    const others = nodes.filter((n) => !want.includes(n));
    assert.deepEqual(
      await versions(others, 'com.acme.backup'),
      others.map(() => undefined),
    );
  });

  test('re-apply to named nodes: new version there, the job is taken away elsewhere', async () => {
    const named = [nodes[0], nodes[1], nodes[4]] as NodeIdentity[];
    const r = await api1.call(
      'ApplyJob',
      {
        plist: jobPlist('com.acme.backup'),
        target: { nodes: { names: [named[0]?.nodeId, named[1]?.nodeId, 'host-4'] } },
      },
      fleet.tokens.operator,
    );
    assert.equal(r['version'], 2);
    assert.equal(r['nodesWritten'], 3);
    const previously = nodes.filter((_, i) => i % 2 === 0 && i >= 4 && i !== 4);
    assert.equal(r['nodesRemoved'], previously.length);
    assert.deepEqual(await versions(named, 'com.acme.backup'), [2, 2, 2]);
    assert.deepEqual(
      await versions(previously, 'com.acme.backup'),
      previously.map(() => undefined),
    );
    const job = await api1.call('GetJob', { label: 'com.acme.backup' }, fleet.tokens.viewer);
    assert.equal(job['version'], 2);
    assert.deepEqual([...(job['nodeIds'] as string[])].sort(), named.map((n) => n.nodeId).sort());
    // Every delete made: no node left to clear, and the API says so (fields added 2026-12-07).
    assert.equal(job['clearingCount'], 0);
    assert.deepEqual(job['clearingNodeIds'], []);
    assert.equal(job['clearingUnlisted'], false);
  });

  test('two controllers applying the same label at once: distinct versions, every node at the highest', async () => {
    // Each apply its own content (the same content again re-delivers its version: next test).
    const plist = (i: number): string => jobPlist('com.acme.race', `<key>Nice</key><integer>${i}</integer>`);
    const rounds = 4;
    const results = await Promise.all(
      Array.from({ length: rounds }, (_, i) =>
        (i % 2 === 0 ? api1 : api2).call(
          'ApplyJob',
          { plist: plist(i), target: { all: true } },
          fleet.tokens.operator,
        ),
      ),
    );
    const vs = results.map((r) => r['version'] as number).sort((a, b) => a - b);
    assert.deepEqual(vs, [1, 2, 3, 4], 'each apply got its own version (CAS on the job record)');
    // Writes of a lower version never replace a higher one.
    assert.deepEqual(
      await versions(nodes, 'com.acme.race'),
      nodes.map(() => 4),
    );
    const superseded = results.reduce((s, r) => s + (r['nodesSuperseded'] as number), 0);
    const written = results.reduce((s, r) => s + (r['nodesWritten'] as number), 0);
    assert.equal(written + superseded, rounds * N);
  });

  test('the same apply again re-delivers its version: nothing is written, nothing moves', async () => {
    const latest = (await api1.call('GetJob', { label: 'com.acme.race' }, fleet.tokens.viewer))['plist'];
    const again = await api2.call(
      'ApplyJob',
      { plist: latest, target: { all: true } },
      fleet.tokens.operator,
    );
    assert.equal(again['version'], 4, 'the version the same content already has');
    assert.equal(again['nodesWritten'], 0);
    assert.equal(again['nodesUnchanged'], N);
    assert.deepEqual(
      await versions(nodes, 'com.acme.race'),
      nodes.map(() => 4),
    );
  });

  test('delete removes the job from every node and keeps the version counter', async () => {
    const d = await api2.call('DeleteJob', { label: 'com.acme.race' }, fleet.tokens.operator);
    assert.equal(d['nodesRemoved'], N);
    assert.equal(d['version'], 5);
    assert.deepEqual(
      await versions(nodes, 'com.acme.race'),
      nodes.map(() => undefined),
    );
    await assert.rejects(
      api1.call('DeleteJob', { label: 'com.acme.race' }, fleet.tokens.operator),
      /NOT_FOUND|not found/,
    );
    const again = await api1.call(
      'ApplyJob',
      { plist: jobPlist('com.acme.race'), target: { nodes: { names: [nodes[2]?.nodeId] } } },
      fleet.tokens.operator,
    );
    assert.equal(again['version'], 6, 'a re-applied job is never older than what nodes ran');
    const list = await api2.call('ListJobs', {}, fleet.tokens.viewer);
    const labels = (list['jobs'] as { label: string; deleted: boolean }[]).map(
      (j) => `${j.label}:${j.deleted}`,
    );
    assert.deepEqual(labels, ['com.acme.backup:false', 'com.acme.race:false']);
  });

  test('bad requests are refused before anything is signed', async () => {
    const noProgram = jobPlist('x')
      .replace('<key>ProgramArguments</key>', '<key>Nope</key>')
      .replace(/<array>.*<\/array>/, '<string>1</string>');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ plist: 'not a plist', target: { all: true } }, /plist does not parse/],
      [{ plist: noProgram, target: { all: true } }, /launchd would refuse/],
      [{ plist: jobPlist('com.acme.z'), target: { selector: 'a==b==c' } }, /selector/],
      [{ plist: jobPlist('com.acme.z'), target: { nodes: { names: ['ghost'] } } }, /unknown node "ghost"/],
      [{ plist: jobPlist('com.acme.z'), domain: 'gui/abc', target: { all: true } }, /domain/],
      [{ plist: jobPlist('com.acme.z') }, /target/],
    ];
    for (const [req, re] of cases)
      await assert.rejects(
        api1.call('ApplyJob', req, fleet.tokens.operator),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, status.INVALID_ARGUMENT, e.message);
          assert.match(e.message, re);
          return true;
        },
      );
    const list = await api1.call('ListJobs', {}, fleet.tokens.viewer);
    assert.ok(!(list['jobs'] as { label: string }[]).some((j) => j.label === 'com.acme.z'));
  });

  test('apply throughput: sign + CAS-put for every node, pipelined', async () => {
    const r = await api1.call(
      'ApplyJob',
      { plist: jobPlist('com.acme.speed'), target: { all: true } },
      fleet.tokens.operator,
    );
    assert.equal(r['nodesWritten'], N);
    assert.ok((r['durationMs'] as number) < 5000, `apply to ${N} nodes took ${String(r['durationMs'])} ms`);
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
