import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from '@launchfleet/shared/testing';
import { formatCreds, loadIdentity, saveIdentity } from './credentials.ts';

const nodeId = `n${'c'.repeat(20)}`;

test('identity files: 0600, atomic, loadable; group-readable credentials are refused', () =>
  withTempDir('lf-cred-', async (root) => {
    const dir = join(root, 'state');
    assert.equal(await loadIdentity(dir), undefined, 'not enrolled yet');
    const creds = formatCreds('a.b.c', 'SUSEED');
    const id = await saveIdentity(dir, nodeId, creds, '{"trust":1}', 5);
    assert.deepEqual(await loadIdentity(dir), id);
    assert.equal(await readFile(id.credsPath, 'utf8'), creds);
    for (const f of await readdir(dir)) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
    assert.ok(!(await readdir(dir)).some((f) => f.includes('.tmp-')), 'no temporary files left');
    await chmod(id.credsPath, 0o640);
    await assert.rejects(loadIdentity(dir), /must be 0600/);
  }));

test('credentials text is the standard NATS creds layout', () => {
  const text = formatCreds('eyJ.x.y', 'SUAAA');
  assert.match(text, /-----BEGIN NATS USER JWT-----\neyJ\.x\.y\n------END NATS USER JWT------/);
  assert.match(text, /-----BEGIN USER NKEY SEED-----\nSUAAA\n------END USER NKEY SEED------/);
});

test("the nonce signer answers exactly as nats.js's credsAuthenticator, and falls back on files it cannot read", async () => {
  const { credsAuthenticator } = await import('@nats-io/transport-node');
  const { createUser } = await import('@nats-io/nkeys');
  const { nonceSigner } = await import('./credentials.ts');
  const user = createUser();
  const creds = new TextEncoder().encode(
    formatCreds('eyJhbGciOiJlZDI1NTE5In0.e30.sig', new TextDecoder().decode(user.getSeed())),
  );
  const ours = nonceSigner(creds);
  const theirs = credsAuthenticator(creds);
  for (const nonce of ['1tDvWq5cHfnsyGP4', 'x'.repeat(64), undefined]) {
    const a = ours(nonce);
    assert.deepEqual(a, theirs(nonce), `nonce ${String(nonce)}`);
    assert.equal(a.nkey, user.getPublicKey());
    if (nonce) assert.ok(user.verify(new TextEncoder().encode(nonce), Buffer.from(a.sig, 'base64')));
  }
  // Not the layout parseCreds reads (no user seed): nats.js's own parser decides.
  const odd = new TextEncoder().encode('-----BEGIN NATS USER JWT-----\nabc\n------END NATS USER JWT------\n');
  assert.throws(() => nonceSigner(odd)('n'), /unable to parse credentials|seed/i);
});
