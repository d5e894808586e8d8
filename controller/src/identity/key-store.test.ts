import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import { KeyStore } from './key-store.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-keys-'));
  try {
    await fn(join(dir, 'ks'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('creates keys once with mode 0600 and loads the same keys again', () =>
  withDir(async (dir) => {
    const ks = await KeyStore.open(dir);
    const files = [
      ...(await readdir(join(dir, 'nats'))).map((f) => join(dir, 'nats', f)),
      ...(await readdir(join(dir, 'signing'))).map((f) => join(dir, 'signing', f)),
    ];
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
    const files = [
      ...(await readdir(join(dir, 'nats'))).map((f) => join(dir, 'nats', f)),
      ...(await readdir(join(dir, 'signing'))).map((f) => join(dir, 'signing', f)),
    ];
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
