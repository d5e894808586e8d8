import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTarget, type TargetCandidate } from './resolve-target.ts';

const A = 'naaaaaaaaaaaaaaaaaaaa';
const B = 'nbbbbbbbbbbbbbbbbbbbb';
const C = 'ncccccccccccccccccccc';
const D = 'ndddddddddddddddddddd';
const nodes: TargetCandidate[] = [
  { nodeId: B, hostname: 'mac-b', labels: { os: 'macos', site: 'ams' }, registered: true, revoked: false },
  { nodeId: A, hostname: 'mac-a', labels: { os: 'macos', site: 'fra' }, registered: true, revoked: false },
  { nodeId: C, hostname: 'lin-c', labels: { os: 'linux' }, registered: true, revoked: true },
  { nodeId: D, hostname: 'mac-a', labels: { os: 'macos' }, registered: false, revoked: false },
];

test('all and selectors pick registered, non-revoked nodes, sorted', () => {
  const all = resolveTarget({ kind: 'all' }, nodes);
  assert.ok(all.ok);
  assert.deepEqual(all.value.nodeIds, [A, B]);
  const mac = resolveTarget({ kind: 'selector', selector: 'os = macos, site!=ams' }, nodes);
  assert.ok(mac.ok);
  assert.deepEqual(mac.value.nodeIds, [A]);
  assert.deepEqual(mac.value.target, { kind: 'selector', selector: 'os=macos,site!=ams' });
  const none = resolveTarget({ kind: 'selector', selector: 'os=windows' }, nodes);
  assert.ok(none.ok);
  assert.deepEqual(none.value.nodeIds, []);
  const bad = resolveTarget({ kind: 'selector', selector: '' }, nodes);
  assert.ok(!bad.ok);
  assert.match(bad.error, /empty selector/);
});

test('named nodes: ids or hostnames; unknown, ambiguous and revoked names are errors', () => {
  const r = resolveTarget({ kind: 'nodes', names: [B, 'mac-b', A] }, nodes);
  assert.ok(r.ok);
  assert.deepEqual(r.value.nodeIds, [A, B]);
  for (const [names, re] of [
    [['nope'], /unknown node "nope"/],
    [['mac-a'], /ambiguous/],
    [[C], /revoked/],
    [[D], /not enrolled/],
    [[], /no nodes named/],
  ] as const) {
    const x = resolveTarget({ kind: 'nodes', names }, nodes);
    assert.ok(!x.ok, names.join());
    assert.match(x.error, re);
  }
});
