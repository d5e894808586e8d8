import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { canonicalJson } from './canonical.ts';
import { generateSigningKey, signingKeyFromPem, signingKeyToPem } from './keys.ts';
import type { JobBundle, SignedBundle } from './job-bundle.ts';
import { encodeSignedBundle, signBundle } from './sign.ts';
import { type AppliedVersion, bundleDigest, verifyBundle } from './verify.ts';
import {
  acceptTrustStore,
  encodeSignedTrustStore,
  initialTrustStore,
  signTrustStore,
} from './trust-store.ts';

const nodeA = `n${'a'.repeat(20)}`;
const nodeB = `n${'b'.repeat(20)}`;
const k1 = generateSigningKey();
const k2 = generateSigningKey();
const now = 1_800_000_000_000;
const trust = initialTrustStore([k1], now);
const plist =
  '<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>com.acme.x</string></dict></plist>';

function bundle(over: Partial<JobBundle> = {}): JobBundle {
  return {
    label: 'com.acme.x',
    domain: 'system',
    plist,
    version: 3,
    issuedAt: now - 1000,
    expiresAt: now + 3600_000,
    keyId: k1.keyId,
    nodeId: nodeA,
    ...over,
  };
}
const wire = (b: JobBundle, k = k1): string => encodeSignedBundle(signBundle(b, k));
const opts = { now, nodeId: nodeA };

test('canonical JSON: sorted keys, no whitespace, integers only', () => {
  assert.deepEqual(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } }), {
    ok: true,
    value: '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}',
  });
  assert.equal(canonicalJson({ a: 1.5 }).ok, false);
  assert.equal(canonicalJson({ a: -0 }).ok, false);
  assert.equal(canonicalJson({ a: new Date(0) }).ok, false);
  assert.equal(canonicalJson({ a: 1n }).ok, false);
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())), (o) => {
      const reordered = Object.fromEntries(Object.entries(o).reverse());
      assert.deepEqual(canonicalJson(o), canonicalJson(reordered));
    }),
  );
});

test('a signed bundle verifies; an identical re-delivery is accepted idempotently', () => {
  const w = wire(bundle());
  const r = verifyBundle(w, trust, opts);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.equal(r.duplicate, false);
  assert.equal(r.bundle.plist, plist, 'plist text kept exactly');
  assert.equal(r.digest, bundleDigest(r.bundle));
  const last = new Map<string, AppliedVersion>([['com.acme.x', { version: 3, digest: r.digest }]]);
  const again = verifyBundle(w, trust, { ...opts, lastVersionByLabel: last });
  assert.equal(again.ok && again.duplicate, true);
});

test('every refusal reason', () => {
  const good = signBundle(bundle(), k1);
  const tamper = (f: (s: SignedBundle) => unknown): string => JSON.stringify(f(structuredClone(good)));
  const applied = new Map<string, AppliedVersion>([['com.acme.x', { version: 3, digest: 'other' }]]);
  const cases: [string, string | Uint8Array, Parameters<typeof verifyBundle>[2], string][] = [
    ['unsigned', tamper((s) => ({ ...s, sig: undefined })), opts, 'unsigned'],
    ['empty signature', tamper((s) => ({ ...s, sig: { ...s.sig, value: '' } })), opts, 'unsigned'],
    ['not JSON', '{"v":1,', opts, 'malformed'],
    ['bad field', tamper((s) => ({ ...s, bundle: { ...s.bundle, version: 1.5 } })), opts, 'malformed'],
    ['unknown field', tamper((s) => ({ ...s, bundle: { ...s.bundle, extra: 1 } })), opts, 'malformed'],
    ['bad domain', tamper((s) => ({ ...s, bundle: { ...s.bundle, domain: 'gui/../x' } })), opts, 'malformed'],
    ['key id mismatch', tamper((s) => ({ ...s, sig: { ...s.sig, keyId: k2.keyId } })), opts, 'malformed'],
    ['unknown key', wire(bundle({ keyId: k2.keyId }), k2), opts, 'unknown-key'],
    [
      'tampered plist',
      tamper((s) => ({ ...s, bundle: { ...s.bundle, plist: s.bundle.plist + ' ' } })),
      opts,
      'bad-signature',
    ],
    [
      'tampered version',
      tamper((s) => ({ ...s, bundle: { ...s.bundle, version: 99 } })),
      opts,
      'bad-signature',
    ],
    [
      'garbage signature',
      tamper((s) => ({ ...s, sig: { ...s.sig, value: 'A'.repeat(86) } })),
      opts,
      'bad-signature',
    ],
    ['wrong node', wire(bundle({ nodeId: nodeB })), opts, 'wrong-node'],
    ['expired', wire(bundle({ issuedAt: now - 7200_000, expiresAt: now - 3600_000 })), opts, 'expired'],
    [
      'not yet valid',
      wire(bundle({ issuedAt: now + 3600_000, expiresAt: now + 7200_000 })),
      opts,
      'not-yet-valid',
    ],
    ['replayed', wire(bundle()), { ...opts, lastVersionByLabel: applied }, 'replayed'],
    ['older', wire(bundle({ version: 2 })), { ...opts, lastVersionByLabel: applied }, 'older-version'],
    ['oversized', wire(bundle({ plist: 'x'.repeat(200_000) })), { ...opts, maxBytes: 100_000 }, 'oversized'],
    ['label/key mismatch', wire(bundle()), { ...opts, expectedLabel: 'com.other' }, 'malformed'],
  ];
  for (const [name, data, o, reason] of cases) {
    const r = verifyBundle(data, trust, o);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.equal(r.reason, reason, `${name}: ${r.detail}`);
  }
  // A bundle this node applied before and has since superseded comes back: a replay.
  const v2 = signBundle(bundle({ version: 2 }), k1);
  const superseded = new Map<string, AppliedVersion>([
    ['com.acme.x', { version: 3, digest: 'current', superseded: [bundleDigest(v2.bundle)] }],
  ]);
  const replay = verifyBundle(encodeSignedBundle(v2), trust, { ...opts, lastVersionByLabel: superseded });
  assert.equal(!replay.ok && replay.reason, 'replayed');
  const revoked = { ...trust, revoked: [k1.keyId] };
  const r = verifyBundle(wire(bundle()), revoked, opts);
  assert.equal(!r.ok && r.reason, 'revoked-key');
});

