/**
 * Taking a job away from nodes (desired-state-service.ts, `#removeFrom`: an apply that retargets,
 * a delete) when the broker does not answer some deletes: like the apply's writes, a delete the
 * broker did not answer is tried again once it answers (a cut connection, an election), and once
 * it stops answering for good the deletes not yet started are reported as not tried instead of
 * each waiting out its timeout (write-gate.ts). Over fake buckets (testing/fake-stores.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { keys } from '@launchfleet/shared/messages';
import { generateSigningKey } from '@launchfleet/shared/signing';
import { FakeClock } from '@launchfleet/shared/testing';
import type { TargetSpec } from './job-record.ts';
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
function fleet(concurrency?: number) {
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
    concurrency === undefined ? {} : { concurrency },
  );
  return { clock, desired, service };
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
});
