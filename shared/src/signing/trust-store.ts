/**
 * The agents' trust store: which public keys may sign job bundles, and which are revoked.
 *
 * Rotation without redeploying agents:
 *   1. publish store v(n+1) = old keys + new key, signed by a key the agents already trust;
 *   2. sign new bundles with the new key;
 *   3. publish v(n+2) without the old key (or with it in `revoked` if it was compromised),
 *      signed by the new key.
 * Every update must be signed by a key trusted by the store the agent already holds, and its
 * version must be higher, so someone who can write to the broker (but holds no trusted key)
 * can neither add a key nor roll the store back. The very first store an agent receives (at
 * enrolment) is accepted if it is self-signed and, when the agent was installed with pinned
 * key ids, signed by one of them; without pins that first step is trust-on-first-use.
 *
 * Wire form: `{ "v": 1, "kind": "trust-store", "store": {...}, "sig": {...} }`, the signature
 * over `signedBytes('launchfleet/trust-store/v1', store)`.
 */
import { type KeyObject, createHash, sign as edSign, verify as edVerify } from 'node:crypto';
import { FieldReader, isRecord, parseJsonBytes } from '../messages/envelope.ts';
import { type Result, ok, err } from '../errors.ts';
import { signedBytes, signingContexts } from './canonical.ts';
import { type Signature, readSignature } from './job-bundle.ts';
import { type SigningKey, importPublicKey, keyIdOf, keyIdPattern, publicKeyPattern } from './keys.ts';

/** One trusted key. */
export interface TrustedKey {
  readonly keyId: string;
  /** base64url raw Ed25519 public key; `keyId` must equal `keyIdOf(publicKey)`. */
  readonly publicKey: string;
}

/** The content of a trust store. */
export interface TrustStore {
  /** Strictly increasing with every update. */
  readonly version: number;
  readonly issuedAt: number;
  readonly keys: readonly TrustedKey[];
  /** Key ids that must never be accepted again, even if still listed in `keys`. */
  readonly revoked: readonly string[];
}

export interface SignedTrustStore {
  readonly v: 1;
  readonly kind: 'trust-store';
  readonly store: TrustStore;
  readonly sig: Signature;
}

/** Why a trust store (update) was refused. */
export type TrustRefusalReason =
  'oversized' | 'malformed' | 'unsigned' | 'unknown-key' | 'revoked-key' | 'bad-signature' | 'older-version';

export interface TrustRefusal {
  readonly reason: TrustRefusalReason;
  readonly detail: string;
}

/** Cap on a trust store's wire size. */
export const maxTrustStoreBytes = 64 * 1024;

/** Signs a trust store with a key (which must be trusted by the store the agents hold now). */
export function signTrustStore(store: TrustStore, key: SigningKey): SignedTrustStore {
  const bytes = signedBytes(signingContexts.trustStore, store);
  if (!bytes.ok) throw new TypeError(`trust store cannot be encoded: ${bytes.error}`);
  const value = edSign(null, bytes.value, key.privateKey).toString('base64url');
  return { v: 1, kind: 'trust-store', store, sig: { alg: 'ed25519', keyId: key.keyId, value } };
}

/** The JSON text stored in KV and sent at enrolment. */
export function encodeSignedTrustStore(s: SignedTrustStore): string {
  return JSON.stringify(s);
}

/** Parses and checks the shape of a signed trust store. */
export function parseSignedTrustStore(data: Uint8Array | string): Result<SignedTrustStore, TrustRefusal> {
  const parsed = parseJsonBytes(data, maxTrustStoreBytes);
  if (!parsed.ok)
    return err({
      reason: parsed.error.code === 'oversized' ? 'oversized' : 'malformed',
      detail: parsed.error.detail,
    });
  const o = parsed.value;
  if (!isRecord(o) || o['v'] !== 1 || o['kind'] !== 'trust-store')
    return err({ reason: 'malformed', detail: 'not a v1 trust-store' });
  const store = readTrustStore(o['store']);
  if (!store.ok) return err({ reason: 'malformed', detail: store.error });
  if (o['sig'] === undefined || o['sig'] === null) return err({ reason: 'unsigned', detail: 'no signature' });
  const sig = readSignature(o['sig']);
  if (!sig.ok) return err({ reason: sig.error === 'empty' ? 'unsigned' : 'malformed', detail: sig.error });
  return ok({ v: 1, kind: 'trust-store', store: store.value, sig: sig.value });
}

