/**
 * `launchfleet-controller keys ...` on a real key store in a temporary directory: each action
 * changes the store as it says, prints no private key, and bad input (no store, an unknown or
 * active key, a missing argument) is refused with exit code 2 and the store left as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../identity/key-store.ts';
import { keysCommand } from './keys-command.ts';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await keysCommand(argv, {
    stdout: (t) => {
      out += t;
      return Promise.resolve();
    },
    stderr: (t) => {
      err += t;
      return Promise.resolve();
    },
  });
  return { code, out, err };
}

async function withStore(fn: (dir: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'lf-keys-cmd-'));
  try {
    const dir = join(base, 'ks');
    await KeyStore.open(dir);
    await fn(dir);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

test('keys: add, activate, list and retire account signing and job-signing keys', () =>
  withStore(async (dir) => {
    const added = await run(['add-account-signing-key', '--activate', '--keys', dir]);
    assert.equal(added.code, 0, added.err);
    const s1 = /account signing key (A[A-Z2-7]{55}) \(active\)/.exec(added.out)?.[1] ?? '';
    assert.ok(s1, added.out);
    assert.match(added.out, /takes effect when the controllers restart/);
    const s2 = /(A[A-Z2-7]{55})/.exec((await run(['add-account-signing-key', '--keys', dir])).out)?.[1] ?? '';
    assert.equal((await run(['activate-account-signing-key', s2, '--keys', dir])).code, 0);
    const retired = await run(['retire-account-signing-key', s1, '--keys', dir]);
    assert.equal(retired.code, 0, retired.err);
    assert.match(retired.out, /user JWTs it signed will be refused/);
    const k2 = /job-signing key (\S+) \(active\)/.exec(
      (await run(['add-signing-key', '--activate', '--keys', dir])).out,
    )?.[1];
    assert.ok(k2);
    const list = await run(['list', '--keys', dir]);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, new RegExp(`account signing key ${s2}  \\(active\\)`));
    assert.doesNotMatch(list.out, new RegExp(s1));
    assert.match(list.out, new RegExp(`job-signing key ${k2}  \\(active\\)`));
    const ks = await KeyStore.open(dir);
    assert.deepEqual(ks.accountSigningKeys(), { keys: [s2], active: s2 });
    assert.equal(ks.activeSigningKey().keyId, k2);
    const old = ks.signingKeys().find((k) => k.keyId !== k2)?.keyId ?? '';
    assert.equal((await run(['retire-signing-key', old, '--keys', dir])).code, 0);
    assert.deepEqual(
      (await KeyStore.open(dir)).signingKeys().map((k) => k.keyId),
      [k2],
    );
    for (const r of [added, retired, list])
      assert.doesNotMatch(r.out, /\bS[AOU][A-Z2-7]{50,}/, 'no seed printed');
  }));

test('keys: bad input is refused with exit code 2 and changes nothing', () =>
  withStore(async (dir) => {
    const before = async () =>
      [
        ...(await readdir(join(dir, 'nats'), { recursive: true })),
        ...(await readdir(join(dir, 'signing'))),
      ].sort();
    const files = await before();
    const active = (await KeyStore.open(dir)).activeSigningKey().keyId;
    for (const [argv, re] of [
      [['list'], /--keys DIR \(or --config FILE\) is required/],
      [['--keys', dir], /an action is required/],
      [['rotate-everything', '--keys', dir], /unknown action/],
      [['retire-signing-key', active, '--keys', dir], /active signing key/],
      [['retire-signing-key', '--keys', dir], /needs the key id/],
      [['activate-account-signing-key', 'ANOPE', '--keys', dir], /no account signing key/],
      [['list', '--keys', join(dir, 'nats')], /is not a key store/],
      [['list', 'extra', 'more', '--keys', dir], /unexpected/],
      [['revoke-signing-key', '--keys', dir], /needs the key id/],
      [
        ['revoke-signing-key', 'k-0123456789abcdef', '--keys', dir],
        /no signing key k-0123456789abcdef \(held: /,
      ],
      [['revoke-signing-key', '../../etc/passwd', '--keys', dir], /is no key id/],
      [
        ['revoke-signing-key', active, '--keys', dir],
        /active signing key and the only one: name its replacement/,
      ],
      [['revoke-signing-key', active, '--replacement', active, '--keys', dir], /cannot replace itself/],
      [
        ['revoke-signing-key', active, '--replacement', 'k-nope', '--keys', dir],
        /no signing key k-nope to activate/,
      ],
      [
        ['retire-signing-key', active, '--replacement', 'new', '--keys', dir],
        /--replacement goes with revoke/,
      ],
      [['resign-jobs', '--keys', dir], /resign-jobs needs --config FILE/],
      [['list', '--config', join(dir, 'no-such.json')], /no-such\.json/],
    ] as const) {
      const r = await run([...argv]);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, re);
    }
    assert.deepEqual(await before(), files);
  }));

test('keys: revoke-signing-key revokes for good, with a replacement for the active key', () =>
  withStore(async (dir) => {
    const k1 = (await KeyStore.open(dir)).activeSigningKey().keyId;
    const k2 =
      /job-signing key ([^\s;]+)/.exec((await run(['add-signing-key', '--keys', dir])).out)?.[1] ?? '';
    // A held key that is not active: revoked at once, no replacement needed.
    const r2 = await run(['revoke-signing-key', k2, '--keys', dir]);
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, new RegExp(`revoked job-signing key ${k2}`));
    assert.match(r2.out, /not in force yet: run it again with --config FILE/);
    // Again: nothing changes, said so (a revocation whose publish failed can be re-run).
    const again = await run(['revoke-signing-key', k2, '--keys', dir]);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /was revoked already/);
    // The active key, with a fresh replacement.
    const r1 = await run(['revoke-signing-key', k1, '--replacement', 'new', '--keys', dir]);
    assert.equal(r1.code, 0, r1.err);
    const k3 = /job-signing key (\S+) is active/.exec(r1.out)?.[1] ?? '';
    assert.ok(k3 && k3 !== k1 && k3 !== k2, r1.out);
    const list = await run(['list', '--keys', dir]);
    assert.match(list.out, new RegExp(`job-signing key ${k3}  \\(active\\)`));
    assert.match(list.out, new RegExp(`job-signing key ${k1}  \\(revoked\\)`));
    assert.match(list.out, new RegExp(`job-signing key ${k2}  \\(revoked\\)`));
    const ks = await KeyStore.open(dir);
    assert.deepEqual(ks.revokedSigningKeys(), [k1, k2].sort());
    assert.deepEqual(
      ks.signingKeys().map((k) => k.keyId),
      [k3],
    );
    assert.deepEqual(
      (await readdir(join(dir, 'signing'))).sort(),
      ['active', `${k1}.pem`, `${k2}.pem`, `${k3}.pem`, 'revoked'].sort(),
    );
    // A revoked key cannot come back: not activated, not retired, not revoked a second time as new.
    for (const argv of [
      ['activate-signing-key', k1],
      ['retire-signing-key', k1],
    ]) {
      const r = await run([...argv, '--keys', dir]);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.out}`);
      assert.match(r.err, /no signing key/);
    }
    for (const r of [r1, r2, list]) assert.doesNotMatch(r.out, /PRIVATE KEY/, 'no key printed');
  }));
