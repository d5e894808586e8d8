/**
 * The controller's native Ed25519 nkey pairs against the reference libraries: for many seeds
 * of every role the controller uses, the same public key, private key, seed and signatures
 * as `@nats-io/nkeys`; JWTs and creds that `@nats-io/jwt` decodes and verifies. That a real
 * nats-server accepts them is shown by the integration tests (control-enroll, control-*).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createAccount,
  createOperator,
  createUser,
  fromPublic,
  fromSeed,
  type KeyPair,
} from '@nats-io/nkeys';
import { type ClaimsData, type User, decode, encodeUser, parseCreds } from '@nats-io/jwt';
import { createNativePair, nativeFromSeed } from '@launchfleet/shared/native-nkeys';
import {
  fleetAccountJwt,
  freshUserCreds,
  operatorJwt,
  preloadIssuedAt,
  systemAccountJwt,
  userJwt,
  withIssuedAt,
} from './nats-jwts.ts';
import { NatsIdentity } from './nats-identity.ts';
import { nodePermissions } from './permissions.ts';

const roles = [
  ['operator', createOperator],
  ['account', createAccount],
  ['user', createUser],
] as const;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('native nkey pairs match @nats-io/nkeys byte for byte', () => {
  // nkeys costs several ms per call here (pure JavaScript), so: many seeds with the public key
  // and one signature each, and a few seeds with everything.
  for (const [role, create] of roles) {
    test(`${role}: public key and signature for 30 nkeys seeds and 30 native seeds`, () => {
      const check = (js: KeyPair, native: KeyPair, i: number) => {
        assert.equal(native.getPublicKey(), js.getPublicKey());
        const msg = new Uint8Array(randomBytes(i * 7));
        assert.ok(same(native.sign(msg), js.sign(msg)), `signature of ${msg.length} bytes`);
      };
      for (let i = 0; i < 30; i++) {
        const js = create();
        const native = nativeFromSeed(js.getSeed());
        assert.ok(native.ok);
        check(js, native.value, i);
        const made = createNativePair(role);
        check(fromSeed(made.getSeed()), made, i);
      }
    });

    test(`${role}: seed, private key, signatures of any length and cross-verification`, () => {
      for (let i = 0; i < 3; i++) {
        const js = create();
        const native = nativeFromSeed(js.getSeed());
        assert.ok(native.ok);
        const n = native.value;
        assert.equal(n.getPublicKey(), js.getPublicKey());
        assert.ok(same(n.getSeed(), js.getSeed()));
        assert.ok(same(n.getPrivateKey(), js.getPrivateKey()));
        for (const len of [0, 1, 1000]) {
          const msg = new Uint8Array(randomBytes(len));
          const sig = n.sign(msg);
          assert.ok(same(sig, js.sign(msg)), `signature of ${len} bytes`);
          assert.ok(js.verify(msg, sig));
          assert.ok(fromPublic(n.getPublicKey()).verify(msg, sig));
          assert.ok(n.verify(msg, sig));
          if (len > 0) {
            const other = new Uint8Array(msg);
            other[0] = (other[0] ?? 0) ^ 0x80;
            assert.equal(n.verify(other, sig), false);
          }
        }
      }
    });
  }
});

describe('JWTs signed by native pairs', () => {
  test('operator, account and user JWTs decode and verify with @nats-io/jwt', async () => {
    const operator = createNativePair('operator');
    const system = createNativePair('account');
    const account = createNativePair('account');
    const node = createUser();

    const op = decode<{ system_account: string }>(await operatorJwt(operator, system.getPublicKey()));
    assert.equal(op.iss, operator.getPublicKey());
    assert.equal(op.sub, operator.getPublicKey());
    assert.equal(op.nats.system_account, system.getPublicKey());

    const sys = decode(await systemAccountJwt(system, operator));
    assert.equal(sys.iss, operator.getPublicKey());
    assert.equal(sys.sub, system.getPublicKey());

    const acc = decode<{ revocations: Record<string, number> }>(
      await fleetAccountJwt(account, operator, { [node.getPublicKey()]: 1234 }),
    );
    assert.equal(acc.iss, operator.getPublicKey());
    assert.deepEqual(acc.nats.revocations, { [node.getPublicKey()]: 1234 });

    const user = decode<Partial<User>>(
      await userJwt(node.getPublicKey(), account, { name: 'n1', permissions: nodePermissions('n1') }),
    );
    assert.equal(user.iss, account.getPublicKey());
    assert.equal(user.sub, node.getPublicKey());
    assert.deepEqual(user.nats.pub?.allow, [...nodePermissions('n1').pub.allow]);
  });

  test('account signing keys: listed in the account JWT; a user JWT they sign names the account', async () => {
    const operator = createNativePair('operator');
    const account = createNativePair('account');
    const signer = createNativePair('account');
    const node = createUser();
    const acc = decode<{ signing_keys?: string[] }>(
      await fleetAccountJwt(account, operator, {}, [signer.getPublicKey()]),
    );
    assert.deepEqual(acc.nats.signing_keys, [signer.getPublicKey()]);
    assert.equal(
      decode<{ signing_keys?: string[] }>(await fleetAccountJwt(account, operator, {})).nats.signing_keys,
      undefined,
    );
    const jwt = await userJwt(node.getPublicKey(), account, { name: 'n1' }, signer);
    const user = decode<Partial<User> & { issuer_account?: string }>(jwt);
    assert.equal(user.iss, signer.getPublicKey());
    assert.equal(user.nats.issuer_account, account.getPublicKey());
    const [h, b, sig] = jwt.split('.') as [string, string, string];
    assert.ok(
      fromPublic(signer.getPublicKey()).verify(
        new TextEncoder().encode(`${h}.${b}`),
        Buffer.from(sig, 'base64url'),
      ),
    );
    // Signed by the account key itself: no issuer_account.
    const own = decode<Partial<User>>(await userJwt(node.getPublicKey(), account, { name: 'n1' }, account));
    assert.equal(own.iss, account.getPublicKey());
    assert.equal(own.nats.issuer_account, undefined);
  });

  test('NatsIdentity with an active signing key: nodes get JWTs it signs; controller and enroll users the account key', async () => {
    const keys = {
      operator: createNativePair('operator'),
      system: createNativePair('account'),
      account: createNativePair('account'),
    };
    const signer = createNativePair('account');
    const id = new NatsIdentity({ ...keys, accountSigningKeys: [signer.getPublicKey()], userSigner: signer });
    assert.equal(id.nodeSignerPublicKey, signer.getPublicKey());
    const node = createUser();
    const c = await id.nodeCredentials('n1', node.getPublicKey(), Date.now() + 60_000);
    assert.equal(c.issuer, signer.getPublicKey());
    assert.equal(decode(c.jwt).iss, signer.getPublicKey());
    for (const creds of [await id.controllerCreds(), await id.enrollCreds()])
      assert.equal(decode((await parseCreds(creds)).jwt).iss, keys.account.getPublicKey());
    const acc = decode<{ signing_keys?: string[] }>(await id.accountJwt({}));
    assert.deepEqual(acc.nats.signing_keys, [signer.getPublicKey()]);
    assert.equal(new NatsIdentity(keys).nodeSignerPublicKey, keys.account.getPublicKey());
  });

  test('a JWT made with the nkeys pair and one made with the native pair differ only in time', async () => {
    const js = createAccount();
    const native = nativeFromSeed(js.getSeed());
    assert.ok(native.ok);
    const subject = createUser().getPublicKey();
    // Same second, same claims, same key: Ed25519 is deterministic, so the JWTs are identical.
    for (let tries = 0; ; tries++) {
      const t = Math.floor(Date.now() / 1000);
      const [a, b] = [await encodeUser('u', subject, js), await encodeUser('u', subject, native.value)];
      if (Math.floor(Date.now() / 1000) !== t && tries < 5) continue;
      assert.equal(b, a);
      break;
    }
  });

  test('a forged or altered JWT fails verification', async () => {
    const account = createNativePair('account');
    const jwt = await userJwt(createUser().getPublicKey(), account, { name: 'x' });
    const [h, p, s] = jwt.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as ClaimsData<unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, name: 'y' })).toString('base64url');
    assert.throws(() => decode(`${h}.${altered}.${s}`), /sig verification failed/);
  });

  test('fresh creds: a native user seed that nkeys reads, bound to the JWT subject', async () => {
    const account = createNativePair('account');
    const creds = await freshUserCreds(account, { name: 'controller' });
    const parsed = await parseCreds(creds);
    assert.equal(parsed.key.slice(0, 2), 'SU');
    const user = fromSeed(new TextEncoder().encode(parsed.key));
    assert.equal(parsed.uc.sub, user.getPublicKey());
    assert.equal(parsed.uc.iss, account.getPublicKey());
    assert.equal(parsed.aid, account.getPublicKey());
  });

  test('withIssuedAt: the same claims at another iat, a valid signature, the same text every time', async () => {
    const operator = createNativePair('operator');
    const account = createNativePair('account');
    const jwt = await fleetAccountJwt(account, operator, { [createUser().getPublicKey()]: 5 });
    const old = withIssuedAt(jwt, preloadIssuedAt, operator);
    const claims = decode<unknown>(old);
    assert.equal(claims.iat, preloadIssuedAt);
    const { iat: _a, jti: _b, ...before } = decode<unknown>(jwt);
    const { iat: _c, jti: _d, ...after } = claims;
    assert.deepEqual(after, before);
    assert.equal(withIssuedAt(jwt, preloadIssuedAt, operator), old, 'deterministic');
    assert.throws(() => withIssuedAt(jwt, 1, createNativePair('operator')), /signed by another key/);
  });

  test('serverAuthConfig: the full resolver, preloads at the fixed iat, the same text on every call', async () => {
    const keys = {
      operator: createNativePair('operator'),
      system: createNativePair('account'),
      account: createNativePair('account'),
    };
    const id = new NatsIdentity(keys);
    const text = await id.serverAuthConfig({ resolverDir: '/data/jwt' });
    assert.match(text, /^resolver: \{\n {2}type: full\n {2}dir: "\/data\/jwt"\n {2}allow_delete: false\n/m);
    const jwts = [...text.matchAll(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g)].map((m) => decode<unknown>(m[0]));
    assert.equal(jwts.length, 3, 'operator, SYS, LF');
    assert.ok(jwts.every((c) => c.iat === preloadIssuedAt));
    assert.equal(await id.serverAuthConfig({ resolverDir: '/data/jwt' }), text);
    await assert.rejects(id.serverAuthConfig({ resolverDir: 'a"b' }), /unusable resolver directory/);
  });
});
