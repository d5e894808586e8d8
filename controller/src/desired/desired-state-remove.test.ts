/**
 * Taking a job away from nodes (desired-state-service.ts, `#removeFrom`: an apply that retargets,
 * a delete) when the broker does not answer some deletes: like the apply's writes, a delete the
 * broker did not answer is tried again once it answers (a cut connection, an election), and once
 * it stops answering for good the deletes not yet started are reported as not tried instead of
 * each waiting out its timeout (write-gate.ts). A delete that still failed is named in the job
 * record (`clearing`) and made by the retry, whether it re-delivers the version, takes a new one,
 * or deletes the deleted job again. When the nodes to clear do not fit in the record beside its
 * target (a broker message, max_payload), the record says so (`clearingUnlisted`) and the nodes
 * are found by listing the label's keys; a record too large even so is refused before any write.
 * Also the write's counterpart of a delete whose answer was lost: an apply's write stored but
 * unanswered is found, on its retry, holding its own value (`unchanged`). Over fake buckets
 * (testing/fake-stores.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import { generateSigningKey, parseSignedBundle } from '@launchfleet/shared/signing';
import { FakeClock } from '@launchfleet/shared/testing';
import { type JobRecord, type TargetSpec, parseJobRecord, recordBytes } from './job-record.ts';
import type { DesiredStateDeps } from './desired-state-service.ts';
import { FakeKv, bundleFor, jobRecordJson, serviceOverFakes } from './testing/fake-stores.ts';

const label = 'com.acme.remove';
const plist =
  `<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>${label}</string>` +
  '<key>ProgramArguments</key><array><string>/bin/true</string></array></dict></plist>';
const nodes = [
  'naaaaaaaaaaaaaaaaaaa2',
  'naaaaaaaaaaaaaaaaaaa3',
  'naaaaaaaaaaaaaaaaaaa4',
  'naaaaaaaaaaaaaaaaaaa5',
];
const [n1, n2, n3] = nodes as [string, string, string];
const key = (nodeId: string) => keys.desired(nodeId, label);

/** Version 3 of the label on every node (applied an hour ago, by name); `concurrency` writes at once. */
function fleet(concurrency?: number, more: Partial<DesiredStateDeps> = {}) {
  const clock = new FakeClock();
  const issuedAt = clock.wallMs() - 3600_000;
  const jobs = new FakeKv();
  const target: TargetSpec = { kind: 'nodes', names: nodes };
  jobs.seed(keys.job(label), jobRecordJson({ label, plist, nodeIds: nodes, updatedAt: issuedAt, target }));
  const desired = new FakeKv();
  const signingKey = generateSigningKey();
  for (const nodeId of nodes)
    desired.seed(key(nodeId), bundleFor({ label, plist, version: 3, nodeId, issuedAt, key: signingKey }));
  const service = serviceOverFakes(
    { jobs, desired, nodes, key: signingKey, clock },
    { ...(concurrency !== undefined && { concurrency }), ...more },
  );
  return { clock, jobs, desired, service };
}

/** The deletes of each key tried so far. */
const deletes = (kv: FakeKv, nodeId: string) => kv.calls.filter((c) => c === `delete ${key(nodeId)}`).length;

test('an apply that retargets tries a delete again that the broker did not answer', async () => {
  const f = fleet();
  // n2's first delete times out unstored; n3's is stored but its answer is lost.
  f.desired.failWith = (call, k) =>
    call === 'delete' && k === key(n2) && deletes(f.desired, n2) === 1
      ? new natsErrors.TimeoutError()
      : undefined;
  f.desired.loseAnswer = (call, k) =>
    call === 'delete' && k === key(n3) && deletes(f.desired, n3) === 1
      ? new natsErrors.TimeoutError()
      : undefined;
  const r = await f.service.apply({
    plist,
    domain: 'system',
    target: { kind: 'nodes', names: [n1] },
    by: 'op',
  });
  assert.equal(r.version, 4);
  assert.deepEqual(r.failures, []);
  assert.equal(r.written, 1);
  for (const n of nodes.slice(1))
    assert.equal(f.desired.value(key(n)), undefined, `${n}: the job was taken away`);
  assert.equal(deletes(f.desired, n2), 2, 'the unanswered delete was tried again');
  assert.equal(deletes(f.desired, n3), 1, 'the stored one was not: its retry found the key gone');
  assert.equal(r.removed, 2, 'the deletes answered (the lost answer is not counted)');
});

