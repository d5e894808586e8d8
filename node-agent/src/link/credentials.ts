/**
 * The node's identity on disk, in its state directory:
 *
 * ```
 * <stateDir>/node.creds   NATS user JWT + the node's own nkey seed (mode 0600)
 * <stateDir>/node.json    { nodeId, enrolledAt }
 * <stateDir>/trust.json   the signed trust store last accepted
 * ```
 *
 * The seed is generated on the node and never sent anywhere; only its public key went to the
 * controller. Files are written to a temporary name and renamed, so a crash never leaves a
 * half-written credentials file.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { credsAuthenticator } from '@nats-io/transport-node';
import { PermissionDeniedError } from '@launchfleet/shared/errors';
import { type NativeKeyPair, nativeFromSeed } from '@launchfleet/shared/native-nkeys';
import { writeFileAtomic } from '../adapters/atomic-write.ts';
import { isNodeId } from '@launchfleet/shared/messages';

/** What an enrolled node knows about itself. */
export interface NodeIdentity {
  readonly nodeId: string;
  /** Path of the credentials file. */
  readonly credsPath: string;
  readonly trustStorePath: string;
}

export const stateFiles = { creds: 'node.creds', node: 'node.json', trust: 'trust.json' } as const;

/** The standard NATS credentials file text. */
export function formatCreds(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

/** Stores a fresh identity. */
export async function saveIdentity(
  stateDir: string,
  nodeId: string,
  creds: string,
  trustStore: string,
  enrolledAt: number,
): Promise<NodeIdentity> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const credsPath = join(stateDir, stateFiles.creds);
  const trustStorePath = join(stateDir, stateFiles.trust);
  await writeFileAtomic(credsPath, creds, 0o600);
  await writeFileAtomic(trustStorePath, trustStore, 0o600);
  await writeFileAtomic(
    join(stateDir, stateFiles.node),
    JSON.stringify({ nodeId, enrolledAt }) + '\n',
    0o600,
  );
  return { nodeId, credsPath, trustStorePath };
}

/** Loads the identity of an enrolled node, or undefined if the node never enrolled. */
export async function loadIdentity(stateDir: string): Promise<NodeIdentity | undefined> {
  let node: unknown;
  try {
    node = JSON.parse(await readFile(join(stateDir, stateFiles.node), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const nodeId = (node as { nodeId?: unknown }).nodeId;
  if (!isNodeId(nodeId)) return undefined;
  const credsPath = join(stateDir, stateFiles.creds);
  const st = await stat(credsPath);
  if ((st.mode & 0o077) !== 0)
    throw new PermissionDeniedError(`${credsPath} has mode ${(st.mode & 0o777).toString(8)}; must be 0600`);
  return { nodeId, credsPath, trustStorePath: join(stateDir, stateFiles.trust) };
}

/** The JWT and the seed of a credentials file. */
export interface CredsParts {
  readonly jwt: string;
  readonly seed: string;
}

/** Splits a `.creds` text into its JWT and seed, or undefined when it is not one. */
export function parseCreds(text: string): CredsParts | undefined {
  const jwt = /-----BEGIN NATS USER JWT-----\s*\n\s*(\S+)\s*\n/.exec(text)?.[1];
  const seed = /-----BEGIN USER NKEY SEED-----\s*\n\s*(SU[A-Z2-7]{56})\s*\n/.exec(text)?.[1];
  return jwt && seed ? { jwt, seed } : undefined;
}

/** What the agent reads from its user JWT (not verified: the servers do that). */
export interface UserClaims {
  /** The user public key it is bound to. */
  readonly sub: string;
  /** The account key that signed it. */
  readonly iss: string;
  /** Issued at, ms. */
  readonly issuedAtMs: number;
  /** Expires at, ms; undefined: never. */
  readonly expiresAtMs: number | undefined;
  /** The `name` claim (the node id for node credentials). */
  readonly name: string;
}

/** The claims of a user JWT, or undefined when it is not shaped like one. */
export function userClaims(jwt: string): UserClaims | undefined {
  const part = jwt.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const c = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof c['sub'] !== 'string' || typeof c['iss'] !== 'string' || typeof c['iat'] !== 'number')
      return undefined;
    const exp = c['exp'];
    return {
      sub: c['sub'],
      iss: c['iss'],
      issuedAtMs: c['iat'] * 1000,
      expiresAtMs: typeof exp === 'number' && exp > 0 ? exp * 1000 : undefined,
      name: typeof c['name'] === 'string' ? c['name'] : '',
    };
  } catch {
    return undefined;
  }
}

/** The JWT and seed of an identity's credentials file, or undefined when unreadable. */
export async function readCredsParts(id: NodeIdentity): Promise<CredsParts | undefined> {
  try {
    return parseCreds(await readFile(id.credsPath, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Native pairs by seed, made once: making one (decoding the seed, the key objects, the public
 * key's text) costs ~0.5 ms, signing with it ~0.05 ms, and a link that reconnects signs again
 * with the same key. One entry per key this process connects with: the node's (and, while
 * enrolling, the enrolment user's) for an agent, one per simulated agent in a simulator; bounded.
 */
const pairs = new Map<string, NativeKeyPair>();
const maxPairs = 20_000;

function pairOf(seed: string): NativeKeyPair | undefined {
  let kp = pairs.get(seed);
  if (!kp) {
    const made = nativeFromSeed(seed);
    if (!made.ok) return undefined;
    kp = made.value;
    if (pairs.size >= maxPairs) pairs.clear();
    pairs.set(seed, kp);
  }
  return kp;
}

/** The answer to the server's nonce in a CONNECT (nats.js's `JwtAuth`). */
export interface NonceAnswer {
  readonly jwt: string;
  readonly nkey: string;
  readonly sig: string;
}

/**
 * What nats.js calls on every (re)connect to answer the server's nonce, signing with Node's
 * native Ed25519. nats.js's own `credsAuthenticator` re-parses the file and re-derives the key
 * pair from the seed with tweetnacl's pure-JavaScript arithmetic on every call: about 40 ms of
 * CPU per connect on the project's loaded 2-core box (a connect is one `fromSeed` plus one
 * `sign`, each a scalar multiplication); here the pair is made once per key (`pairOf`) and a
 * connect costs one native signature. Ed25519 is deterministic, so the answer is byte for byte the one nats.js would
 * send (credentials.test.ts checks it). A file this parser does not read (not the standard
 * layout with a user seed) falls back to nats.js's authenticator.
 */
export function nonceSigner(creds: Uint8Array): (nonce?: string) => NonceAnswer {
  const parts = parseCreds(new TextDecoder().decode(creds));
  const key = parts ? pairOf(parts.seed) : undefined;
  if (!parts || !key) return credsAuthenticator(creds) as (nonce?: string) => NonceAnswer;
  const nkey = key.getPublicKey();
  return (nonce) => ({
    jwt: parts.jwt,
    nkey,
    sig: nonce ? Buffer.from(key.sign(new TextEncoder().encode(nonce))).toString('base64') : '',
  });
}
