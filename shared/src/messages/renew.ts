/**
 * Credential renewal on `lf.renew.<nodeId>` (request/reply, node -> controller).
 *
 * An enrolled node asks for a fresh user JWT before its own expires. The request proves
 * possession of the node's key twice over: only that key's credentials can publish on the
 * node's own renewal subject (permissions), and the request carries an Ed25519 signature by the
 * node's nkey over `renewSigningPayload` (node id, public key, request time), checked against the
 * key the controller registered at enrolment. `requestedAt` must be within the controller's skew
 * window and later than the last renewal the controller accepted from this node, so a captured
 * request cannot be replayed. The reply's JWT is bound to the node's public key: useless without
 * the node's seed, so nothing in it is secret.
 */
import { type Result, err } from '../errors.ts';
import { FieldReader, type MessageError, decodeEnvelope, encodeEnvelope, isRecord } from './envelope.ts';
import { userPublicKeyPattern } from './enroll.ts';
import { isNodeId, nodeIdPattern } from './tokens.ts';

/** Message kinds. */
export const renewKinds = { request: 'renew.request', reply: 'renew.reply' } as const;

/** What a node sends to renew its credentials. */
export interface RenewRequest {
  readonly nodeId: string;
  /** The node's NATS user public key (the one it enrolled with). */
  readonly publicKey: string;
  /** When the node made the request (ms since the epoch, its clock): the replay guard. */
  readonly requestedAt: number;
  /** Ed25519 signature by the node's nkey over `renewSigningPayload(...)`, base64url. */
  readonly signature: string;
}

/** Why a renewal was refused. */
export type RenewRefusal =
  | 'invalid-request'
  | 'unknown-node'
  | 'wrong-key'
  | 'bad-signature'
  | 'stale'
  | 'replayed'
  | 'revoked'
  | 'internal';

export const renewRefusals: readonly RenewRefusal[] = [
  'invalid-request',
  'unknown-node',
  'wrong-key',
  'bad-signature',
  'stale',
  'replayed',
  'revoked',
  'internal',
];

/** The controller's answer. */
export type RenewReply =
  | {
      readonly ok: true;
      /** A user JWT for the node's key with the current node permissions. */
      readonly jwt: string;
      /** When it expires (ms since the epoch). */
      readonly expiresAt: number;
    }
  | { readonly ok: false; readonly error: RenewRefusal; readonly message: string };

/**
 * The bytes a renewal request's signature covers: a fixed context line (so no other signature
 * of the node key can pass for one), then the node id, key and request time.
 */
export function renewSigningPayload(
  r: Pick<RenewRequest, 'nodeId' | 'publicKey' | 'requestedAt'>,
): Uint8Array {
  return new TextEncoder().encode(`launchfleet.renew.v1\n${r.nodeId}\n${r.publicKey}\n${r.requestedAt}`);
}

export function encodeRenewRequest(r: RenewRequest, ts: number): Uint8Array {
  return encodeEnvelope(renewKinds.request, ts, r);
}

export function decodeRenewRequest(data: Uint8Array | string): Result<RenewRequest, MessageError> {
  const env = decodeEnvelope(data, renewKinds.request, 4 * 1024);
  if (!env.ok) return env;
  const f = new FieldReader(env.value.body);
  const nodeId = f.string('nodeId', 21, nodeIdPattern);
  const publicKey = f.string('publicKey', 56, userPublicKeyPattern);
  const requestedAt = f.int('requestedAt', 0, Number.MAX_SAFE_INTEGER);
  // An Ed25519 signature is 64 bytes: 86 base64url characters.
  const signature = f.string('signature', 86, /^[A-Za-z0-9_-]{86}$/);
  return f.done({ nodeId, publicKey, requestedAt, signature });
}

export function encodeRenewReply(r: RenewReply, ts: number): Uint8Array {
  return encodeEnvelope(renewKinds.reply, ts, r);
}

export function decodeRenewReply(data: Uint8Array | string): Result<RenewReply, MessageError> {
  const env = decodeEnvelope(data, renewKinds.reply, 32 * 1024);
  if (!env.ok) return env;
  const body = env.value.body;
  if (!isRecord(body)) return err({ code: 'invalid', detail: 'body is not an object' });
  const f = new FieldReader(body);
  if (body['ok'] === true) {
    const jwt = f.string('jwt', 16 * 1024, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const expiresAt = f.int('expiresAt', 0, Number.MAX_SAFE_INTEGER);
    return f.done({ ok: true, jwt, expiresAt });
  }
  const error = f.oneOf<RenewRefusal>('error', renewRefusals);
  const message = f.string('message', 1024);
  return f.done({ ok: false, error, message });
}

/** A node id taken from the last token of a renewal subject, or undefined. */
export function renewSubjectNodeId(subject: string): string | undefined {
  const t = subject.split('.');
  return t.length === 3 && t[0] === 'lf' && t[1] === 'renew' && isNodeId(t[2]) ? t[2] : undefined;
}
