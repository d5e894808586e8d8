import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobRecord } from '../../desired/testing/fake-stores.ts';
import { clearingFacts } from './job-page.ts';

const record = jobRecord({
  label: 'com.acme.x',
  plist: '<plist/>',
  nodeIds: [],
  updatedAt: 5,
  deleted: true,
});

test('the job page names the nodes still to clear, escaped, at most 20', () => {
  assert.equal(clearingFacts(record).text.trim(), '', 'none: nothing shown');
  const ids = Array.from({ length: 22 }, (_, i) => `n${String(i).padStart(20, '0')}`);
  const out = clearingFacts({ ...record, clearing: [...ids.slice(0, 21), '<script>x</script>'] }).text;
  assert.match(out, /<dt>Still to clear<\/dt>/);
  assert.match(out, /22 nodes/);
  assert.match(out, /delete it again/);
  assert.match(out, new RegExp(`href="/nodes/${ids[0]}"`));
  assert.equal(out.split('href="/nodes/').length - 1, 20, '20 links');
  assert.match(out, /and 2 more/);
  const hostile = clearingFacts({ ...record, clearing: ['<script>alert(1)</script>'] }).text;
  assert.doesNotMatch(hostile, /<script>/);
  assert.match(hostile, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(clearingFacts({ ...record, deleted: false, clearingUnlisted: true }).text, /retry the apply/);
});
