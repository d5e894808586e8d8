/**
 * `keys resign-jobs` (job-resigner.ts) over fake buckets (../desired/testing/fake-stores.ts):
 * which bundles it re-signs. Only bundles another key signed, of content the controller handed
 * out, on nodes the job record says the job was written to: a job written to some groups of
 * nodes is re-signed on those and nowhere else, even where the same label, version and plist sit
 * on other nodes signed by the old key (a bundle written past the controller with a leaked key is
 * never laundered). Until 2026-12-07 that filter was Array.includes per bundle (16 s of CPU for
 * one 20,000-node group); now a set. This checks what it keeps, not how fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '@launchfleet/shared/messages';
import {
  type SigningKey,
  generateSigningKey,
  parseSignedBundle,
  verifyBundle,
} from '@launchfleet/shared/signing';
import { FakeClock } from '@launchfleet/shared/testing';
import { parseJobRecord } from '../desired/job-record.ts';
import { FakeKv, bundleFor, fakeIndex, jobRecordJson } from '../desired/testing/fake-stores.ts';
import { JobVersions } from '../rollout/job-versions.ts';
import { type ResignDeps, resignDesiredState } from './job-resigner.ts';

const plistOf = (label: string, program = '/bin/true') =>
  `<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>${label}</string>` +
  `<key>ProgramArguments</key><array><string>${program}</string></array></dict></plist>`;
/** 40 node ids of group `g`, shaped like real ones (`n` and 20 base32 characters). */
const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
const group = (g: string) =>
  Array.from({ length: 40 }, (_, i) => `n${g}${'a'.repeat(17)}${base32[i >> 5]}${base32[i & 31]}`);
const [a, b, c] = [group('a'), group('b'), group('c')];

/** Written to groups a and b at version 3; also on group c, where the controller never wrote it. */
const wide = 'com.acme.l-wide';
/** Written to group c only, at version 2. */
const narrow = 'com.acme.m-narrow';
/** Its record says version 1 of another plist than the bundles on group b carry. */
const foreign = 'com.acme.n-foreign';

function fleet() {
  const clock = new FakeClock();
  const issuedAt = clock.wallMs() - 24 * 3600_000;
  const oldKey = generateSigningKey();
  const newKey = generateSigningKey();
  const jobs = new FakeKv();
  const desired = new FakeKv();
  const put = (
    label: string,
    version: number,
    nodeIds: readonly string[],
    key: SigningKey,
    plist = plistOf(label),
  ) => {
    for (const nodeId of nodeIds)
      desired.seed(keys.desired(nodeId, label), bundleFor({ label, plist, version, nodeId, issuedAt, key }));
  };
  const record = (label: string, version: number, nodeIds: readonly string[]) =>
    jobs.seed(
      keys.job(label),
      jobRecordJson({ label, plist: plistOf(label), nodeIds, version, updatedAt: issuedAt }),
    );
  record(wide, 3, [...a, ...b]);
  put(wide, 3, [...a.slice(1), ...b, ...c], oldKey);
  // Already signed by the active key: nothing to do there.
  put(wide, 3, a.slice(0, 1), newKey);
  record(narrow, 2, c);
  put(narrow, 2, c, oldKey);
  record(foreign, 1, b);
  put(foreign, 1, b, oldKey, plistOf(foreign, '/bin/evil'));
  const versionsKv = new FakeKv();
  const run = (more: Pick<ResignDeps, 'busyLabels' | 'onlyKeys'> = {}) =>
    resignDesiredState({
      desired: desired.kv,
      index: fakeIndex(desired),
      jobs: jobs.kv,
      versions: new JobVersions(versionsKv.kv, jobs.kv),
      signingKey: newKey,
      clock,
      by: 'test',
      ...more,
    });
  const bundleOf = (nodeId: string, label: string) => {
    const v = desired.value(keys.desired(nodeId, label));
    const p = v === undefined ? undefined : parseSignedBundle(v);
    return p?.ok ? p.signed.bundle : undefined;
  };
  return { clock, oldKey, newKey, jobs, desired, versionsKv, run, bundleOf };
}

