import { test } from 'node:test';
import assert from 'node:assert/strict';
import { href, paginate, parsePage } from './query.ts';
import { duration } from './format.ts';

test('paging is bounded and a page past the end shows the last one', () => {
  assert.deepEqual(parsePage(new URLSearchParams('page=3&size=25')), { page: 3, size: 25 });
  assert.deepEqual(parsePage(new URLSearchParams('page=-1&size=100000')), { page: 1, size: 50 });
  assert.deepEqual(parsePage(new URLSearchParams('page=abc')), { page: 1, size: 50 });
  const items = Array.from({ length: 10_001 }, (_, i) => i);
  const p = paginate(items, { page: 999, size: 200 });
  assert.equal(p.pages, 51);
  assert.equal(p.page, 51);
  assert.deepEqual(p.items, [10_000]);
  assert.equal(paginate([], { page: 1, size: 50 }).pages, 1);
});

test('hrefs encode every segment and parameter', () => {
  assert.equal(
    href(['jobs', 'com.acme/<x>'], { state: 'running', q: '' }),
    '/jobs/com.acme%2F%3Cx%3E?state=running',
  );
  assert.equal(
    href(['nodes'], { sel: 'site=ams,role in (a b)' }),
    '/nodes?sel=site%3Dams%2Crole+in+%28a+b%29',
  );
});

test('durations read like a person would say them', () => {
  assert.equal(duration(42_000), '42 s');
  assert.equal(duration(5 * 60_000), '5 min');
  assert.equal(duration(5 * 3600_000 + 120_000), '5 h 2 min');
  assert.equal(duration(-1), 'never');
});
