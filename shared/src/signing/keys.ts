/**
 * Ed25519 keys for job bundle signatures, with Node's own crypto.
 *
 * Public keys travel as base64url of the raw 32 bytes; a key id is derived from the public
 * key (`k-` + 16 hex of its SHA-256), so two different keys never share an id by accident and
 * anyone can recompute it. Private keys stay `KeyObject`s: `util.inspect` and `JSON.stringify`
 * of a KeyObject print no key material.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { type Result, ok, err } from '../errors.ts';

/** A key id: `k-` + 16 lower-case hex digits. */
export const keyIdPattern = /^k-[0-9a-f]{16}$/;

/** Base64url of 32 raw bytes. */
export const publicKeyPattern = /^[A-Za-z0-9_-]{43}$/;

/** A signing key as the controller holds it. */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  /** base64url raw public key. */
  readonly publicKey: string;
}

/** The key id of a raw public key (base64url). */
export function keyIdOf(publicKey: string): string {
  return `k-${createHash('sha256').update(Buffer.from(publicKey, 'base64url')).digest('hex').slice(0, 16)}`;
}

/** Generates a new Ed25519 signing key. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return fromPrivateKey(privateKey, publicKey);
}

/** Builds a SigningKey from a PKCS#8 PEM private key. */
export function signingKeyFromPem(pem: string): Result<SigningKey> {
  try {
    const privateKey = createPrivateKey({ key: pem, format: 'pem' });
    if (privateKey.asymmetricKeyType !== 'ed25519') return err('not an Ed25519 key');
    return ok(fromPrivateKey(privateKey, createPublicKey(privateKey)));
  } catch (e) {
    return err(`cannot read private key: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** PKCS#8 PEM of a signing key, for writing to the key store (mode 0600). */
export function signingKeyToPem(k: SigningKey): string {
  return k.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Imports a base64url raw public key for verification. */
export function importPublicKey(publicKey: string): Result<KeyObject> {
  if (!publicKeyPattern.test(publicKey)) return err('public key is not base64url of 32 bytes');
  try {
    return ok(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' }));
  } catch (e) {
    return err(`bad public key: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function fromPrivateKey(privateKey: KeyObject, publicKeyObject: KeyObject): SigningKey {
  const jwk = publicKeyObject.export({ format: 'jwk' });
  const publicKey = jwk.x ?? '';
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}
