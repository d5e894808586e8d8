import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCount, parseCounts, parseSeconds } from './rollout-args.ts';

test('counts: nodes and percentages; nonsense is an error naming the flag', () => {
  assert.deepEqual(parseCount('3', '--canary'), { ok: true, value: { nodes: 3 } });
  assert.deepEqual(parseCount('12.5%', '--canary'), { ok: true, value: { percent: 12.5 } });
  for (const bad of ['', '-1', '101%', 'x', '1e3', '%'])
    assert.match((parseCount(bad, '--canary') as { error: string }).error, /^--canary:/);
  assert.deepEqual(parseCounts('25%,50%, 100%', '--waves'), {
    ok: true,
    value: [{ percent: 25 }, { percent: 50 }, { percent: 100 }],
  });
  assert.equal(parseCounts(',', '--waves').ok, false);
  assert.equal(parseCounts('1,zz', '--waves').ok, false);
});

test('durations: units, bare seconds, bounds', () => {
  assert.deepEqual(parseSeconds('30s', '--min-healthy'), { ok: true, value: 30 });
  assert.deepEqual(parseSeconds('5m', '--deadline'), { ok: true, value: 300 });
  assert.deepEqual(parseSeconds('1.5', '--deadline'), { ok: true, value: 1.5 });
  assert.deepEqual(parseSeconds('500ms', '--deadline'), { ok: true, value: 0.5 });
  assert.equal(parseSeconds('8d', '--deadline').ok, false);
  assert.equal(parseSeconds('200h', '--deadline').ok, false);
  assert.equal(parseSeconds('soon', '--deadline').ok, false);
});