test('an apply whose write was stored but whose answer was lost finds its own value: the node counts as unchanged', async () => {
  // What fault-cluster (3) saw once (written 85, unchanged 3, failed 916 of 1,004): the write of a
  // new version reaches the stream, its answer does not (a timeout), the gate tries it again
  // (write-gate.ts), and the retry's read before writing finds the very bundle it was to write.
  const f = fleet();
  const updates = (nodeId: string) => f.desired.calls.filter((c) => c === `update ${key(nodeId)}`).length;
  f.desired.loseAnswer = (call, k) =>
    call === 'update' && k === key(n2) && updates(n2) === 1 ? new natsErrors.TimeoutError() : undefined;
  const r = await f.service.apply({
    plist: plist.replace('/bin/true', '/bin/false'),
    domain: 'system',
    target: { kind: 'nodes', names: nodes },
    by: 'op',
  });
  assert.equal(r.version, 4, 'a new version, not a re-delivery');
  assert.deepEqual(
    { written: r.written, unchanged: r.unchanged, failures: r.failures },
    { written: nodes.length - 1, unchanged: 1, failures: [] },
  );
  assert.equal(updates(n2), 1, 'written once: the retry only read');
  const held2 = parseSignedBundle(f.desired.value(key(n2)) ?? '');
  assert.ok(held2.ok && held2.signed.bundle.version === 4, 'the node holds the new version');
});

test('a delete tries a delete again that the broker did not answer', async () => {
  const f = fleet();
  f.desired.failWith = (call, k) =>
    call === 'delete' && k === key(n1) && deletes(f.desired, n1) <= 2
      ? new natsErrors.TimeoutError()
      : undefined;
  const r = await f.service.delete(label, 'op');
  assert.deepEqual(r.failures, []);
  assert.equal(r.removed, nodes.length);
  assert.equal(deletes(f.desired, n1), 3);
  for (const n of nodes) assert.equal(f.desired.value(key(n)), undefined, n);
});

test('once the broker stops answering for good, the deletes not started are not tried', async () => {
  const f = fleet(1);
  // Every delete waits out the client's 5 s timeout.
  f.desired.failWith = (call) => {
    if (call !== 'delete') return undefined;
    f.clock.advance(5000);
    return new natsErrors.TimeoutError();
  };
  const r = await f.service.delete(label, 'op');
  assert.equal(r.removed, 0);
  assert.deepEqual(r.failures.map((x) => x.nodeId).sort(), [...nodes].sort(), 'every node is named');
  const notTried = r.failures.filter((x) =>
    /^UNAVAILABLE: not tried, the broker stopped answering/.test(x.reason),
  );
  assert.equal(notTried.length, nodes.length - 1, 'all but the first node');
  assert.equal(
    f.desired.calls.filter((c) => c.startsWith('delete ')).length,
    3,
    'the first node tried 3 times in 10 s',
  );
  for (const n of nodes) assert.ok(f.desired.value(key(n)) !== undefined, `${n} keeps its key`);
  assert.deepEqual(r.warnings, [
    'not cleared from 4 of 4 nodes (3 not tried: the broker stopped answering): the job may still run there; delete it again',
  ]);
});

type Fleet = ReturnType<typeof fleet>;

/** Every delete of a key of `down` waits out the client's 5 s timeout and fails, while `down` has it. */
function brokerDropsDeletesOf(f: Fleet, ...nodeIds: string[]): { down: Set<string> } {
  const o = { down: new Set(nodeIds) };
  f.desired.failWith = (call, k) => {
    if (call !== 'delete' || ![...o.down].some((n) => k === key(n))) return undefined;
    f.clock.advance(5000);
    return new natsErrors.TimeoutError();
  };
  return o;
}

