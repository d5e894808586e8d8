/**
 * A rollout's version allocation (job-versions.ts) over fake buckets: it carries the nodes still
 * to clear on, says `clearingUnlisted` when they no longer fit beside the target, and refuses a
 * record too large even without them before writing (job-record.ts, the size limit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import { parseJobRecord } from '../desired/job-record.ts';
import { FakeKv, jobRecordJson } from '../desired/testing/fake-stores.ts';
import { JobVersions } from './job-versions.ts';

const label = 'com.acme.rolled';
const plist = '<plist/>';
const id = (c: string) => `n${c.repeat(20)}`;

function versionsOver(clearing: readonly string[], limit: number) {
  const jobs = new FakeKv();
  jobs.maxValueBytes = limit;
  jobs.seed(keys.job(label), jobRecordJson({ label, plist, nodeIds: [id('a')], updatedAt: 1, clearing }));
  const versions = new JobVersions(new FakeKv().kv, jobs.kv, () => limit);
  const allocate = (nodeIds: string[]) =>
    versions.allocate({ label, domain: 'system', plist, target: { kind: 'all' }, nodeIds, at: 2, by: 'op' });
  const record = () => parseJobRecord(jobs.value(keys.job(label)) ?? '');
  return { jobs, allocate, record };
}

test('a rollout version carries the nodes to clear on, unlisted once they do not fit', async () => {
  const roomy = versionsOver([id('c'), id('d')], 100_000);
  await roomy.allocate([id('b'), id('c')]);
  assert.deepEqual(roomy.record()?.clearing, [id('d')], 'the node it writes is no longer to clear');

  // Room for the target (a and b, the union written) and the mark, not for two more ids.
  const base = jobRecordJson({ label, plist, nodeIds: [id('a'), id('b')], updatedAt: 2, version: 4 });
  const tight = versionsOver([id('c'), id('d')], Buffer.byteLength(base) + 40);
  const v = await tight.allocate([id('b')]);
  assert.equal(v.version, 4);
  assert.equal(tight.record()?.clearing, undefined);
  assert.equal(tight.record()?.clearingUnlisted, true, 'the nodes are found by listing keys');
  await tight.allocate([id('b')]);
  assert.equal(tight.record()?.clearingUnlisted, true, 'and stay so for the next version');
});

test('a rollout version whose record cannot fit is refused before it is written', async () => {
  const base = jobRecordJson({ label, plist, nodeIds: [id('a')], updatedAt: 1 });
  const f = versionsOver([], Buffer.byteLength(base) + 10);
  await assert.rejects(f.allocate([id('b'), id('c')]), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, String(e));
    assert.match(e.message, /3 target nodes.*max_payload.*nothing was written/);
    return true;
  });
  assert.equal(f.record()?.version, 3);
  assert.deepEqual(f.jobs.calls, [`get ${keys.job(label)}`]);
});
