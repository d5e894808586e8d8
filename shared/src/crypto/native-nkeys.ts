/**
 * NATS nkey pairs backed by Node's native Ed25519 (`node:crypto`, OpenSSL).
 *
 * Why: `@nats-io/nkeys` keeps only the seed and re-derives the key pair with tweetnacl's
 * pure-JavaScript scalar multiplication on every `getPublicKey`, `getPrivateKey` and `sign`;
 * `@nats-io/jwt` calls three of them per JWT, ~14.5 ms in all on the benchmark box, which
 * capped enrolment at ~70/s per core (test/bench/FLEET-RESULTS.md). Here the private
 * `KeyObject` and the public key are made once per pair, so signing is one native call.
 *
 * Ed25519 signatures are deterministic (RFC 8032), so a native pair produces the same public
 * key, private key text and signatures byte for byte as the nkeys pair of the same seed; the
 * controller's tests check that. `NkeyPair` has the same shape as `@nats-io/nkeys`' `KeyPair`,
 * so a `NativeKeyPair` can be handed to `@nats-io/jwt`'s encoders and `fmtCreds` as it is.
 */
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import { type Result, ok, err } from '../errors.ts';
import { type NkeyRole, decodeSeed, encodePrivateKey, encodePublicKey, encodeSeed } from './nkey-codec.ts';

/**
 * The key pair interface of `@nats-io/nkeys` (2.x), written out so this package needs no
 * dependency on it. Methods throw (like nkeys) once the pair is cleared.
 */
export interface NkeyPair {
  /** `O…`, `A…` or `U…`: the role letter and the base32 public key. */
  getPublicKey(): string;
  /** `P…`: raw seed and public key, base32. */
  getPrivateKey(): Uint8Array;
  /** The seed text (`SO…`, `SA…`, `SU…`) as bytes. */
  getSeed(): Uint8Array;
  sign(input: Uint8Array): Uint8Array;
  verify(input: Uint8Array, sig: Uint8Array): boolean;
  /** Forgets the key material; the pair cannot be used afterwards. */
  clear(): void;
  /** Only curve keys seal; an Ed25519 pair throws. */
  seal(input: Uint8Array, recipient: string, nonce?: Uint8Array): Uint8Array;
  /** Only curve keys open; an Ed25519 pair throws. */
  open(message: Uint8Array, sender: string): Uint8Array | null;
}

/** PKCS#8 DER of an Ed25519 private key is this prefix followed by the 32-byte seed. */
const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER of an Ed25519 public key is this prefix followed by the 32-byte key. */
const spkiEd25519Prefix = Buffer.from('302a300506032b6570032100', 'hex');

/** What a live pair holds; dropped on `clear`. */
interface Material {
  readonly seedText: string;
  readonly privateKey: KeyObject;
  readonly publicKeyObject: KeyObject;
  readonly publicKey: string;
  /** `P…` text, asked for by `@nats-io/jwt` on every encode (it checks the key can sign). */
  readonly privateKeyText: string;
}

/** An nkey pair whose private key lives in a native `KeyObject`. */
export class NativeKeyPair implements NkeyPair {
  #m: Material | undefined;
  readonly role: NkeyRole;

  private constructor(role: NkeyRole, m: Material) {
    this.role = role;
    this.#m = m;
  }

  /** @internal Builds a pair from 32 raw seed bytes (left untouched). */
  static fromRaw(role: NkeyRole, seed32: Uint8Array): Result<NativeKeyPair> {
    const seedText = encodeSeed(role, seed32);
    if (!seedText.ok) return seedText;
    const der = Buffer.concat([pkcs8Ed25519Prefix, seed32]);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch (e) {
      return err(`cannot make an Ed25519 key: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      der.fill(0);
    }
    const publicKeyObject = createPublicKey(privateKey);
    const spki = publicKeyObject.export({ format: 'der', type: 'spki' });
    const raw = new Uint8Array(spki.subarray(spkiEd25519Prefix.length));
    return ok(
      new NativeKeyPair(role, {
        seedText: seedText.value,
        privateKey,
        publicKeyObject,
        publicKey: encodePublicKey(role, raw),
        privateKeyText: encodePrivateKey(seed32, raw),
      }),
    );
  }

  #live(): Material {
    if (!this.#m) throw new Error('nkeys: pair is cleared');
    return this.#m;
  }

  getPublicKey(): string {
    return this.#live().publicKey;
  }

  getPrivateKey(): Uint8Array {
    return new TextEncoder().encode(this.#live().privateKeyText);
  }

  getSeed(): Uint8Array {
    return new TextEncoder().encode(this.#live().seedText);
  }

  sign(input: Uint8Array): Uint8Array {
    return new Uint8Array(edSign(null, input, this.#live().privateKey));
  }

  verify(input: Uint8Array, sig: Uint8Array): boolean {
    const m = this.#live();
    if (sig.length !== 64) return false;
    try {
      return edVerify(null, input, m.publicKeyObject, sig);
    } catch {
      return false;
    }
  }

  clear(): void {
    this.#m = undefined;
  }

  seal(_input: Uint8Array, _recipient: string, _nonce?: Uint8Array): Uint8Array {
    throw new Error('keys: only curve key can seal/open');
  }

  open(_message: Uint8Array, _sender: string): Uint8Array | null {
    throw new Error('keys: only curve key can seal/open');
  }

  /** The public key only: a pair printed or logged shows nothing secret. */
  toString(): string {
    return `NativeKeyPair(${this.#m?.publicKey ?? 'cleared'})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  toJSON(): { publicKey: string | undefined } {
    return { publicKey: this.#m?.publicKey };
  }
}

/** The pair of an encoded seed (`SO…`, `SA…`, `SU…`, as text or its bytes). */
export function nativeFromSeed(seed: string | Uint8Array): Result<NativeKeyPair> {
  const text = typeof seed === 'string' ? seed : new TextDecoder().decode(seed);
  const d = decodeSeed(text.trim());
  if (!d.ok) return d;
  const kp = NativeKeyPair.fromRaw(d.value.role, d.value.seed32);
  d.value.seed32.fill(0);
  return kp;
}

/** A new pair with a random seed. */
export function createNativePair(role: NkeyRole): NativeKeyPair {
  const seed32 = randomBytes(32);
  const kp = NativeKeyPair.fromRaw(role, seed32);
  seed32.fill(0);
  // A random 32-byte seed is always a valid Ed25519 private key.
  if (!kp.ok) throw new Error(kp.error);
  return kp.value;
}
