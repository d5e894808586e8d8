/**
 * Enrolment, agent side.
 *
 * 1. Generate a NATS user key pair (the node identity; the seed stays on this machine). The
 *    pending seed is kept in the state directory (0600) until enrolment succeeds, so a retry
 *    after a lost reply presents the same key and the controller answers it with the same
 *    node instead of spending another use of the token.
 * 2. Connect as the shared bootstrap user (it may only publish `lf.enroll` and receive on
 *    `_E.>`), with a random inbox prefix `_E.<nonce>`.
 * 3. Request `lf.enroll` with { token, public key, hostname, inventory }.
 * 4. Check the reply: a node id, a JWT bound to *our* public key, a trust store that is
 *    self-signed and, if the agent was installed with pinned key ids, signed by one of them.
 * 5. Store the credentials (0600) and the trust store in the state directory.
 * The caller then reconnects with `connectAsNode`.
 *
 * Re-enrolment (`reenroll`): a node whose credentials expired while it was away presents the
 * key it enrolled with and its node id, with a new bootstrap token; the controller keeps the
 * node id (and so its desired state) when the key matches and the node was not revoked.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type NkeyPair, createNativePair, nativeFromSeed } from '@launchfleet/shared/native-nkeys';
import { type Result, ok, err, messageOf } from '@launchfleet/shared/errors';
import { natsError, natsFailureKind } from '@launchfleet/shared/nats-errors';
import {
  type Inventory,
  decodeEnrollReply,
  encodeEnrollRequest,
  subjects,
} from '@launchfleet/shared/messages';
import { acceptTrustStore } from '@launchfleet/shared/signing';
import { writeFileAtomic } from '../adapters/atomic-write.ts';
import { type NodeIdentity, formatCreds, nonceSigner, saveIdentity } from './credentials.ts';

/** Where the key of an enrolment in progress waits for its answer. */
const pendingKeyFile = (stateDir: string): string => join(stateDir, 'enroll-pending.nk');

/** The pending key from an earlier attempt, or a new one saved before it is ever sent. */
async function pendingKey(stateDir: string): Promise<NkeyPair> {
  const text = await readFile(pendingKeyFile(stateDir), 'utf8').catch(() => '');
  if (/^SU[A-Z2-7]{56}$/.test(text.trim())) {
    const kept = nativeFromSeed(text.trim());
    if (kept.ok) return kept.value;
    // unreadable: make a new one
  }
  const user = createNativePair('user');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(pendingKeyFile(stateDir), new TextDecoder().decode(user.getSeed()), 0o600);
  return user;
}

/** The node's own key for a re-enrolment; a seed that is not one throws (reported as the state dir's). */
function reenrolKey(seed: string): NkeyPair {
  const k = nativeFromSeed(seed);
  if (!k.ok) throw new Error(`the node's key is not a user seed: ${k.error}`);
  return k.value;
}

export interface EnrollOptions {
  readonly servers: string | string[];
  /** The bootstrap user's credentials file content. */
  readonly enrollCreds: Uint8Array;
  readonly token: string;
  readonly stateDir: string;
  readonly hostname: string;
  readonly inventory?: Inventory;
  /** Key ids the first trust store must be signed by (installed with the agent). */
  readonly pinnedKeyIds?: readonly string[];
  readonly timeoutMs?: number;
  readonly now?: () => number;
  /** Re-enrol as this node with its own key (its seed) instead of a new one. */
  readonly reenroll?: { readonly nodeId: string; readonly seed: string };
}

/** The `refused` reason when NATS itself refused the enrolment credentials (not the controller). */
export const natsAuthorization = 'nats-authorization';

/** Why enrolment failed. `refused` carries the controller's reason (or `natsAuthorization`). */
export interface EnrollFailure {
  readonly kind: 'unreachable' | 'refused' | 'bad-reply';
  readonly reason: string;
  readonly detail: string;
}

/** Enrols this machine; writes credentials into `stateDir`. */
export async function enroll(o: EnrollOptions): Promise<Result<NodeIdentity, EnrollFailure>> {
  let user: NkeyPair;
  try {
    user = o.reenroll ? reenrolKey(o.reenroll.seed) : await pendingKey(o.stateDir);
  } catch (e) {
    // The state directory cannot hold the key (full disk, read-only): a value, retried later.
    return err({ kind: 'unreachable', reason: 'state-dir', detail: messageOf(e) });
  }
  const publicKey = user.getPublicKey();
  const now = o.now ?? Date.now;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: o.servers,
      authenticator: nonceSigner(o.enrollCreds),
      inboxPrefix: subjects.enrollInboxPrefix(randomBytes(12).toString('hex')),
      name: `enroll:${o.hostname}`,
      maxReconnectAttempts: 0,
    });
  } catch (e) {
    // Classified where it enters (shared nats-errors.ts): credentials NATS refuses are not an
    // unreachable controller, and retrying them at once cannot help.
    if (natsFailureKind(natsError(e, 'connecting to enrol')) === 'authorization')
      return err({
        kind: 'refused',
        reason: natsAuthorization,
        detail: `NATS refused the enrolment credentials (${messageOf(e)})`,
      });
    return err({ kind: 'unreachable', reason: 'connect', detail: messageOf(e) });
  }
  try {
    let replyData: Uint8Array;
    try {
      const m = await nc.request(
        subjects.enroll,
        encodeEnrollRequest(
          {
            token: o.token,
            publicKey,
            hostname: o.hostname,
            inventory: o.inventory ?? {},
            ...(o.reenroll && { nodeId: o.reenroll.nodeId }),
          },
          now(),
        ),
        { timeout: o.timeoutMs ?? 10_000 },
      );
      replyData = m.data;
    } catch (e) {
      return err({ kind: 'unreachable', reason: 'request', detail: messageOf(e) });
    }
    const reply = decodeEnrollReply(replyData);
    if (!reply.ok) return err({ kind: 'bad-reply', reason: reply.error.code, detail: reply.error.detail });
    if (!reply.value.ok) {
      // A refusal proves this key never enrolled: a later token starts with a new key. Only
      // 'internal' (busy, or a controller fault) may have left it half enrolled: keep it.
      if (reply.value.error !== 'internal' && !o.reenroll)
        await rm(pendingKeyFile(o.stateDir), { force: true });
      return err({ kind: 'refused', reason: reply.value.error, detail: reply.value.message });
    }
    const { nodeId, jwt, trustStore } = reply.value;
    if (jwtSubject(jwt) !== publicKey)
      return err({ kind: 'bad-reply', reason: 'jwt', detail: 'the JWT is not bound to this node key' });
    const trust = acceptTrustStore(
      trustStore,
      undefined,
      o.pinnedKeyIds ? { pinnedKeyIds: o.pinnedKeyIds } : {},
    );
    if (!trust.ok) return err({ kind: 'bad-reply', reason: `trust-${trust.reason}`, detail: trust.detail });
    const seed = new TextDecoder().decode(user.getSeed());
    const identity = await saveIdentity(o.stateDir, nodeId, formatCreds(jwt, seed), trustStore, now());
    if (!o.reenroll) await rm(pendingKeyFile(o.stateDir), { force: true });
    return ok(identity);
  } finally {
    user.clear();
    await nc.close().catch(() => undefined);
  }
}

/** The `sub` claim of a JWT (the key it is bound to), without verifying it. */
function jwtSubject(jwt: string): string | undefined {
  const part = jwt.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
