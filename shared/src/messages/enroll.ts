/**
 * Enrolment messages on `lf.enroll` (request/reply).
 *
 * The agent sends its bootstrap token and the public half of a key pair it just generated
 * (its node identity; the seed never leaves the agent). The controller answers with the node
 * id, a NATS user JWT bound to that public key, and the signed trust store. Nothing in the
 * reply is secret: the JWT is useless without the agent's seed, and the trust store holds
 * public keys only. That is why enrolling agents may share one bootstrap NATS user.
 */
import { type Result, err } from '../errors.ts';
import { FieldReader, type MessageError, decodeEnvelope, encodeEnvelope, isRecord } from './envelope.ts';
import { isNodeId, nodeIdPattern } from './tokens.ts';

/** Message kinds. */
export const enrollKinds = { request: 'enroll.request', reply: 'enroll.reply' } as const;

/** A NATS user public key (nkey, `U` prefix, 56 base32 characters). */
export const userPublicKeyPattern = /^U[A-Z2-7]{55}$/;

/** Facts about the machine, reported at enrolment and with status. Bounded flat strings. */
export type Inventory = Record<string, string>;

/** What an agent sends to enrol. */
export interface EnrollRequest {
  /** The bootstrap token as the administrator issued it (`lfbt_<id>_<secret>`). */
  readonly token: string;
  /** The agent's fresh NATS user public key: its node identity. */
  readonly publicKey: string;
  readonly hostname: string;
  readonly inventory: Inventory;
  /**
   * Re-enrolment: the node this machine was enrolled as, presenting the key it enrolled with
   * (its credentials expired while it was away). The controller keeps the node id when the key
   * matches its record and the node was not revoked; otherwise it enrols a new node.
   */
  readonly nodeId?: string;
}

/** Why an enrolment was refused (the reply says which; details stay in the controller's events). */
export type EnrollRefusal =
  'invalid-request' | 'bad-token' | 'expired-token' | 'used-token' | 'revoked-token' | 'internal';

/** The controller's answer. */
export type EnrollReply =
  | {
      readonly ok: true;
      readonly nodeId: string;
      /** NATS user JWT for `publicKey`, signed by the fleet account. */
      readonly jwt: string;
      /** The signed trust store, as stored in `lf_trust` (JSON text). */
      readonly trustStore: string;
    }
  | { readonly ok: false; readonly error: EnrollRefusal; readonly message: string };

/** Bootstrap tokens: `lfbt_` + 16 hex (id) + `_` + 43 base64url (secret). */
export const bootstrapTokenPattern = /^lfbt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;

export function encodeEnrollRequest(r: EnrollRequest, ts: number): Uint8Array {
  return encodeEnvelope(enrollKinds.request, ts, r);
}

export function decodeEnrollRequest(data: Uint8Array | string): Result<EnrollRequest, MessageError> {
  const env = decodeEnvelope(data, enrollKinds.request, 16 * 1024);
  if (!env.ok) return env;
  const f = new FieldReader(env.value.body);
  const token = f.string('token', 128);
  const publicKey = f.string('publicKey', 56, userPublicKeyPattern);
  const hostname = f.string('hostname', 253, /^[A-Za-z0-9._-]+$/);
  const inventory = f.stringMap('inventory', 64, 256);
  const nodeId = f.optString('nodeId', 21, nodeIdPattern);
  return f.done({ token, publicKey, hostname, inventory, ...(nodeId !== undefined && { nodeId }) });
}

export function encodeEnrollReply(r: EnrollReply, ts: number): Uint8Array {
  return encodeEnvelope(enrollKinds.reply, ts, r);
}

export function decodeEnrollReply(data: Uint8Array | string): Result<EnrollReply, MessageError> {
  const env = decodeEnvelope(data, enrollKinds.reply, 256 * 1024);
  if (!env.ok) return env;
  const body = env.value.body;
  if (!isRecord(body)) return err({ code: 'invalid', detail: 'body is not an object' });
  const f = new FieldReader(body);
  if (body['ok'] === true) {
    const nodeId = f.string('nodeId', 21);
    if (!isNodeId(nodeId)) f.problems.push('body.nodeId is not a node id');
    const jwt = f.string('jwt', 16 * 1024, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const trustStore = f.string('trustStore', 128 * 1024);
    return f.done({ ok: true, nodeId, jwt, trustStore });
  }
  const error = f.oneOf<EnrollRefusal>('error', [
    'invalid-request',
    'bad-token',
    'expired-token',
    'used-token',
    'revoked-token',
    'internal',
  ]);
  const message = f.string('message', 1024);
  return f.done({ ok: false, error, message });
}