function record(f: Fleet): JobRecord {
  const r = parseJobRecord(f.jobs.value(keys.job(label)) ?? '');
  assert.ok(r, 'a job record');
  return r;
}

const toN1 = { plist, domain: 'system', target: { kind: 'nodes', names: [n1] } as TargetSpec, by: 'op' };
const held = (f: Fleet) => nodes.filter((n) => f.desired.value(key(n)) !== undefined);

test('a retargeting apply whose deletes failed for good makes them when it is retried', async () => {
  const f = fleet(1);
  const outage = brokerDropsDeletesOf(f, n2);
  const r = await f.service.apply(toN1);
  assert.equal(r.version, 4);
  assert.equal(r.removed, 0);
  assert.deepEqual(r.failures.map((x) => x.nodeId).sort(), nodes.slice(1), 'n2 failed, the rest not tried');
  assert.equal(r.notAttempted, 2, 'the deletes not tried are counted');
  assert.match(r.warnings.join(), /2 of 4 nodes not tried/);
  assert.deepEqual(held(f), nodes);
  assert.deepEqual(record(f).clearing, nodes.slice(1), 'the record names the nodes still to clear');

  outage.down.clear();
  const again = await f.service.apply(toN1);
  assert.equal(again.version, 4, 'the retry re-delivers the version');
  assert.equal(again.written, 0);
  assert.deepEqual(again.failures, []);
  assert.equal(again.removed, 3);
  assert.deepEqual(held(f), [n1], 'only the node targeted keeps the job');
  assert.equal(record(f).clearing, undefined, 'nothing left to clear');
});

test('the record keeps only the nodes whose delete failed, and a new version clears them', async () => {
  const f = fleet();
  const outage = brokerDropsDeletesOf(f, n2);
  const r = await f.service.apply(toN1);
  assert.equal(r.removed, 2);
  assert.deepEqual(
    r.failures.map((x) => x.nodeId),
    [n2],
  );
  assert.deepEqual(record(f).clearing, [n2], 'the nodes cleared are dropped from the record');

  outage.down.clear();
  const gets = (n: string) => f.desired.calls.filter((c) => c === `get ${key(n)}`).length;
  const before = gets(nodes[3] as string);
  const plist2 = plist.replace('/bin/true', '/bin/echo');
  const v5 = await f.service.apply({ ...toN1, plist: plist2 });
  assert.equal(v5.version, 5);
  assert.deepEqual(v5.failures, []);
  assert.equal(v5.removed, 1, 'the new version takes the job away from n2');
  assert.deepEqual(held(f), [n1]);
  assert.equal(gets(nodes[3] as string), before, 'a node already cleared is not looked at again');
  assert.equal(record(f).clearing, undefined);
});

test('deleting a deleted job again deletes what the first delete could not', async () => {
  const f = fleet();
  const outage = brokerDropsDeletesOf(f, n2, n3);
  const r = await f.service.delete(label, 'op');
  assert.equal(r.version, 4);
  assert.equal(r.removed, 2);
  assert.deepEqual(r.failures.map((x) => x.nodeId).sort(), [n2, n3]);
  assert.deepEqual(record(f).clearing, [n2, n3]);
  assert.equal(record(f).deleted, true);
  // Before 2026-12-07 only the failures said so (and `jobs delete` printed neither).
  assert.deepEqual(r.warnings, [
    'not cleared from 2 of 4 nodes: the job may still run there; delete it again',
  ]);

  outage.down.clear();
  const again = await f.service.delete(label, 'op');
  assert.equal(again.version, 4, 'no new version');
  assert.deepEqual(again.failures, []);
  assert.deepEqual(again.warnings, [], 'cleared: nothing to warn of');
  assert.equal(again.removed, 2);
  assert.deepEqual(held(f), []);
  assert.equal(record(f).clearing, undefined);
  await assert.rejects(f.service.delete(label, 'op'), NotFoundError, 'nothing left: not found, as before');
});

