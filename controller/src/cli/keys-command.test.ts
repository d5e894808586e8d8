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
      [['list'], /--keys DIR is required/],
      [['--keys', dir], /an action is required/],
      [['rotate-everything', '--keys', dir], /unknown action/],
      [['retire-signing-key', active, '--keys', dir], /active signing key/],
      [['retire-signing-key', '--keys', dir], /needs the key id/],
      [['activate-account-signing-key', 'ANOPE', '--keys', dir], /no account signing key/],
      [['list', '--keys', join(dir, 'nats')], /is not a key store/],
      [['list', 'extra', 'more', '--keys', dir], /unexpected/],
    ] as const) {
      const r = await run([...argv]);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, re);
    }
    assert.deepEqual(await before(), files);
  }));
