/**
 * Verifying a signed job bundle on the agent: pure except for the Ed25519 check itself.
 *
 * Order of checks (the first failure is the reason reported):
 *   size -> shape -> signature present -> key trusted/revoked -> signature -> node -> label
 *   -> time window -> version.
 *
 * Versions, per label, against what the node already runs (`lastVersionByLabel`):
 * - lower version, a bundle this node applied before and which was since superseded
 *   (its digest is in `superseded`)         -> `replayed`
 * - any other lower version                 -> `older-version`
 * - same version, different content digest  -> `replayed` (a second, different bundle
 *   claiming a version already used: replay or key misuse)
 * - same version, same digest               -> accepted with `duplicate: true` (an identical
 *   re-delivery, e.g. after a reconnect, is idempotent; the caller does nothing)
 * - higher version                          -> accepted
 */
import { createHash } from 'node:crypto';
import { signedBytes, signingContexts } from './canonical.ts';
import { type JobBundle, maxBundleBytes, parseSignedBundle } from './job-bundle.ts';
import { type TrustStore, lookupKey, verifySignature } from './trust-store.ts';

/** Every reason a bundle is refused. */
export type RefusalReason =
  | 'unsigned'
  | 'malformed'
  | 'unknown-key'
  | 'revoked-key'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'replayed'
  | 'older-version'
  | 'wrong-node'
  | 'oversized';

export const refusalReasons: readonly RefusalReason[] = [
  'unsigned',
  'malformed',
  'unknown-key',
  'revoked-key',
  'bad-signature',
  'expired',
  'not-yet-valid',
  'replayed',
  'older-version',
  'wrong-node',
  'oversized',
];

/** What a node already runs for a label. */
export interface AppliedVersion {
  readonly version: number;
  /** `bundleDigest` of the bundle applied. */
  readonly digest: string;
  /** Digests of earlier versions this node applied for the label (bounded by the caller). */
  readonly superseded?: readonly string[];
}

export interface VerifyOptions {
  /** Now, in ms since the epoch (injected). */
  readonly now: number;
  /** This node's id. */
  readonly nodeId: string;
  readonly lastVersionByLabel?: ReadonlyMap<string, AppliedVersion>;
  /** Clock skew tolerated on both ends of the validity window. Default 60 s. */
  readonly maxSkewMs?: number;
  /** The label the bundle was found under (its KV key); must match when given. */
  readonly expectedLabel?: string;
  readonly maxBytes?: number;
}

export type VerifyResult =
  | {
      readonly ok: true;
      readonly bundle: JobBundle;
      /** SHA-256 hex of the signed bytes. */
      readonly digest: string;
      /** An identical re-delivery of the version already applied. */
      readonly duplicate: boolean;
    }
  | {
      readonly ok: false;
      readonly reason: RefusalReason;
      readonly detail: string;
      /** Whatever could be read of the bundle, for the refusal event. */
      readonly label?: string;
      readonly version?: number;
      readonly keyId?: string;
    };

/** The digest identifying a bundle's content. */
export function bundleDigest(bundle: JobBundle): string {
  const bytes = signedBytes(signingContexts.bundle, bundle);
  return createHash('sha256')
    .update(bytes.ok ? bytes.value : new Uint8Array())
    .digest('hex');
}

/** Verifies a signed bundle as it came off the wire. Never throws. */
export function verifyBundle(
  data: Uint8Array | string,
  trust: TrustStore,
  opts: VerifyOptions,
): VerifyResult {
  const p = parseSignedBundle(data, opts.maxBytes ?? maxBundleBytes);
  if (!p.ok) return { ok: false, reason: p.reason, detail: p.detail };
  const { bundle, sig } = p.signed;
  const about = { label: bundle.label, version: bundle.version, keyId: sig.keyId };
  const key = lookupKey(trust, sig.keyId);
  if (!key.ok) return { ok: false, ...key.error, ...about };
  const bytes = signedBytes(signingContexts.bundle, bundle);
  if (!bytes.ok) return { ok: false, reason: 'malformed', detail: bytes.error, ...about };
  if (!verifySignature(key.value, bytes.value, sig.value))
    return {
      ok: false,
      reason: 'bad-signature',
      detail: `signature by ${sig.keyId} does not verify`,
      ...about,
    };
  if (bundle.nodeId !== opts.nodeId)
    return {
      ok: false,
      reason: 'wrong-node',
      detail: `bundle is for ${bundle.nodeId}, not ${opts.nodeId}`,
      ...about,
    };
  if (opts.expectedLabel !== undefined && opts.expectedLabel !== bundle.label)
    return {
      ok: false,
      reason: 'malformed',
      detail: 'bundle label does not match the key it was stored under',
      ...about,
    };
  const skew = opts.maxSkewMs ?? 60_000;
  if (bundle.issuedAt > opts.now + skew)
    return {
      ok: false,
      reason: 'not-yet-valid',
      detail: `issued ${bundle.issuedAt - opts.now} ms in the future`,
      ...about,
    };
  if (bundle.expiresAt + skew <= opts.now)
    return {
      ok: false,
      reason: 'expired',
      detail: `expired ${opts.now - bundle.expiresAt} ms ago`,
      ...about,
    };
  const digest = createHash('sha256').update(bytes.value).digest('hex');
  const last = opts.lastVersionByLabel?.get(bundle.label);
  if (last !== undefined) {
    if (bundle.version < last.version) {
      if (last.superseded?.includes(digest))
        return {
          ok: false,
          reason: 'replayed',
          detail: `version ${bundle.version} was applied before and superseded by ${last.version}`,
          ...about,
        };
      return {
        ok: false,
        reason: 'older-version',
        detail: `version ${bundle.version} is older than the running ${last.version}`,
        ...about,
      };
    }
    if (bundle.version === last.version) {
      if (digest !== last.digest)
        return {
          ok: false,
          reason: 'replayed',
          detail: `version ${bundle.version} already applied with different content`,
          ...about,
        };
      return { ok: true, bundle, digest, duplicate: true };
    }
  }
  return { ok: true, bundle, digest, duplicate: false };
}
