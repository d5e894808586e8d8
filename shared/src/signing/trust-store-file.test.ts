import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from './keys.ts';
import { encodeSignedTrustStore, initialTrustStore, signTrustStore } from './trust-store.ts';
import { loadTrustStoreFile } from './trust-store-file.ts';

test('a trust store loads from a JSON file and is checked like one from the wire', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lf-trust-'));
  try {
    const k = generateSigningKey();
    const path = join(dir, 'trust.json');
    await writeFile(path, encodeSignedTrustStore(signTrustStore(initialTrustStore([k], 1), k)));
    const r = await loadTrustStoreFile(path, { pinnedKeyIds: [k.keyId] });
    assert.equal(r.ok && r.store.keys[0]?.keyId, k.keyId);
    const other = generateSigningKey();
    const pinned = await loadTrustStoreFile(path, { pinnedKeyIds: [other.keyId] });
    assert.equal(!pinned.ok && pinned.reason, 'unknown-key');
    await writeFile(path, '{"v":1');
    const bad = await loadTrustStoreFile(path);
    assert.equal(!bad.ok && bad.reason, 'malformed');
    const missing = await loadTrustStoreFile(join(dir, 'nope.json'));
    assert.equal(!missing.ok && missing.reason, 'malformed');
    assert.match(!missing.ok ? missing.detail : '', /ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
