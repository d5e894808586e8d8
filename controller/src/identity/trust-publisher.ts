/**
 * Keeps the signed trust store in KV `lf_trust` (key `store`) in line with the controller's
 * key store. Agents accept an update only if a key they already trust signed it, so the next
 * store is always signed by a held key that the *current* store trusts (the active key when
 * it is trusted already, else the oldest held trusted key). Compare-and-set on the KV
 * revision keeps two controllers from publishing over each other.
 */
import type { KV } from '@nats-io/kv';
import { ConflictError, InvalidArgumentError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import {
  type SignedTrustStore,
  type TrustStore,
  acceptTrustStore,
  encodeSignedTrustStore,
  lookupKey,
  parseSignedTrustStore,
  signTrustStore,
} from '@launchfleet/shared/signing';
import type { KeyStore } from './key-store.ts';

export interface PublishTrustOptions {
  readonly now: number;
  /** Key ids to leave out of the store (rotation step 3: retire the old key). */
  readonly retire?: readonly string[];
  /** Key ids to revoke for good (a compromised key). */
  readonly revoke?: readonly string[];
}

/**
 * Reads the current signed trust store, if any. A store signed by a key it revokes itself (the
 * first half of revoking the only trusted key, see publishTrustStore) is read too, marked
 * `bridge`: its signature was checked by the agents against the store before it, and the
 * controller's next publish replaces it with one the active key signs.
 */
export async function readTrustStore(
  kv: KV,
): Promise<{ store: TrustStore; revision: number; bridge?: boolean } | undefined> {
  const e = await kv.get(keys.trustStore);
  if (!e || e.operation !== 'PUT') return undefined;
  const r = acceptTrustStore(e.value, undefined);
  if (!r.ok) {
    const p = parseSignedTrustStore(e.value);
    if (r.reason === 'revoked-key' && p.ok && p.value.store.revoked.includes(p.value.sig.keyId))
      return { store: p.value.store, revision: e.revision, bridge: true };
    throw new InvalidArgumentError(`stored trust store is unusable: ${r.reason}: ${r.detail}`, 'lf_trust');
  }
  return { store: r.store, revision: e.revision };
}

/** Publishes the trust store the key store implies; returns what is stored now. */
export async function publishTrustStore(
  kv: KV,
  ks: KeyStore,
  o: PublishTrustOptions,
): Promise<SignedTrustStore> {
  const current = await readTrustStore(kv);
  const retire = new Set([...(o.retire ?? []), ...(o.revoke ?? [])]);
  const revoked = [...new Set([...(current?.store.revoked ?? []), ...(o.revoke ?? [])])].sort();
  const held = ks.signingKeys().filter((k) => !retire.has(k.keyId) && !revoked.includes(k.keyId));
  if (held.length === 0) throw new InvalidArgumentError('the trust store would hold no key', 'retire');
  const nextKeys = held
    .map((k) => ({ keyId: k.keyId, publicKey: k.publicKey }))
    .sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
  const next: TrustStore = {
    version: (current?.store.version ?? 0) + 1,
    issuedAt: o.now,
    keys: nextKeys,
    revoked,
  };
  if (current && !current.bridge && sameContent(current.store, next)) {
    const signer = pickSigner(ks, current.store);
    return signTrustStore(current.store, signer);
  }
  const signer = pickSigner(ks, current?.store ?? next);
  const first = signTrustStore(next, signer);
  const revision = await put(kv, first, current?.revision);
  if (!revoked.includes(signer.keyId)) return first;
  // Only a key this store revokes was trusted by the last one (the leaked key was the only
  // trusted key): agents holding the last store take this one, signed by it, as they must. A
  // store a revoked key signed does not stand on its own (an enrolling agent reads it with no
  // store before it), so the same content follows at once, signed by the active key, which
  // the agents trust from the store just written.
  const final: TrustStore = { ...next, version: next.version + 1 };
  const signed = signTrustStore(final, pickSigner(ks, next));
  await put(kv, signed, revision);
  return signed;
}

/** Writes `s` over the entry at `revision` (create when undefined); returns the new revision. */
async function put(kv: KV, s: SignedTrustStore, revision: number | undefined): Promise<number> {
  const text = encodeSignedTrustStore(s);
  try {
    return revision !== undefined
      ? await kv.update(keys.trustStore, text, revision)
      : await kv.create(keys.trustStore, text);
  } catch (e) {
    throw new ConflictError('trust store changed concurrently; retry', { cause: e });
  }
}

function pickSigner(ks: KeyStore, trustedBy: TrustStore) {
  const active = ks.activeSigningKey();
  if (lookupKey(trustedBy, active.keyId).ok) return active;
  // A revoked key last: only when the store that revokes it has no other key the agents trust.
  const k = [...ks.signingKeys(), ...ks.revokedSigningKeysHeld()].find(
    (x) => lookupKey(trustedBy, x.keyId).ok,
  );
  if (!k)
    throw new InvalidArgumentError(
      'no held key is trusted by the current trust store, so agents would refuse the next one ' +
        "(a revoked key's file must stay in signing/ until its revocation is published)",
      'keyStore',
    );
  return k;
}

function sameContent(a: TrustStore, b: TrustStore): boolean {
  return JSON.stringify([a.keys, a.revoked]) === JSON.stringify([b.keys, b.revoked]);
}
