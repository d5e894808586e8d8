/**
 * Simulator-only: makes the NATS nkeys library (used by every agent's connect, to sign the
 * server's nonce, and by enrolment, to make the node's key pair) use Node's native Ed25519
 * instead of tweetnacl's pure-JavaScript one, in THIS process.
 *
 * Why: a real agent signs one nonce per (re)connect on its own machine; a simulator with 1,000
 * agents per core signs 1,000 at once, and pure-JS Ed25519 costs milliseconds per signature
 * here (two scalar multiplications per `sign`: the key pair is re-derived from the seed each
 * time). Profiled: ~35-40 % of the simulator's CPU during an enrolment ramp. Ed25519 is
 * deterministic, so the native signatures are byte-identical; installing checks that on a
 * random key and refuses to patch if not. `--js-ed25519` (main.ts) keeps the original.
 *
 * Less is left for it than there was: the agent's own signing is native now (the connect nonce
 * in node-agent/src/link/credentials.ts `nonceSigner`, the node key in enroll.ts and the
 * renewal request, all `@launchfleet/shared/native-nkeys`), as is the controller's. What still
 * goes through `@nats-io/nkeys` in a simulator: the renewal's check of the controller's JWT
 * signature (`fromPublic(...).verify`) and any nats.js authenticator a test builds itself.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

interface Nacl {
  sign: {
    keyPair: { fromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } };
    detached: {
      (msg: Uint8Array, secretKey: Uint8Array): Uint8Array;
      verify(msg: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean;
    };
  };
}

const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
/** Seeds seen (one per agent plus enrolment keys); bounded. */
const maxCached = 100_000;

let installed = false;

/** Patches the tweetnacl instance @nats-io/nkeys uses. Returns false (and patches nothing) on a mismatch. */
export function useNativeEd25519(): boolean {
  if (installed) return true;
  const nkeysPath = createRequire(import.meta.url).resolve('@nats-io/nkeys');
  const nacl = createRequire(nkeysPath)('tweetnacl') as Nacl;
  const cache = new Map<string, { priv: KeyObject; pub: Uint8Array }>();
  const keyOf = (seed: Uint8Array): { priv: KeyObject; pub: Uint8Array } => {
    const k = Buffer.from(seed.subarray(0, 32)).toString('base64');
    let e = cache.get(k);
    if (!e) {
      const priv = createPrivateKey({
        key: Buffer.concat([pkcs8Prefix, seed.subarray(0, 32)]),
        format: 'der',
        type: 'pkcs8',
      });
      const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
      e = { priv, pub: new Uint8Array(spki.subarray(spki.length - 32)) };
      if (cache.size >= maxCached) cache.clear();
      cache.set(k, e);
    }
    return e;
  };
  const fromSeed = (seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } => {
    const { pub } = keyOf(seed);
    const secretKey = new Uint8Array(64);
    secretKey.set(seed.subarray(0, 32), 0);
    secretKey.set(pub, 32);
    return { publicKey: new Uint8Array(pub), secretKey };
  };
  const detached = Object.assign(
    (msg: Uint8Array, secretKey: Uint8Array): Uint8Array =>
      new Uint8Array(sign(null, msg, keyOf(secretKey).priv)),
    {
      verify: (msg: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean =>
        verify(
          null,
          msg,
          createPublicKey({ key: Buffer.concat([spkiPrefix, publicKey]), format: 'der', type: 'spki' }),
          sig,
        ),
    },
  );
  // Same answers as the JavaScript implementation, or no patch.
  const seed = new Uint8Array(randomBytes(32));
  const msg = new Uint8Array(randomBytes(48));
  const js = nacl.sign.keyPair.fromSeed(seed);
  const nat = fromSeed(seed);
  const jsSig = nacl.sign.detached(msg, js.secretKey);
  const natSig = detached(msg, nat.secretKey);
  const same =
    Buffer.from(js.publicKey).equals(Buffer.from(nat.publicKey)) &&
    Buffer.from(js.secretKey).equals(Buffer.from(nat.secretKey)) &&
    Buffer.from(jsSig).equals(Buffer.from(natSig)) &&
    detached.verify(msg, jsSig, js.publicKey) &&
    nacl.sign.detached.verify(msg, natSig, nat.publicKey);
  if (!same) return false;
  nacl.sign.keyPair.fromSeed = fromSeed;
  nacl.sign.detached = detached;
  installed = true;
  return true;
}
