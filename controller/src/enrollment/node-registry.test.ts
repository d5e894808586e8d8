import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NodeRecord, withCredentials } from './node-registry.ts';

const base: NodeRecord = {
  v: 1,
  nodeId: 'n' + 'a'.repeat(20),
  publicKey: 'U' + 'A'.repeat(55),
  hostname: 'h',
  inventory: {},
  tokenId: 't',
  enrolledAt: 1,
};
const issued = (issuedAt: number, expiresAt: number | undefined) => ({ issuedAt, expiresAt, issuer: 'A1' });

test('a fresh record: expiry, and every credential expires by then', () => {
  const r = withCredentials(base, issued(10, 100), true);
  assert.equal(r.credentialsExpireAt, 100);
  assert.equal(r.credentialsExpireBy, 100);
  assert.equal(r.credentialsIssuer, 'A1');
});

test('expireBy only ever moves later, even when a shorter lifetime is issued next', () => {
  const a = withCredentials(base, issued(10, 100), true);
  const b = withCredentials(a, issued(20, 60));
  assert.equal(b.credentialsExpireAt, 60, 'the latest JWT');
  assert.equal(b.credentialsExpireBy, 100, 'every JWT ever issued');
});

test('a record from before credentials expired never gets an expireBy (its revocation is never pruned)', () => {
  const legacy = withCredentials(base, issued(20, 60));
  assert.equal(legacy.credentialsExpireAt, 60);
  assert.equal(legacy.credentialsExpireBy, undefined);
  assert.equal(withCredentials(legacy, issued(30, 90)).credentialsExpireBy, undefined);
});

test('a JWT without expiry drops expireBy for good and clears the expiry', () => {
  const a = withCredentials(base, issued(10, 100), true);
  const never = withCredentials(a, issued(20, undefined));
  assert.equal(never.credentialsExpireAt, undefined);
  assert.equal(never.credentialsExpireBy, undefined);
  assert.equal(withCredentials(never, issued(30, 200)).credentialsExpireBy, undefined);
});
