import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCreds, loadIdentity, saveIdentity } from './credentials.ts';

const nodeId = `n${'c'.repeat(20)}`;

test('identity files: 0600, atomic, loadable; group-readable credentials are refused', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lf-cred-'));
  try {
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
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('credentials text is the standard NATS creds layout', () => {
  const text = formatCreds('eyJ.x.y', 'SUAAA');
  assert.match(text, /-----BEGIN NATS USER JWT-----\neyJ\.x\.y\n------END NATS USER JWT------/);
  assert.match(text, /-----BEGIN USER NKEY SEED-----\nSUAAA\n------END USER NKEY SEED------/);
});
