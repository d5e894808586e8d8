import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { nodeIdFromRandom } from '@launchfleet/shared/messages';
import {
  type JobRecord,
  type TargetSpec,
  describeTarget,
  fitRecord,
  parseJobRecord,
  recordBytes,
  recordLimit,
  withClearing,
} from './job-record.ts';

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
  const unlisted = { ...r, clearingUnlisted: true as const };
  assert.deepEqual(parseJobRecord(JSON.stringify(unlisted)), unlisted, 'too many to name');
  for (const bad of [
    '',
    'nope',
    '[]',
    '{"v":2}',
    JSON.stringify({ ...r, nodeIds: [1] }),
    JSON.stringify({ ...r, target: { kind: 'x' } }),
    JSON.stringify({ ...r, clearing: 'nbbbbbbbbbbbbbbbbbbbb' }),
    JSON.stringify({ ...r, clearingUnlisted: false }),
  ])
    assert.equal(parseJobRecord(bad), undefined, bad);
  assert.equal(describeTarget({ kind: 'all' }), 'all');
  assert.equal(
    describeTarget({ kind: 'nodes', names: ['a', 'b', 'c', 'd', 'e', 'f'] }),
    'nodes a,b,c,d,e,… (6)',
  );
});

/** `n` node ids as enrolment makes them (`n` + 20 base-32 characters), sorted as the service keeps them. */
function nodeIds(n: number): string[] {
  return Array.from({ length: n }, () => nodeIdFromRandom(randomBytes(13))).sort();
}

/** A 1 KiB plist's record of version 7 targeting `ids` with `target`. */
function recordOf(target: TargetSpec, ids: readonly string[]): JobRecord {
  const plist =
    '<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>Label</key>' +
    '<string>com.acme.agent</string><key>ProgramArguments</key><array><string>/opt/acme/bin/agent' +
    '</string></array></dict></plist>'.padEnd(1024 - 170, ' ');
  return {
    v: 1,
    label: 'com.acme.agent',
    domain: 'system',
    plist,
    version: 7,
    target,
    nodeIds: ids,
    updatedAt: 1_765_000_000_000,
    updatedBy: 'ops@acme.example',
    deleted: false,
  };
}

test('record size: a whole-fleet retarget names up to twice the fleet; over the limit it lists instead', (t) => {
  const limit = recordLimit(undefined);
  assert.equal(limit, 1024 * 1024 - 1024, "NATS's default max_payload, less room for headers");
  assert.equal(recordLimit(8 * 1024 * 1024), 2 * 1024 * 1024 - 1024, "the bucket's 2 MiB bound it above");
  const selector: TargetSpec = { kind: 'selector', selector: 'role=web' };
  const sizes: string[] = [];
  for (const n of [10_000, 20_000, 50_000]) {
    // Retargeted from n nodes to n others: n targeted, n to clear.
    const whole = withClearing(recordOf(selector, nodeIds(n)), nodeIds(n));
    const bare = recordOf(selector, whole.nodeIds);
    sizes.push(`${n}: ${recordBytes(bare)} B target only, ${recordBytes(whole)} B with clearing`);
    const fitted = fitRecord(whole, limit);
    if (n === 10_000 || n === 20_000) assert.equal(fitted, whole, `${n}: fits as it is`);
    else assert.equal(fitted, undefined, `${n}: the target alone is over the limit`);
  }
  t.diagnostic(`limit ${limit} B; ${sizes.join('; ')}`);
  // 24 bytes a node id: 20,000 + 20,000 is 0.96 MB, 22,000 + 22,000 over 1 MiB.
  const over = withClearing(recordOf(selector, nodeIds(22_000)), nodeIds(22_000));
  assert.ok(recordBytes(over) > limit, `${recordBytes(over)} B`);
  const unlisted = fitRecord(over, limit);
  assert.ok(unlisted, '22,000 + 22,000 fits without the list');
  assert.equal(unlisted.clearingUnlisted, true);
  assert.equal(unlisted.clearing, undefined);
  assert.deepEqual(unlisted.nodeIds, over.nodeIds, 'the target is kept whole');
  // A target by name stores the names too (28-byte hostnames): 15,000 of them and 15,000 to clear
  // fit only unlisted; 20,000 not even without nodes to clear (refused: split it by selector).
  const byName = (n: number) => {
    const ids = nodeIds(n);
    const names = ids.map((_, i) => `mac-${String(i).padStart(5, '0')}.ams.acme.example`);
    return recordOf({ kind: 'nodes', names }, ids);
  };
  assert.equal(fitRecord(withClearing(byName(15_000), nodeIds(15_000)), limit)?.clearingUnlisted, true);
  assert.equal(fitRecord(byName(20_000), limit), undefined, `${recordBytes(byName(20_000))} B`);
  // The mark replaces a list and is dropped by a list.
  assert.deepEqual(withClearing(unlisted, ['nb']).clearing, ['nb']);
  assert.equal(withClearing(unlisted, ['nb']).clearingUnlisted, undefined);
  assert.equal(withClearing(recordOf(selector, []), [], true).clearingUnlisted, true);
});
