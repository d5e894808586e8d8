import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobRecord } from '../job-record.ts';
import { redeliverable } from './redeliver.ts';

const day = 24 * 3600_000;
const prev: JobRecord = {
  v: 1,
  label: 'com.acme.a',
  domain: 'system',
  plist: '<plist/>',
  version: 7,
  target: { kind: 'all' },
  nodeIds: ['n1', 'n2', 'n3'],
  updatedAt: 1_000_000,
  updatedBy: 'op',
  deleted: false,
};
const same = {
  label: prev.label,
  domain: prev.domain,
  plist: prev.plist,
  target: prev.target,
  nodeIds: ['n3', 'n1', 'n2'],
};

test('the same apply again, soon after: the version is re-delivered', () => {
  assert.equal(redeliverable(prev, same, prev.updatedAt + 60_000, 30 * day), true);
});

test('anything different takes a new version', () => {
  const at = prev.updatedAt + 1000;
  const v = 30 * day;
  assert.equal(redeliverable(undefined, same, at, v), false, 'first apply');
  assert.equal(redeliverable({ ...prev, deleted: true }, same, at, v), false, 'deleted job');
  assert.equal(redeliverable(prev, { ...same, plist: '<plist></plist>' }, at, v), false, 'plist');
  assert.equal(redeliverable(prev, { ...same, domain: 'gui/501' }, at, v), false, 'domain');
  assert.equal(redeliverable(prev, { ...same, target: { kind: 'selector', selector: 'a=b' } }, at, v), false);
  assert.equal(redeliverable(prev, { ...same, nodeIds: ['n1', 'n2'] }, at, v), false, 'fewer nodes');
  assert.equal(redeliverable(prev, { ...same, nodeIds: ['n1', 'n2', 'n4'] }, at, v), false, 'other nodes');
  assert.equal(
    redeliverable(prev, { ...same, nodeIds: ['n1', 'n2', 'n3', 'n4'] }, at, v),
    false,
    'more nodes',
  );
});

test('a version older than a tenth of the validity (or from the future) is not re-delivered', () => {
  const v = 30 * day;
  assert.equal(redeliverable(prev, same, prev.updatedAt + 3 * day - 1, v), true);
  assert.equal(redeliverable(prev, same, prev.updatedAt + 3 * day, v), false);
  assert.equal(redeliverable(prev, same, prev.updatedAt - 1, v), false);
});
