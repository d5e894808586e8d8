import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTarget, parseJobRecord, type JobRecord } from './job-record.ts';

test('job records round-trip; anything else is refused as a value', () => {
  const r: JobRecord = {
    v: 1,
    label: 'com.acme.x',
    domain: 'system',
    plist: '<plist/>',
    version: 3,
    target: { kind: 'selector', selector: 'site=ams' },
    nodeIds: ['naaaaaaaaaaaaaaaaaaaa'],
    updatedAt: 5,
    updatedBy: 'ada',
    deleted: false,
  };
  assert.deepEqual(parseJobRecord(JSON.stringify(r)), r);
  const clearing = { ...r, clearing: ['nbbbbbbbbbbbbbbbbbbbb'] };
  assert.deepEqual(parseJobRecord(JSON.stringify(clearing)), clearing, 'nodes still to clear');
  for (const bad of [
    '',
    'nope',
    '[]',
    '{"v":2}',
    JSON.stringify({ ...r, nodeIds: [1] }),
    JSON.stringify({ ...r, target: { kind: 'x' } }),
    JSON.stringify({ ...r, clearing: 'nbbbbbbbbbbbbbbbbbbbb' }),
  ])
    assert.equal(parseJobRecord(bad), undefined, bad);
  assert.equal(describeTarget({ kind: 'all' }), 'all');
  assert.equal(
    describeTarget({ kind: 'nodes', names: ['a', 'b', 'c', 'd', 'e', 'f'] }),
    'nodes a,b,c,d,e,… (6)',
  );
});
