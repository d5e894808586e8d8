import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RenewRequest } from '@launchfleet/shared/messages';
import { type RenewalInput, decideRenewal } from './renewal-decision.ts';

const key = `U${'A'.repeat(55)}`;
const other = `U${'B'.repeat(55)}`;
const now = 1_000_000_000;
const request: RenewRequest = {
  nodeId: 'n' + 'a'.repeat(20),
  publicKey: key,
  requestedAt: now,
  signature: 'x',
};
const base: RenewalInput = {
  request,
  subjectNodeId: request.nodeId,
  record: { publicKey: key, lastRenewalRequestAt: now - 60_000 },
  signatureValid: (k) => k === key,
  now,
  maxSkewMs: 300_000,
};
const reason = (i: Partial<RenewalInput>) => {
  const d = decideRenewal({ ...base, ...i });
  return d.grant ? 'grant' : d.refusal;
};

test('a signed, fresh, later request of a registered, unrevoked node is granted', () => {
  assert.equal(reason({}), 'grant');
  assert.equal(reason({ record: { publicKey: key } }), 'grant', 'first renewal');
});

test('each check refuses with its own reason', () => {
  const cases: [string, Partial<RenewalInput>, string][] = [
    ['subject of another node', { subjectNodeId: 'n' + 'b'.repeat(20) }, 'invalid-request'],
    ['unknown node', { record: undefined }, 'unknown-node'],
    ['another key', { request: { ...request, publicKey: other } }, 'wrong-key'],
    ['signed by another key', { signatureValid: () => false }, 'bad-signature'],
    ['too old', { request: { ...request, requestedAt: now - 300_001 } }, 'stale'],
    ['from the future', { request: { ...request, requestedAt: now + 300_001 } }, 'stale'],
    ['the same request again', { record: { publicKey: key, lastRenewalRequestAt: now } }, 'replayed'],
    ['an older one', { record: { publicKey: key, lastRenewalRequestAt: now + 1 } }, 'replayed'],
    ['revoked', { record: { publicKey: key, revokedAt: now - 1 } }, 'revoked'],
  ];
  for (const [what, input, want] of cases) assert.equal(reason(input), want, what);
});

test('no proof of the key, nothing learnt: a revoked node with a bad signature reads bad-signature', () => {
  assert.equal(
    reason({ record: { publicKey: key, revokedAt: 1 }, signatureValid: () => false }),
    'bad-signature',
  );
  assert.equal(
    reason({ record: { publicKey: key, revokedAt: 1 }, request: { ...request, publicKey: other } }),
    'wrong-key',
  );
});

test('the signature is checked against the registered key, not the one the request names', () => {
  let asked = '';
  decideRenewal({ ...base, signatureValid: (k) => ((asked = k), true) });
  assert.equal(asked, key);
});
