import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import { withTempDir } from '@launchfleet/shared/testing';
import { KeyStore } from './key-store.ts';

/** Runs `fn` with a key store directory not created yet (in a temporary directory). */
const withDir = (fn: (dir: string) => Promise<void>): Promise<void> =>
  withTempDir('lf-keys-', (tmp) => fn(join(tmp, 'ks')));

/** Every key file of the store in `dir`. */
async function storeFiles(dir: string): Promise<string[]> {
  return [
    ...(await readdir(join(dir, 'nats'))).map((f) => join(dir, 'nats', f)),
    ...(await readdir(join(dir, 'signing'))).map((f) => join(dir, 'signing', f)),
  ];
}

test('creates keys once with mode 0600 and loads the same keys again', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const files = await storeFiles(dir);
    assert.equal(files.length, 5, files.join(','));
    for (const f of files) assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const again = await KeyStore.open(dir);
    assert.equal(again.activeSigningKey().keyId, ks.activeSigningKey().keyId);
    assert.equal(again.natsKeys().account.getPublicKey(), ks.natsKeys().account.getPublicKey());
  }));

test('rotation: a new key is stored and can be activated', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const old = ks.activeSigningKey();
    const k2 = await ks.addSigningKey();
    assert.equal(ks.activeSigningKey().keyId, old.keyId);
    await ks.activate(k2.keyId);
    const again = await KeyStore.open(dir);
    assert.equal(again.activeSigningKey().keyId, k2.keyId);
    assert.equal(again.signingKeys().length, 2);
    await assert.rejects(ks.activate('k-0000000000000000'), /no signing key/);
  }));

test('a complete store with private modes is only read: files 0400, no chmod of the directory', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const files = await storeFiles(dir);
    for (const f of files) await chmod(f, 0o400);
    const before = await Promise.all(
      [dir, ...files].map(async (p) => (await stat(p, { bigint: true })).ctimeNs),
    );
    await new Promise((r) => setTimeout(r, 20));
    const again = await KeyStore.open(dir);
    assert.equal(again.activeSigningKey().keyId, ks.activeSigningKey().keyId);
    // chmod, even to the same mode, changes ctime: nothing was written or re-moded.
    const after = await Promise.all(
      [dir, ...files].map(async (p) => (await stat(p, { bigint: true })).ctimeNs),
    );
    assert.deepEqual(after, before);
  }));

test('a directory open to group or others is tightened to 0700', () =>
  withDir(async (dir) => {
    await KeyStore.open(dir);
    await chmod(dir, 0o755);
    await KeyStore.open(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  }));

test('refuses key files readable by others', () =>
  withDir(async (dir) => {
    await KeyStore.open(dir);
    await chmod(join(dir, 'nats', 'account.nk'), 0o644);
    await assert.rejects(KeyStore.open(dir), /must be 0600/);
  }));

test('printing the store shows no private material', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const seed = (await readFile(join(dir, 'nats', 'account.nk'), 'utf8')).trim();
    const pem = await readFile(join(dir, 'signing', `${ks.activeSigningKey().keyId}.pem`), 'utf8');
    const body = pem.split('\n')[1] ?? '';
    for (const text of [inspect(ks, { depth: 10, showHidden: true }), JSON.stringify(ks), String(ks)]) {
      assert.ok(!text.includes(seed));
      assert.ok(!text.includes(body));
    }
  }));

test('a store whose seeds nkeys wrote loads them as the same keys; a wrong or bad seed is refused', () =>
  withDir(async (dir) => {
    const made = { operator: createOperator(), system: createAccount(), account: createAccount() };
    await mkdir(join(dir, 'nats'), { recursive: true, mode: 0o700 });
    for (const [name, kp] of Object.entries(made))
      await writeFile(join(dir, 'nats', `${name}.nk`), `${new TextDecoder().decode(kp.getSeed())}\n`, {
        mode: 0o600,
      });
    const ks = await KeyStore.open(dir);
    for (const name of ['operator', 'system', 'account'] as const)
      assert.equal(ks.natsKeys()[name].getPublicKey(), made[name].getPublicKey());
    await writeFile(join(dir, 'nats', 'operator.nk'), new TextDecoder().decode(createUser().getSeed()), {
      mode: 0o600,
    });
    await assert.rejects(KeyStore.open(dir), /wrong kind of key/);
    await writeFile(join(dir, 'nats', 'operator.nk'), 'SOnotaseed\n', { mode: 0o600 });
    await assert.rejects(KeyStore.open(dir), /does not hold an nkey seed/);
  }));

test('account signing keys: added, activated, listed in natsKeys, retired; the active one cannot be', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    assert.deepEqual(ks.accountSigningKeys(), { keys: [], active: '' });
    assert.equal(ks.natsKeys().userSigner, undefined, 'no signing key: the account key signs');
    const s1 = await ks.addAccountSigningKey(true);
    assert.match(s1, /^A[A-Z2-7]{55}$/);
    assert.notEqual(s1, ks.natsKeys().account.getPublicKey());
    assert.equal((await stat(join(dir, 'nats', 'account-signing', `${s1}.nk`))).mode & 0o777, 0o600);
    const s2 = await ks.addAccountSigningKey();
    const again = await KeyStore.open(dir);
    assert.deepEqual(again.accountSigningKeys(), { keys: [s1, s2].sort(), active: s1 });
    assert.equal(again.natsKeys().userSigner?.getPublicKey(), s1);
    assert.deepEqual(again.natsKeys().accountSigningKeys, [s1, s2].sort());
    await assert.rejects(again.retireAccountSigningKey(s1), /active account signing key/);
    await assert.rejects(again.activateAccountSigningKey('ANOPE'), /no account signing key/);
    await again.activateAccountSigningKey(s2);
    await again.retireAccountSigningKey(s1);
    const third = await KeyStore.open(dir);
    assert.deepEqual(third.accountSigningKeys(), { keys: [s2], active: s2 });
    assert.equal(inspect(third).includes('SA'), false, 'no seed printed');
  }));

test('job-signing keys: the active one cannot be retired, another can', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const k1 = ks.activeSigningKey().keyId;
    await assert.rejects(ks.retireSigningKey(k1), /active signing key/);
    const k2 = await ks.addSigningKey(true);
    await ks.retireSigningKey(k1);
    const again = await KeyStore.open(dir);
    assert.deepEqual(
      again.signingKeys().map((k) => k.keyId),
      [k2.keyId],
    );
    await assert.rejects(again.retireSigningKey('nope'), /no signing key/);
  }));

test('an account signing key file named after another key, or an active key not held, is refused', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const s1 = await ks.addAccountSigningKey(true);
    const asDir = join(dir, 'nats', 'account-signing');
    await writeFile(join(asDir, 'active'), 'AWRONG\n', { mode: 0o600 });
    await assert.rejects(KeyStore.open(dir), /active account signing key AWRONG missing/);
    await writeFile(join(asDir, 'active'), `${s1}\n`, { mode: 0o600 });
    const seed = await readFile(join(asDir, `${s1}.nk`), 'utf8');
    await writeFile(join(asDir, `A${'B'.repeat(55)}.nk`), seed, { mode: 0o600 });
    await assert.rejects(KeyStore.open(dir), /named after another key/);
  }));
