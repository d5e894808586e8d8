/**
 * Serves `lf.renew.<nodeId>` (request/reply, queue group `lf-controllers`): an enrolled node
 * trades a signed request for a fresh user JWT before its own expires.
 *
 *   node ──{nodeId, publicKey, requestedAt, signature(node key)}──▶ lf.renew.<nodeId>
 *        ◀──{jwt(publicKey, current node permissions, exp = now + lifetime), expiresAt}──
 *
 * The decision is `decideRenewal` (core/renewal-decision.ts). A grant is signed first and then
 * recorded by compare-and-set on the node's registry record (new expiry, issuer, and the
 * request time that later requests must exceed); a record changed meanwhile (a revocation, a
 * concurrent renewal) is read again and decided again, so no JWT leaves after a revocation and
 * a captured request is good once at most. Every refusal is answered with its reason and
 * raised as a `renewal-refused` controller event naming the node; every renewal as
 * `credentials-renewed`. At most `maxInFlight` requests are worked on at once; beyond that the
 * answer is a quick `internal` "busy" (the node retries later).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fromPublic } from '@nats-io/nkeys';
import { type Clock, ConflictError, messageOf } from '@launchfleet/shared';
import {
  type RenewReply,
  boundedDetail,
  decodeRenewRequest,
  encodeRenewReply,
  renewSigningPayload,
  renewSubjectNodeId,
  subjects,
} from '@launchfleet/shared/messages';
import type { NatsIdentity } from '../identity/nats-identity.ts';
import { decideRenewal } from './core/renewal-decision.ts';
import { publishControllerEvent } from './controller-events.ts';
import { type NodeRegistry, withCredentials } from './node-registry.ts';

export interface RenewalDeps {
  readonly nc: NatsConnection;
  readonly registry: NodeRegistry;
  readonly identity: NatsIdentity;
  readonly clock: Clock;
  /** Lifetime of the credentials issued. */
  readonly lifetimeMs: number;
  /** How far a request's time may be from the controller's clock. Default 5 min. */
  readonly maxSkewMs?: number;
  readonly maxInFlight?: number;
}

export class RenewalService {
  readonly #d: RenewalDeps;
  #sub: Subscription | undefined;
  #inFlight = 0;
  readonly #pending = new Set<Promise<void>>();

  constructor(d: RenewalDeps) {
    this.#d = d;
  }

  start(): void {
    this.#sub = this.#d.nc.subscribe(subjects.renewAll, {
      queue: subjects.controllerQueue,
      callback: (err, msg) => {
        if (!err) this.#onMessage(msg);
      },
    });
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    await Promise.allSettled([...this.#pending]);
  }

  /** Decides one request that arrived on `subject` (exposed for tests of the decision itself). */
  async handle(subject: string, data: Uint8Array): Promise<RenewReply> {
    const subjectNodeId = renewSubjectNodeId(subject);
    const req = decodeRenewRequest(data);
    if (!req.ok) {
      this.#event(
        'renewal-refused',
        'invalid-request',
        `node=${subjectNodeId ?? '?'} ${req.error.code}: ${req.error.detail}`,
      );
      return { ok: false, error: 'invalid-request', message: boundedDetail(req.error.detail, 256) };
    }
    const r = req.value;
    const payload = renewSigningPayload(r);
    const signatureValid = (publicKey: string): boolean => {
      try {
        return fromPublic(publicKey).verify(payload, Buffer.from(r.signature, 'base64url'));
      } catch {
        return false;
      }
    };
    for (let attempt = 1; ; attempt++) {
      const v = await this.#d.registry.getVersioned(r.nodeId);
      const now = this.#d.clock.wallMs();
      const d = decideRenewal({
        request: r,
        subjectNodeId,
        record: v?.record,
        signatureValid,
        now,
        maxSkewMs: this.#d.maxSkewMs ?? 5 * 60_000,
      });
      if (!d.grant || !v) {
        const refusal = d.grant ? 'unknown-node' : d.refusal;
        const message = d.grant ? 'no such node' : d.message;
        this.#event('renewal-refused', refusal, `node=${r.nodeId} ${message}`);
        return { ok: false, error: refusal, message };
      }
      // Signed before it is recorded: a revocation that lands after the record also covers
      // this JWT (its iat is not later than the revocation's time, rounded up to the second).
      const creds = await this.#d.identity.nodeCredentials(
        r.nodeId,
        v.record.publicKey,
        now + this.#d.lifetimeMs,
      );
      try {
        await this.#d.registry.update(
          {
            ...withCredentials(v.record, creds),
            lastRenewalRequestAt: r.requestedAt,
            renewals: (v.record.renewals ?? 0) + 1,
          },
          v.revision,
        );
      } catch (e) {
        if (e instanceof ConflictError && attempt < 5) continue;
        throw e;
      }
      const expiresAt = creds.expiresAt ?? 0;
      this.#event(
        'credentials-renewed',
        'renewed',
        `node=${r.nodeId} expires=${new Date(expiresAt).toISOString()}`,
      );
      return { ok: true, jwt: creds.jwt, expiresAt };
    }
  }

  #onMessage(msg: Msg): void {
    if (!msg.reply) {
      this.#event(
        'renewal-refused',
        'invalid-request',
        `renewal request on ${msg.subject} without a reply subject`,
      );
      return;
    }
    if (this.#inFlight >= (this.#d.maxInFlight ?? 64)) {
      this.#respond(msg, { ok: false, error: 'internal', message: 'busy, retry later' });
      return;
    }
    this.#inFlight++;
    const p = this.handle(msg.subject, msg.data)
      .catch((e: unknown): RenewReply => {
        this.#event('control-error', 'renewal', messageOf(e));
        return { ok: false, error: 'internal', message: 'renewal failed; see controller events' };
      })
      .then((reply) => this.#respond(msg, reply))
      .finally(() => {
        this.#inFlight--;
        this.#pending.delete(p);
      });
    this.#pending.add(p);
  }

  #respond(msg: Msg, reply: RenewReply): void {
    try {
      msg.respond(encodeRenewReply(reply, this.#d.clock.wallMs()));
    } catch {
      // connection closing: the node retries
    }
  }

  #event(
    kind: 'renewal-refused' | 'credentials-renewed' | 'control-error',
    reason: string,
    detail: string,
  ): void {
    publishControllerEvent(this.#d.nc, this.#d.clock, kind, reason, detail);
  }
}