test('an apply after a partly failed delete takes the job away from the nodes the delete missed', async () => {
  const f = fleet();
  const outage = brokerDropsDeletesOf(f, n2);
  const r = await f.service.delete(label, 'op');
  assert.deepEqual(
    r.failures.map((x) => x.nodeId),
    [n2],
  );
  outage.down.clear();
  const v5 = await f.service.apply(toN1);
  assert.equal(v5.version, 5);
  assert.deepEqual(v5.failures, []);
  assert.equal(v5.removed, 1);
  assert.deepEqual(held(f), [n1]);
});

test('a delete whose key listing the broker does not answer clears the nodes its record names and says what it could not', async () => {
  const f = fleet();
  // A node the record does not name (written by hand or by an older controller): only a listing finds it.
  const stray = 'naaaaaaaaaaaaaaaaaaa6';
  f.desired.seed(
    key(stray),
    bundleFor({
      label,
      plist,
      version: 3,
      nodeId: stray,
      issuedAt: f.clock.wallMs(),
      key: generateSigningKey(),
    }),
  );
  f.desired.failKeys = () => new natsErrors.TimeoutError();
  const r = await f.service.delete(label, 'op');
  // Before 2026-12-07 the call threw here (UNAVAILABLE) and cleared none of the 4 nodes it names.
  assert.deepEqual(
    { version: r.version, removed: r.removed, failures: r.failures },
    { version: 4, removed: 4, failures: [] },
  );
  assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
  assert.match(
    r.warnings[0] ?? '',
    /^the nodes that hold its key could not be listed \(.*timeout.*\): only the 4 nodes the job record names were tried, a node it does not name .* may still hold it; delete it again once the broker answers$/i,
  );
  assert.deepEqual(held(f), []);
  assert.ok(f.desired.value(key(stray)) !== undefined, 'the node no record names still holds it');
  assert.equal(record(f).deleted, true);
  assert.equal(record(f).clearing, undefined, 'the nodes it named are cleared');

  // Nothing named left, and still no listing: nothing this call can do, and it says so.
  await assert.rejects(f.service.delete(label, 'op'), (e: unknown) => {
    assert.ok(e instanceof UnavailableError, String(e));
    assert.match(
      e.message,
      /job com\.acme\.remove is deleted \(version 4\) but still on its nodes: listing .*failed; delete it again.*timeout/i,
    );
    assert.equal(e.changedNothing, true, 'no new version: nothing changed');
    return true;
  });

  f.desired.failKeys = () => undefined;
  const again = await f.service.delete(label, 'op');
  assert.deepEqual(
    { version: again.version, removed: again.removed, warnings: again.warnings },
    { version: 4, removed: 1, warnings: [] },
  );
  assert.equal(f.desired.value(key(stray)), undefined);
  await assert.rejects(f.service.delete(label, 'op'), NotFoundError, 'nothing left: not found');
});

/**
 * A fleet whose broker carries job records of at most `room` bytes more than version 4 targeting
 * n1 alone (the record `toN1` writes, without nodes to clear): naming the 3 nodes to clear takes
 * about 90 more, `clearingUnlisted` 24.
 */
function smallPayloadFleet(room = 40) {
  const clock = new FakeClock();
  const v4: JobRecord = {
    v: 1,
    label,
    domain: 'system',
    plist,
    target: { kind: 'nodes', names: [n1] },
    nodeIds: [n1],
    version: 4,
    updatedAt: clock.wallMs(),
    updatedBy: 'op',
    deleted: false,
  };
  const limit = recordBytes(v4) + room;
  const f = fleet(undefined, { maxRecordBytes: () => limit });
  f.jobs.maxValueBytes = limit;
  return f;
}

