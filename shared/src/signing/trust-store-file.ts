/**
 * Loading a signed trust store from a JSON file (an agent's pinned or cached store). The
 * content is checked exactly as an update from the wire would be.
 */
import { readFile } from 'node:fs/promises';
import { type TrustUpdateResult, acceptTrustStore, maxTrustStoreBytes } from './trust-store.ts';

/** Reads and accepts a signed trust store file (see `acceptTrustStore` for `pinnedKeyIds`). */
export async function loadTrustStoreFile(
  path: string,
  opts: { readonly pinnedKeyIds?: readonly string[] } = {},
): Promise<TrustUpdateResult> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    return {
      ok: false,
      reason: 'malformed',
      detail: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    };
  }
  if (data.byteLength > maxTrustStoreBytes)
    return { ok: false, reason: 'oversized', detail: `${path} is too large` };
  return acceptTrustStore(data, undefined, opts);
}
