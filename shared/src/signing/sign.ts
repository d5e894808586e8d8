/**
 * Signing a job bundle (controller side). The bundle is validated with the same reader the
 * agents use, so the controller never signs something every agent would refuse as malformed.
 */
import { sign as edSign } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';
import { signedBytes, signingContexts } from './canonical.ts';
import { type JobBundle, type SignedBundle, readBundle } from './job-bundle.ts';
import type { SigningKey } from './keys.ts';

/** Signs `bundle` (whose keyId must be the key's). Throws InvalidArgumentError on a bad bundle. */
export function signBundle(bundle: JobBundle, key: SigningKey): SignedBundle {
  if (bundle.keyId !== key.keyId)
    throw new InvalidArgumentError(
      `bundle.keyId ${bundle.keyId} is not the signing key ${key.keyId}`,
      'keyId',
    );
  const checked = readBundle(bundle);
  if (!checked.ok) throw new InvalidArgumentError(checked.error, 'bundle');
  const bytes = signedBytes(signingContexts.bundle, checked.value);
  if (!bytes.ok) throw new InvalidArgumentError(bytes.error, 'bundle');
  const value = edSign(null, bytes.value, key.privateKey).toString('base64url');
  return {
    v: 1,
    kind: 'job-bundle',
    bundle: checked.value,
    sig: { alg: 'ed25519', keyId: key.keyId, value },
  };
}

/** The wire form of a signed bundle (the KV value). */
export function encodeSignedBundle(s: SignedBundle): string {
  return JSON.stringify(s);
}