test('a retarget whose nodes to clear do not fit in the record lists them instead', async () => {
  const f = smallPayloadFleet();
  // n2's delete is refused (not a broker outage): it stays to clear.
  f.desired.failWith = (call, k) => (call === 'delete' && k === key(n2) ? new Error('refused') : undefined);
  const written: JobRecord[] = [];
  f.jobs.loseAnswer = (call, k) => {
    if (k === keys.job(label) && call !== 'get') written.push(record(f));
    return undefined;
  };
  const r = await f.service.apply(toN1);
  // Before: the record with 3 nodes to clear was over max_payload and the apply failed.
  assert.equal(r.version, 4);
  assert.equal(r.removed, 2);
  assert.deepEqual(
    r.failures.map((x) => x.nodeId),
    [n2],
  );
  assert.equal(written[0]?.clearingUnlisted, true, 'the version is written saying the nodes are unlisted');
  assert.equal(written[0]?.clearing, undefined);
  assert.deepEqual(held(f), [n1, n2]);
  assert.deepEqual(record(f).clearing, [n2], 'after the listing, the one failed node fits and is named');
  assert.equal(record(f).clearingUnlisted, undefined);

  f.desired.failWith = () => undefined;
  const again = await f.service.apply(toN1);
  assert.equal(again.version, 4, 'the retry re-delivers the version');
  assert.equal(again.removed, 1);
  assert.deepEqual(held(f), [n1]);
  assert.equal(record(f).clearing, undefined);
});

test('a listing that fails leaves the record unlisted, and the retry clears', async () => {
  const f = smallPayloadFleet();
  f.desired.failKeys = () => new natsErrors.TimeoutError();
  const r = await f.service.apply(toN1);
  assert.equal(r.removed, 0);
  assert.match(r.warnings.join('\n'), /could not be listed .*timeout.*retry the apply/i);
  assert.equal(record(f).clearingUnlisted, true, 'the mark stays for the retry');
  assert.deepEqual(held(f), nodes);

  f.desired.failKeys = () => undefined;
  const again = await f.service.apply(toN1);
  assert.equal(again.removed, 3);
  assert.deepEqual(again.warnings, []);
  assert.deepEqual(held(f), [n1]);
  assert.equal(record(f).clearingUnlisted, undefined);
});

test('a new version and a delete carry the mark on; the delete clears by listing', async () => {
  const f = smallPayloadFleet();
  f.desired.failWith = (call) => (call === 'delete' ? new Error('refused') : undefined);
  await f.service.apply(toN1);
  assert.deepEqual(record(f).clearing, undefined, 'the 3 failed do not fit either');
  assert.equal(record(f).clearingUnlisted, true);
  const plist2 = plist.replace('/bin/true', '/bin/echo');
  const v5 = await f.service.apply({ ...toN1, plist: plist2 });
  assert.equal(v5.version, 5);
  assert.equal(record(f).clearingUnlisted, true, 'the new version still lists the keys');

  f.desired.failWith = () => undefined;
  const d = await f.service.delete(label, 'op');
  assert.equal(d.version, 6);
  assert.equal(d.removed, 4);
  assert.deepEqual(held(f), []);
  assert.equal(record(f).deleted, true);
  assert.equal(record(f).clearingUnlisted, undefined);
  await assert.rejects(f.service.delete(label, 'op'), NotFoundError);
});

test('a record too large even without nodes to clear is refused before anything is written', async () => {
  // Room for no node id beside n1's.
  const f = smallPayloadFleet(10);
  const calls = f.desired.calls.length;
  const all = {
    ...toN1,
    plist: plist.replace('/bin/true', '/bin/echo'),
    target: { kind: 'nodes', names: nodes } as TargetSpec,
  };
  await assert.rejects(f.service.apply(all), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, String(e));
    assert.match(e.message, /would be \d+ bytes \(4 target nodes.*max_payload\): nothing was written/);
    return true;
  });
  assert.equal(record(f).version, 3, 'the record is as it was');
  assert.equal(f.desired.calls.length, calls, 'no key was touched');
});
