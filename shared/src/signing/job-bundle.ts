/**
 * A signed job bundle: one launchd job, for one node, at one version.
 *
 * Wire form (JSON, the value stored in KV `lf_desired` under `<nodeId>.<labelToken>`):
 * ```
 * { "v": 1, "kind": "job-bundle",
 *   "bundle": { label, domain, plist, version, issuedAt, expiresAt, keyId, nodeId },
 *   "sig": { "alg": "ed25519", "keyId": "k-…", "value": "<base64url signature>" } }
 * ```
 * The signature covers `signedBytes('launchfleet/job-bundle/v1', bundle)` (canonical JSON).
 * `bundle.keyId` is inside the signed data so a signature cannot be re-labelled with another key.
 */
import { FieldReader, isRecord, parseJsonBytes } from '../messages/envelope.ts';
import { checkLabel } from '../messages/tokens.ts';
import { nodeIdPattern } from '../messages/tokens.ts';
import { type Result, ok, err } from '../errors.ts';
import { keyIdPattern } from './keys.ts';

/** The whole signed bundle may not exceed this many bytes on the wire. */
export const maxBundleBytes = 512 * 1024;
/** The plist text may not exceed this many characters. */
export const maxPlistChars = 256 * 1024;

/**
 * Where the job is loaded: `system`, `gui/<uid>` / `user/<uid>` for one user, or `gui/*` /
 * `user/*` for every logged-in user (launchd's domain names, docs/launchd-semantics.md §3).
 */
export const domainTargetPattern = /^(system|(gui|user)\/(\*|[0-9]{1,10}))$/;

/** The signed content. */
export interface JobBundle {
  /** The job's launchd Label; must equal the plist's Label (the agent's plist model checks). */
  readonly label: string;
  /** Domain target, see `domainTargetPattern`. */
  readonly domain: string;
  /** The plist XML exactly as the administrator gave it. */
  readonly plist: string;
  /** Monotonic per label (per node): a node never goes back to a lower version. */
  readonly version: number;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  /** Milliseconds since the epoch; after this the bundle is refused. */
  readonly expiresAt: number;
  /** The signing key's id. */
  readonly keyId: string;
  /** The one node this bundle is for (no cross-node replay). */
  readonly nodeId: string;
}

/** A bundle with its signature. */
export interface SignedBundle {
  readonly v: 1;
  readonly kind: 'job-bundle';
  readonly bundle: JobBundle;
  readonly sig: Signature;
}

/** An Ed25519 signature with the id of the key that made it. */
export interface Signature {
  readonly alg: 'ed25519';
  readonly keyId: string;
  /** base64url. */
  readonly value: string;
}

/** Parse outcome: shape problems are `malformed`, a missing signature is `unsigned`. */
export type ParsedBundle =
  | { readonly ok: true; readonly signed: SignedBundle }
  | { readonly ok: false; readonly reason: 'oversized' | 'malformed' | 'unsigned'; readonly detail: string };

/** Reads the wire form. Never throws. */
export function parseSignedBundle(data: Uint8Array | string, maxBytes = maxBundleBytes): ParsedBundle {
  const parsed = parseJsonBytes(data, maxBytes);
  if (!parsed.ok)
    return {
      ok: false,
      reason: parsed.error.code === 'oversized' ? 'oversized' : 'malformed',
      detail: parsed.error.detail,
    };
  const o = parsed.value;
  if (!isRecord(o)) return { ok: false, reason: 'malformed', detail: 'not an object' };
  if (o['v'] !== 1 || o['kind'] !== 'job-bundle')
    return { ok: false, reason: 'malformed', detail: 'not a v1 job-bundle' };
  const b = readBundle(o['bundle']);
  if (!b.ok) return { ok: false, reason: 'malformed', detail: b.error };
  if (o['sig'] === undefined || o['sig'] === null)
    return { ok: false, reason: 'unsigned', detail: 'no signature' };
  const s = readSignature(o['sig']);
  if (!s.ok) return { ok: false, reason: s.error === 'empty' ? 'unsigned' : 'malformed', detail: s.error };
  if (s.value.keyId !== b.value.keyId)
    return { ok: false, reason: 'malformed', detail: 'signature key id differs from bundle key id' };
  return { ok: true, signed: { v: 1, kind: 'job-bundle', bundle: b.value, sig: s.value } };
}

/** Validates bundle content (used by the signer too, so nothing unverifiable is ever signed). */
export function readBundle(v: unknown): Result<JobBundle> {
  const f = new FieldReader(v, 'bundle');
  const label = f.string('label', 1024);
  const domain = f.string('domain', 32, domainTargetPattern);
  const plist = f.string('plist', maxPlistChars);
  const version = f.int('version', 1, Number.MAX_SAFE_INTEGER);
  const issuedAt = f.int('issuedAt', 0, Number.MAX_SAFE_INTEGER);
  const expiresAt = f.int('expiresAt', 0, Number.MAX_SAFE_INTEGER);
  const keyId = f.string('keyId', 18, keyIdPattern);
  const nodeId = f.string('nodeId', 21, nodeIdPattern);
  if (f.problems.length === 0) {
    const l = checkLabel(label);
    if (!l.ok) f.problems.push(`bundle.label: ${l.error}`);
    if (expiresAt <= issuedAt) f.problems.push('bundle.expiresAt must be after issuedAt');
  }
  if (isRecord(v)) {
    const extra = Object.keys(v).filter((k) => !bundleFields.has(k));
    if (extra.length > 0) f.problems.push(`bundle has unknown fields: ${extra.slice(0, 5).join(', ')}`);
  }
  const r = f.done<JobBundle>({ label, domain, plist, version, issuedAt, expiresAt, keyId, nodeId });
  return r.ok ? ok(r.value) : err(r.error.detail);
}

const bundleFields = new Set([
  'label',
  'domain',
  'plist',
  'version',
  'issuedAt',
  'expiresAt',
  'keyId',
  'nodeId',
]);

/** Reads a signature object; `empty` when there is one but it carries no value. */
export function readSignature(v: unknown): Result<Signature> {
  if (!isRecord(v)) return err('sig is not an object');
  if (v['value'] === '' || v['value'] === undefined) return err('empty');
  const f = new FieldReader(v, 'sig');
  f.oneOf('alg', ['ed25519'] as const);
  const keyId = f.string('keyId', 18, keyIdPattern);
  const value = f.string('value', 128, /^[A-Za-z0-9_-]{86}$/);
  const r = f.done<Signature>({ alg: 'ed25519', keyId, value });
  return r.ok ? ok(r.value) : err(r.error.detail);
}
