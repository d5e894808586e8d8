/**
 * The nkey codec and native pairs on their own: RFC 4648 / CRC-16 check values, RFC 8032
 * Ed25519 vectors, and hostile seed text refused as values. Byte-for-byte agreement with
 * `@nats-io/nkeys` and `@nats-io/jwt` is tested in controller/src/identity/nats-jwts.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  base32Decode,
  base32Encode,
  crc16,
  decodePublicKey,
  decodeSeed,
  encodePublicKey,
  encodeSeed,
} from './nkey-codec.ts';
import { NativeKeyPair, createNativePair, nativeFromSeed } from './native-nkeys.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const text = (s: string) => new TextEncoder().encode(s);

describe('nkey codec', () => {
  test('check values: CRC-16/XMODEM and RFC 4648 base32', () => {
    assert.equal(crc16(text('123456789')), 0x31c3);
    assert.equal(crc16(new Uint8Array(0)), 0);
    for (const [plain, b32] of [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ] as const) {
      assert.equal(base32Encode(text(plain)), b32);
      assert.deepEqual(base32Decode(b32), text(plain));
    }
    assert.equal(base32Decode('MZ1W'), undefined);
    assert.equal(base32Decode('mzxw'), undefined);
    assert.equal(base32Decode('MZXé'), undefined);
  });

  test('seeds and public keys round-trip with their role letters', () => {
    for (const [role, letter] of [
      ['operator', 'O'],
      ['account', 'A'],
      ['user', 'U'],
      ['server', 'N'],
      ['cluster', 'C'],
    ] as const) {
      const raw = new Uint8Array(randomBytes(32));
      const seed = encodeSeed(role, raw);
      assert.ok(seed.ok);
      assert.equal(seed.value.length, 58);
      assert.equal(seed.value.slice(0, 2), `S${letter}`);
      const back = decodeSeed(seed.value);
      assert.ok(back.ok);
      assert.equal(back.value.role, role);
      assert.deepEqual(back.value.seed32, raw);
      const pub = encodePublicKey(role, raw);
      assert.equal(pub.length, 56);
      assert.equal(pub[0], letter);
      const pb = decodePublicKey(pub);
      assert.ok(pb.ok);
      assert.equal(pb.value.role, role);
      assert.deepEqual(pb.value.publicKey32, raw);
    }
    assert.equal(encodeSeed('user', new Uint8Array(31)).ok, false);
  });

  test('hostile seed text is refused as a value', () => {
    const good = encodeSeed('user', new Uint8Array(randomBytes(32)));
    assert.ok(good.ok);
    const flipped = good.value.slice(0, 10) + (good.value[10] === 'A' ? 'B' : 'A') + good.value.slice(11);
    const cases: [string, RegExp][] = [
      ['', /too short/],
      ['SU', /too short/],
      ['S'.repeat(10_000), /too long/],
      ['SUxyz!!!', /base32/],
      [flipped, /checksum/],
      [good.value.slice(0, -1), /./],
      [encodePublicKey('user', new Uint8Array(32)), /not an nkey seed/],
    ];
    for (const [input, why] of cases) {
      const r = decodeSeed(input);
      assert.equal(r.ok, false, input);
      if (!r.ok) assert.match(r.error, why, input);
      assert.equal(nativeFromSeed(input).ok, false, input);
    }
    // A curve seed (role byte 'X') cannot sign.
    const curve = encodeSeed('user', new Uint8Array(32));
    assert.ok(curve.ok);
    const raw = base32Decode(curve.value);
    assert.ok(raw);
    raw[0] = (18 << 3) | (184 >> 5);
    raw[1] = (184 & 31) << 3;
    const body = raw.subarray(0, 34);
    const sum = crc16(body);
    raw[34] = sum & 0xff;
    raw[35] = sum >> 8;
    const r = decodeSeed(base32Encode(raw));
    assert.deepEqual(r, { ok: false, error: 'curve keys cannot sign' });
  });
});

describe('native key pairs', () => {
  // RFC 8032 section 7.1, tests 1 and 2.
  const vectors = [
    {
      seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      msg: '',
      sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      msg: '72',
      sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
  ];

  test('RFC 8032 vectors: public key and signature', () => {
    for (const v of vectors) {
      const kp = NativeKeyPair.fromRaw('account', hex(v.seed));
      assert.ok(kp.ok);
      assert.equal(kp.value.getPublicKey(), encodePublicKey('account', hex(v.pub)));
      assert.equal(Buffer.from(kp.value.sign(hex(v.msg))).toString('hex'), v.sig);
      assert.equal(kp.value.verify(hex(v.msg), hex(v.sig)), true);
      const bad = hex(v.sig);
      bad[0] = (bad[0] ?? 0) ^ 1;
      assert.equal(kp.value.verify(hex(v.msg), bad), false);
      assert.equal(kp.value.verify(hex(v.msg), bad.subarray(1)), false);
    }
  });

  test('seed text in, same seed text out; a created pair loads back', () => {
    for (const role of ['operator', 'account', 'user'] as const) {
      const kp = createNativePair(role);
      assert.equal(kp.role, role);
      const seed = new TextDecoder().decode(kp.getSeed());
      const again = nativeFromSeed(`${seed}\n`);
      assert.ok(again.ok);
      assert.equal(again.value.getPublicKey(), kp.getPublicKey());
      assert.deepEqual(again.value.getSeed(), kp.getSeed());
      assert.equal(new TextDecoder().decode(kp.getPrivateKey())[0], 'P');
      const msg = new Uint8Array(randomBytes(100));
      assert.equal(again.value.verify(msg, kp.sign(msg)), true);
    }
    assert.notEqual(createNativePair('user').getPublicKey(), createNativePair('user').getPublicKey());
  });

  test('prints no secret; a cleared pair refuses to work', () => {
    const kp = createNativePair('user');
    const seed = new TextDecoder().decode(kp.getSeed());
    for (const shown of [String(kp), inspect(kp), JSON.stringify(kp), inspect({ kp })]) {
      assert.ok(!shown.includes(seed.slice(2, 20)), shown);
      assert.ok(shown.includes(kp.getPublicKey()), shown);
    }
    assert.throws(() => kp.seal(text('x'), 'X'), /curve/);
    kp.clear();
    assert.throws(() => kp.getPublicKey(), /cleared/);
    assert.throws(() => kp.sign(text('x')), /cleared/);
    assert.throws(() => kp.getSeed(), /cleared/);
    assert.ok(!inspect(kp).includes(seed.slice(2, 20)));
  });
});
