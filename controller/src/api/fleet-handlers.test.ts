import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobRecord } from '../desired/testing/fake-stores.ts';
import { encodeJob } from './fleet-handlers.ts';

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