/** Validates trust store content. */
export function readTrustStore(v: unknown): Result<TrustStore> {
  const f = new FieldReader(v, 'store');
  const version = f.int('version', 1, Number.MAX_SAFE_INTEGER);
  const issuedAt = f.int('issuedAt', 0, Number.MAX_SAFE_INTEGER);
  const rawKeys = f.raw('keys');
  const rawRevoked = f.raw('revoked');
  if (f.problems.length > 0) return err(f.problems.join('; '));
  if (!Array.isArray(rawKeys) || rawKeys.length > 64)
    return err('store.keys must be an array of at most 64 keys');
  if (!Array.isArray(rawRevoked) || rawRevoked.length > 1024)
    return err('store.revoked must be an array of at most 1024 key ids');
  const keys: TrustedKey[] = [];
  for (const k of rawKeys) {
    const kr = new FieldReader(k, 'store.keys[]');
    const keyId = kr.string('keyId', 18, keyIdPattern);
    const publicKey = kr.string('publicKey', 43, publicKeyPattern);
    if (kr.problems.length > 0) return err(kr.problems.join('; '));
    if (keyIdOf(publicKey) !== keyId) return err(`store.keys: ${keyId} is not the id of its public key`);
    if (keys.some((x) => x.keyId === keyId)) return err(`store.keys: ${keyId} listed twice`);
    keys.push({ keyId, publicKey });
  }
  const revoked: string[] = [];
  for (const r of rawRevoked) {
    if (typeof r !== 'string' || !keyIdPattern.test(r)) return err('store.revoked holds a bad key id');
    revoked.push(r);
  }
  return ok({ version, issuedAt, keys, revoked });
}

/** Looks a key id up: the key, or why it cannot be used. */
export function lookupKey(
  store: TrustStore,
  keyId: string,
): Result<TrustedKey, { reason: 'unknown-key' | 'revoked-key'; detail: string }> {
  if (store.revoked.includes(keyId)) return err({ reason: 'revoked-key', detail: `key ${keyId} is revoked` });
  const k = store.keys.find((x) => x.keyId === keyId);
  if (!k) return err({ reason: 'unknown-key', detail: `key ${keyId} is not trusted` });
  return ok(k);
}

/**
 * Imported public keys by their base64url text. A JWK import costs about as much as the
 * verification itself, and an agent verifies every bundle with one of a handful of keys; a
 * KeyObject is immutable, so sharing it is safe. Bounded: a store holds at most 64 keys.
 */
const importedKeys = new Map<string, KeyObject>();
const maxImportedKeys = 256;

function importedKey(publicKey: string): KeyObject | undefined {
  const hit = importedKeys.get(publicKey);
  if (hit) return hit;
  const pub = importPublicKey(publicKey);
  if (!pub.ok) return undefined;
  if (importedKeys.size >= maxImportedKeys) importedKeys.clear();
  importedKeys.set(publicKey, pub.value);
  return pub.value;
}

/** Verifies an Ed25519 signature over `bytes` with a trusted key. */
export function verifySignature(key: TrustedKey, bytes: Uint8Array, signature: string): boolean {
  const pub = importedKey(key.publicKey);
  if (!pub) return false;
  try {
    return edVerify(null, bytes, pub, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** Outcome of accepting a trust store. `unchanged` is an identical re-delivery of the current store. */
export type TrustUpdateResult =
  | { readonly ok: true; readonly store: TrustStore; readonly unchanged: boolean }
  | ({ readonly ok: false } & TrustRefusal);

/**
 * Accepts a signed trust store given the store the agent holds now (`current`), or the pinned
 * key ids when it holds none yet.
 */
export function acceptTrustStore(
  data: Uint8Array | string,
  current: TrustStore | undefined,
  opts: { readonly pinnedKeyIds?: readonly string[] } = {},
): TrustUpdateResult {
  const p = parseSignedTrustStore(data);
  if (!p.ok) return { ok: false, ...p.error };
  const { store, sig } = p.value;
  // Who may vouch for this store: the current store's keys, or (first time) the store's own keys.
  const authority = current ?? store;
  const key = lookupKey(authority, sig.keyId);
  if (!key.ok) return { ok: false, ...key.error };
  if (current === undefined && opts.pinnedKeyIds && !opts.pinnedKeyIds.includes(sig.keyId))
    return {
      ok: false,
      reason: 'unknown-key',
      detail: `first trust store signed by unpinned key ${sig.keyId}`,
    };
  const bytes = signedBytes(signingContexts.trustStore, store);
  if (!bytes.ok) return { ok: false, reason: 'malformed', detail: bytes.error };
  if (!verifySignature(key.value, bytes.value, sig.value))
    return { ok: false, reason: 'bad-signature', detail: `signature by ${sig.keyId} does not verify` };
  if (current !== undefined) {
    if (store.version === current.version && sameStore(store, current))
      return { ok: true, store, unchanged: true };
    if (store.version <= current.version)
      return {
        ok: false,
        reason: 'older-version',
        detail: `trust store version ${store.version} is not newer than ${current.version}`,
      };
  }
  return { ok: true, store, unchanged: false };
}

function sameStore(a: TrustStore, b: TrustStore): boolean {
  return digestOf(a) === digestOf(b);
}

function digestOf(s: TrustStore): string {
  const bytes = signedBytes(signingContexts.trustStore, s);
  return bytes.ok ? createHash('sha256').update(bytes.value).digest('hex') : '';
}

/** A first trust store holding the given keys. */
export function initialTrustStore(keys: readonly SigningKey[], issuedAt: number): TrustStore {
  return {
    version: 1,
    issuedAt,
    keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
    revoked: [],
  };
}