test('clock skew: within maxSkewMs is tolerated on both ends', () => {
  const w = wire(bundle({ issuedAt: now + 30_000, expiresAt: now + 60_000 }));
  assert.equal(verifyBundle(w, trust, { ...opts, maxSkewMs: 60_000 }).ok, true);
  assert.equal(verifyBundle(w, trust, { ...opts, maxSkewMs: 10_000 }).ok, false);
});

test('signBundle refuses what no agent would accept', () => {
  assert.throws(() => signBundle(bundle({ keyId: k2.keyId }), k1), /not the signing key/);
  assert.throws(() => signBundle(bundle({ domain: 'nowhere' }), k1), /domain/);
  assert.throws(() => signBundle(bundle({ expiresAt: now - 5000 }), k1), /after issuedAt/);
});

test('no private key material in a signed bundle or in an inspected key', () => {
  const w = wire(bundle());
  const pem = signingKeyToPem(k1);
  const der = k1.privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = der.subarray(der.length - 32);
  for (const needle of [seed.toString('base64'), seed.toString('base64url'), seed.toString('hex'), pem]) {
    assert.ok(!w.includes(needle));
    assert.ok(!inspect(k1, { depth: 5 }).includes(needle));
    assert.ok(!JSON.stringify(k1).includes(needle));
  }
  const back = signingKeyFromPem(pem);
  assert.equal(back.ok && back.value.keyId, k1.keyId);
  assert.equal(signingKeyFromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----').ok, false);
});

test('trust store rotation: add new key, sign with it, retire the old one, revoke', () => {
  const v1 = encodeSignedTrustStore(signTrustStore(trust, k1));
  const first = acceptTrustStore(v1, undefined, { pinnedKeyIds: [k1.keyId] });
  assert.equal(first.ok, true);
  assert.equal(
    acceptTrustStore(v1, undefined, { pinnedKeyIds: [k2.keyId] }).ok,
    false,
    'unpinned first store',
  );
  const s2 = { ...trust, version: 2, keys: [...trust.keys, { keyId: k2.keyId, publicKey: k2.publicKey }] };
  const up2 = acceptTrustStore(encodeSignedTrustStore(signTrustStore(s2, k1)), trust);
  assert.equal(up2.ok, true);
  // A bundle signed with the new key now verifies.
  assert.equal(verifyBundle(wire(bundle({ keyId: k2.keyId }), k2), s2, opts).ok, true);
  const s3 = { ...s2, version: 3, keys: [{ keyId: k2.keyId, publicKey: k2.publicKey }], revoked: [k1.keyId] };
  assert.equal(acceptTrustStore(encodeSignedTrustStore(signTrustStore(s3, k2)), s2).ok, true);
  // Old key now refused.
  const old = verifyBundle(wire(bundle()), s3, opts);
  assert.equal(!old.ok && old.reason, 'revoked-key');
  // An attacker's key cannot add itself, even with a higher version.
  const evil = generateSigningKey();
  const s4 = { ...s3, version: 4, keys: [...s3.keys, { keyId: evil.keyId, publicKey: evil.publicKey }] };
  const forged = acceptTrustStore(encodeSignedTrustStore(signTrustStore(s4, evil)), s3);
  assert.equal(!forged.ok && forged.reason, 'unknown-key');
  // The revoked key cannot sign updates either.
  const byRevoked = acceptTrustStore(encodeSignedTrustStore(signTrustStore(s4, k1)), s3);
  assert.equal(!byRevoked.ok && byRevoked.reason, 'revoked-key');
  // Rollback to an older version is refused; an identical re-delivery is unchanged.
  const back = acceptTrustStore(encodeSignedTrustStore(signTrustStore(s2, k2)), s3);
  assert.equal(!back.ok && back.reason, 'older-version');
  const same = acceptTrustStore(encodeSignedTrustStore(signTrustStore(s3, k2)), s3);
  assert.equal(same.ok && same.unchanged, true);
});

test('trust store: malformed stores and cross-context signatures are refused', () => {
  const signed = signTrustStore(trust, k1);
  const bad = (o: unknown) => acceptTrustStore(JSON.stringify(o), trust);
  const badKeyId = {
    ...signed,
    store: { ...trust, version: 2, keys: [{ keyId: k2.keyId, publicKey: k1.publicKey }] },
  };
  assert.equal(bad(badKeyId).ok, false);
  const unsigned = bad({ ...signed, sig: undefined });
  assert.equal(!unsigned.ok && unsigned.reason, 'unsigned');
  assert.equal(acceptTrustStore('x'.repeat(70_000), trust).ok, false);
  // A bundle signature reused as a trust-store signature fails (domain separation).
  const b = signBundle(bundle(), k1);
  const swapped = { ...signTrustStore({ ...trust, version: 9 }, k1), sig: b.sig };
  const r = acceptTrustStore(JSON.stringify(swapped), trust);
  assert.equal(!r.ok && r.reason, 'bad-signature');
});

test('verifyBundle never throws on arbitrary input (property)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string(), fc.uint8Array({ maxLength: 300 })), (input) => {
      const r = verifyBundle(input, trust, opts);
      assert.equal(r.ok, false);
    }),
  );
});
