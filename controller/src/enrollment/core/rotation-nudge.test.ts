import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NudgeCandidate, countOtherSigner, nodesToRenewForSigner, nudgeBody } from './rotation-nudge.ts';

const now = 1_000_000;
const node = (nodeId: string, o: Partial<NudgeCandidate> = {}): NudgeCandidate => ({
  nodeId,
  registered: true,
  revokedAt: undefined,
  credentials: { expiresAt: now + 60_000, issuer: 'AOLD' },
  ...o,
});

test('only registered, unrevoked nodes holding renewable credentials from another key are asked', () => {
  const nodes = [
    node('n-b'),
    node('n-a'),
    node('current', { credentials: { expiresAt: now + 60_000, issuer: 'ANEW' } }),
    node('revoked', { revokedAt: now - 1 }),
    node('unregistered', { registered: false }),
    node('never-expires', { credentials: { expiresAt: undefined, issuer: 'AOLD' } }),
    node('expired', { credentials: { expiresAt: now, issuer: 'AOLD' } }),
    node('no-issuer', { credentials: { expiresAt: now + 60_000, issuer: undefined } }),
    node('no-credentials', { credentials: undefined }),
  ];
  assert.deepEqual(nodesToRenewForSigner(nodes, 'ANEW', now), ['n-a', 'n-b']);
  assert.deepEqual(nodesToRenewForSigner(nodes, 'AOLD', now), ['current']);
  // The gauge counts the same nodes, and those that can only come back by re-enrolment.
  assert.deepEqual(countOtherSigner(nodes, 'ANEW', now), { renewable: 2, expired: 1, unrenewable: 1 });
  assert.deepEqual(countOtherSigner(nodes, 'AOLD', now), { renewable: 1, expired: 0, unrenewable: 0 });
});

test('the nudge body carries a whole, non-negative spread', () => {
  const body = (ms: number) => JSON.parse(new TextDecoder().decode(nudgeBody(ms))) as unknown;
  assert.deepEqual(body(3_600_000), { withinMs: 3_600_000 });
  assert.deepEqual(body(-5), { withinMs: 0 });
  assert.deepEqual(body(1.6), { withinMs: 2 });
});
