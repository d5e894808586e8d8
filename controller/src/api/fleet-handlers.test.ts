import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { keys } from '@launchfleet/shared/messages';
import { generateSigningKey } from '@launchfleet/shared/signing';
import { FakeClock } from '@launchfleet/shared/testing';
import {
  FakeKv,
  bundleFor,
  jobRecord,
  jobRecordJson,
  serviceOverFakes,
} from '../desired/testing/fake-stores.ts';
import { type FleetServices, FleetHandlers, encodeJob } from './fleet-handlers.ts';

const record = jobRecord({
  label: 'com.acme.x',
  plist: '<plist/>',
  nodeIds: ['naaaaaaaaaaaaaaaaaaaa'],
  updatedAt: 5,
  clearing: ['nbbbbbbbbbbbbbbbbbbbb', 'ncccccccccccccccccccc'],
});

test('a job says which nodes it is still to be taken away from: the count in lists, the ids in GetJob', () => {
  const listed = encodeJob(record, false);
  assert.equal(listed.clearingCount, 2);
  assert.deepEqual(listed.clearingNodeIds, []);
  assert.equal(listed.clearingUnlisted, false);
  const full = encodeJob(record, true);
  assert.deepEqual(full.clearingNodeIds, record.clearing);
  assert.deepEqual(full.nodeIds, record.nodeIds);
  const { clearing: _c, ...none } = record;
  assert.equal(encodeJob(none, true).clearingCount, 0);
  assert.deepEqual(encodeJob(none, true).clearingNodeIds, []);
  const unlisted = encodeJob({ ...none, clearingUnlisted: true }, true);
  assert.equal(unlisted.clearingUnlisted, true);
  assert.equal(unlisted.clearingCount, 0);
});

test('DeleteJob carries the warnings of a delete that only partly cleared', async () => {
  const clock = new FakeClock();
  const key = generateSigningKey();
  const label = 'com.acme.gone';
  const plist = `<plist version="1.0"><dict><key>Label</key><string>${label}</string></dict></plist>`;
  const nodes = ['naaaaaaaaaaaaaaaaaaaa', 'nbbbbbbbbbbbbbbbbbbbb'];
  const jobs = new FakeKv();
  jobs.seed(keys.job(label), jobRecordJson({ label, plist, nodeIds: nodes, updatedAt: clock.wallMs() }));
  const desired = new FakeKv();
  for (const nodeId of nodes)
    desired.seed(
      keys.desired(nodeId, label),
      bundleFor({ label, plist, version: 3, nodeId, issuedAt: clock.wallMs(), key }),
    );
  desired.failKeys = () => new natsErrors.TimeoutError();
  const handlers = new FleetHandlers({
    desired: serviceOverFakes({ jobs, desired, nodes, key, clock }),
  } as unknown as FleetServices);
  const r = await handlers.DeleteJob({ label }, { who: 'op', target: '' });
  assert.equal(r.nodesRemoved, 2);
  assert.deepEqual(r.failures, []);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0] ?? '', /could not be listed .*only the 2 nodes the job record names were tried/);
});
