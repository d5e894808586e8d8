/**
 * The re-sign plan: which stored bundles another key signed, grouped so one new version is
 * taken per (label, old version), and the bundle that replaces each (same content, new number).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobBundle } from '@launchfleet/shared/signing';
import { groupForResign, needsResign, resignedBundle } from './resign-plan.ts';

const b = (o: Partial<JobBundle>): JobBundle => ({
  label: 'com.acme.a',
  domain: 'system',
  plist: '<plist/>',
  version: 3,
  issuedAt: 1000,
  expiresAt: 1000 + 3600_000,
  keyId: 'k-0000000000000001',
  nodeId: 'n1',
  ...o,
});
const s = (o: Partial<JobBundle>) => ({ nodeId: o.nodeId ?? 'n1', bundle: b(o), entry: o.nodeId ?? 'n1' });

test('resign plan: bundles the active key signed are left alone', () => {
  assert.equal(needsResign(b({ keyId: 'k-a' }), 'k-a'), false);
  assert.equal(needsResign(b({ keyId: 'k-b' }), 'k-a'), true);
  assert.equal(needsResign(b({ keyId: 'k-b' }), 'k-a', new Set(['k-c'])), false, 'only the keys named');
  assert.deepEqual(groupForResign([s({ keyId: 'k-a' })], 'k-a'), []);
});

test('resign plan: one group per label and old version, nodes sorted', () => {
  const groups = groupForResign(
    [
      s({ nodeId: 'n2', keyId: 'k-old' }),
      s({ nodeId: 'n1', keyId: 'k-old' }),
      s({ nodeId: 'n3', version: 4, plist: '<plist>4</plist>', keyId: 'k-old' }),
      s({ nodeId: 'n1', label: 'com.acme.0', version: 9, keyId: 'k-older' }),
      s({ nodeId: 'n4', keyId: 'k-new' }),
    ],
    'k-new',
  );
  assert.deepEqual(
    groups.map((g) => [g.label, g.fromVersion, g.plist, g.items.map((i) => i.nodeId)]),
    [
      ['com.acme.0', 9, '<plist/>', ['n1']],
      ['com.acme.a', 3, '<plist/>', ['n1', 'n2']],
      ['com.acme.a', 4, '<plist>4</plist>', ['n3']],
    ],
  );
});

test('resign plan: the new bundle keeps content and validity, takes the new version and key', () => {
  const old = b({ issuedAt: 5000, expiresAt: 5000 + 7 * 86_400_000 });
  assert.deepEqual(resignedBundle(old, 8, 10_000, 'k-new'), {
    ...old,
    version: 8,
    issuedAt: 10_000,
    expiresAt: 10_000 + 7 * 86_400_000,
    keyId: 'k-new',
  });
  assert.equal(resignedBundle(b({ expiresAt: 1000 }), 8, 0, 'k').expiresAt, 60_000, 'at least a minute');
});