test('resign-jobs re-signs a job only on the groups of nodes it was written to', async () => {
  const f = fleet();
  const untouched = new Map(
    [
      ...c.map((n) => keys.desired(n, wide)),
      keys.desired(a[0] as string, wide),
      ...b.map((n) => keys.desired(n, foreign)),
    ].map((k) => [k, f.desired.value(k)]),
  );
  const r = await f.run();

  assert.equal(r.scanned, 40 * 3 + 40 + 40, 'every bundle read');
  assert.deepEqual(r.unreadable, []);
  assert.deepEqual(r.resigned, [
    { label: wide, fromVersion: 3, toVersion: 4, fromKeys: [f.oldKey.keyId], nodes: 79 },
    { label: narrow, fromVersion: 2, toVersion: 3, fromKeys: [f.oldKey.keyId], nodes: 40 },
  ]);
  assert.equal(r.written, 79 + 40);
  assert.equal(r.superseded, 0);

  // The job written to a and b: every node of a and b on version 4, signed by the new key, same plist.
  const trust = {
    version: 1,
    issuedAt: 0,
    keys: [{ keyId: f.newKey.keyId, publicKey: f.newKey.publicKey }],
    revoked: [],
  };
  for (const nodeId of [...a.slice(1), ...b]) {
    const v = f.desired.value(keys.desired(nodeId, wide)) ?? '';
    const checked = verifyBundle(v, trust, { now: f.clock.wallMs(), nodeId, expectedLabel: wide });
    assert.ok(checked.ok, `${nodeId}: ${checked.ok ? '' : checked.detail}`);
    assert.equal(checked.bundle.version, 4, nodeId);
    assert.equal(checked.bundle.plist, plistOf(wide), nodeId);
    assert.equal(checked.bundle.keyId, f.newKey.keyId, nodeId);
  }
  // ... and nowhere else: group c keeps the old key's bundle of that job, and is told why.
  for (const [k, v] of untouched) assert.equal(f.desired.value(k), v, `${k} untouched`);
  const leftWide = r.left.filter((x) => x.label === wide);
  assert.deepEqual(leftWide.map((x) => x.nodeId).sort(), [...c].sort());
  for (const x of leftWide) {
    assert.equal(x.version, 3);
    assert.equal(x.keyId, f.oldKey.keyId);
    assert.match(x.reason, /the job was never written to this node/);
  }
  // The job written to c only: re-signed on c.
  for (const nodeId of c) {
    assert.equal(f.bundleOf(nodeId, narrow)?.version, 3, nodeId);
    assert.equal(f.bundleOf(nodeId, narrow)?.keyId, f.newKey.keyId, nodeId);
  }
  // Content the controller never handed out (another plist than its record's): left on every node.
  const leftForeign = r.left.filter((x) => x.label === foreign);
  assert.deepEqual(leftForeign.map((x) => x.nodeId).sort(), [...b].sort());
  for (const x of leftForeign) assert.match(x.reason, /not in the controller's records/);
  assert.equal(r.left.length, 40 + 40);

  // The records moved one version on, same target; the new numbers re-sign the old content.
  const wideRecord = parseJobRecord(f.jobs.value(keys.job(wide)) ?? '');
  assert.equal(wideRecord?.version, 4);
  assert.deepEqual(wideRecord?.nodeIds, [...a, ...b]);
  assert.equal(parseJobRecord(f.jobs.value(keys.job(narrow)) ?? '')?.version, 3);
  assert.equal(parseJobRecord(f.jobs.value(keys.job(foreign)) ?? '')?.version, 1, 'no version taken');
  const versions = new JobVersions(f.versionsKv.kv, f.jobs.kv);
  assert.equal(await versions.contentOf(wide, 4), 3);
  assert.equal(await versions.contentOf(narrow, 3), 2);

  // Run again: nothing left to re-sign but what is not the controller's.
  const again = await f.run();
  assert.deepEqual(again.resigned, []);
  assert.equal(again.written, 0);
  assert.equal(again.left.length, 40 + 40);
});

test('resign-jobs leaves a job with a rollout in progress, and bundles of keys it was not asked about', async () => {
  const f = fleet();
  const busy = await f.run({ busyLabels: new Set([wide]) });
  assert.deepEqual(
    busy.resigned.map((g) => [g.label, g.nodes]),
    [[narrow, 40]],
  );
  const leftBusy = busy.left.filter((x) => x.label === wide);
  assert.equal(
    leftBusy.length,
    79 + 40,
    'every old-key bundle of the busy job, written by the controller or not',
  );
  for (const x of leftBusy) assert.match(x.reason, /rollout of this job is in progress/);
  for (const nodeId of a.slice(1)) assert.equal(f.bundleOf(nodeId, wide)?.keyId, f.oldKey.keyId, nodeId);
  assert.equal(parseJobRecord(f.jobs.value(keys.job(wide)) ?? '')?.version, 3, 'no version taken');

  // Asked about another key only: the old key's bundles are not its business, not even reported.
  const other = await f.run({ onlyKeys: new Set([generateSigningKey().keyId]) });
  assert.deepEqual(other.resigned, []);
  assert.deepEqual(other.left, []);
  assert.equal(other.written, 0);
  // Asked about the old key (the busy job's rollout over): what the first run left is re-signed now.
  const named = await f.run({ onlyKeys: new Set([f.oldKey.keyId]) });
  assert.deepEqual(
    named.resigned.map((g) => [g.label, g.fromVersion, g.toVersion, g.nodes]),
    [[wide, 3, 4, 79]],
  );
});
