/**
 * Serves `lf.enroll` (request/reply, queue group `lf-controllers`, so several controllers
 * share the load) on the controller's connection.
 *
 *   agent ──{token, publicKey, hostname, inventory}──▶ lf.enroll
 *         ◀──{nodeId, jwt(publicKey, node permissions), signed trust store}──
 *
 * A request is refused (reply `{ok:false,error}` plus an `enroll-refused` event on
 * `lf.events.controller.enroll-refused`) when it is malformed or oversized, or its token is
 * unknown, expired, used up or revoked. Requests without a reply subject are dropped (and
 * counted as refused events). At most `maxInFlight` requests are worked on at once; beyond
 * that the answer is a quick `internal` "busy" so a flood cannot grow memory.
 *
 * Revoking a node marks it in the registry and pushes a fleet account JWT whose revocations
 * include the node's key; the servers disconnect it at once, store the JWT in their account
 * resolver's directory and refuse the node afterwards, also after a restart. The push is
 * answered by every server; then every server is asked which revocations it holds, so the
 * caller can say where the revocation is in force.
 */
import { ConflictError } from '@launchfleet/shared/errors';
import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { type Clock, messageOf } from '@launchfleet/shared';
import {
  type EnrollReply,
  boundedDetail,
  controllerEventSource,
  decodeEnrollRequest,
  encodeEnrollReply,
  encodeNodeEvent,
  keys,
  nodeIdFromRandom,
  subjects,
} from '@launchfleet/shared/messages/index';
import type { ControlPlaneStore } from '../identity/provision.ts';
import type { ClaimsAck, NatsIdentity, Revocations } from '../identity/nats-identity.ts';
import { NodeRegistry } from './node-registry.ts';
import { TokenStore } from './token-store.ts';

export interface EnrollmentDeps {
  /** The controller's own connection (full rights in the fleet account). */
  readonly nc: NatsConnection;
  /** A system-account connection, for pushing revocations. */
  readonly sys: NatsConnection;
  readonly store: ControlPlaneStore;
  readonly identity: NatsIdentity;
  readonly clock: Clock;
  readonly maxInFlight?: number;
  /**
   * How often the fleet account JWT (with revocations) is re-pushed. The servers keep pushed
   * JWTs on disk and sync them among themselves, so this is a safety net (a server that was
   * down during a push and whose peers are gone too); an unchanged JWT costs the servers
   * nothing. Default 30 s; 0 = never.
   */
  readonly accountResyncMs?: number;
}

/** What a revocation did, and where it is in force. */
export interface RevokeReport {
  readonly nodeId: string;
  /** The node's NATS user public key, now in the fleet account's revocations. */
  readonly publicKey: string;
  /** Credentials of that key issued at or before this time (unix seconds) are refused. */
  readonly revokedAt: number;
  /** Each server's answer to the account update. */
  readonly acks: readonly ClaimsAck[];
  /** Each server that answered the check, and whether it refuses the key now. */
  readonly servers: readonly { readonly server: string; readonly inForce: boolean }[];
}

export class EnrollmentService {
  readonly tokens: TokenStore;
  readonly registry: NodeRegistry;
  readonly #d: EnrollmentDeps;
  #sub: Subscription | undefined;
  #inFlight = 0;
  #resync: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #resyncing = false;
  /** The revocations last pushed, used when KV cannot be read right after a reconnect. */
  #known: Revocations = {};
  readonly #pending = new Set<Promise<void>>();

  constructor(d: EnrollmentDeps) {
    this.#d = d;
    this.tokens = new TokenStore(d.store.tokens);
    this.registry = new NodeRegistry(d.store.registry);
  }

  /** Pushes the current revocations (call on start and after every reconnect), then serves. */
  async start(): Promise<void> {
    await this.syncAccount();
    this.#sub = this.#d.nc.subscribe(subjects.enroll, {
      queue: subjects.controllerQueue,
      callback: (err, msg) => {
        if (err) return;
        this.#onMessage(msg);
      },
    });
    const every = this.#d.accountResyncMs ?? 30_000;
    if (every > 0) {
      this.#resync = setInterval(() => this.#resyncSoon(), every);
      this.#resync.unref();
    }
    // A reconnect of either connection may mean a restarted server; it keeps pushed JWTs on
    // disk, but one that lost its directory starts from the preload: re-push at once.
    for (const conn of [this.#d.sys, this.#d.nc]) {
      void (async () => {
        for await (const s of conn.status()) {
          if (this.#stopped) return;
          if (s.type === 'reconnect') this.#resyncSoon();
        }
      })().catch(() => undefined);
    }
  }

  /**
   * Re-pushes the account JWT, retrying for a while: right after a reconnect the KV read or
   * the system request can fail until the servers settle. One resync runs at a time.
   */
  #resyncSoon(): void {
    if (this.#resyncing || this.#stopped) return;
    this.#resyncing = true;
    void (async () => {
      let last: unknown;
      for (let attempt = 1; attempt <= 20 && !this.#stopped; attempt++) {
        try {
          await this.syncAccount();
          return;
        } catch (e) {
          last = e;
          await new Promise((r) => setTimeout(r, Math.min(attempt, 8) * 250));
        }
      }
      if (!this.#stopped) this.#event('account-resync-failed', messageOf(last), 'control-error');
    })().finally(() => {
      this.#resyncing = false;
    });
  }

  /** Stops serving and waits for requests in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resync) clearInterval(this.#resync);
    this.#resync = undefined;
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    await Promise.allSettled([...this.#pending]);
  }

  /** Issues a bootstrap token; the text is returned once. */
  async createToken(o: { ttlMs: number; maxUses?: number }): Promise<{ token: string; id: string }> {
    return this.tokens.create(this.#d.clock.wallMs(), o.ttlMs, o.maxUses ?? 1);
  }

  async revokeToken(id: string): Promise<void> {
    await this.tokens.revoke(id);
  }

  /**
   * Revokes a node: its credentials stop working on every server at once. Resolves once the
   * servers acknowledged the update, with each server's view of it.
   */
  async revokeNode(nodeId: string): Promise<RevokeReport> {
    const { revocations, publicKey } = await this.registry.revoke(nodeId, this.#d.clock.wallMs());
    this.#known = revocations;
    const acks = await this.#d.identity.pushAccount(this.#d.sys, revocations, 5000, { allAcks: true });
    const revokedAt = revocations[publicKey] ?? 0;
    const views = await this.#d.identity.accountOnServers(this.#d.sys).catch(() => []);
    return {
      nodeId,
      publicKey,
      revokedAt,
      acks,
      servers: views.map((v) => ({ server: v.server, inForce: (v.revoked[publicKey] ?? -1) >= revokedAt })),
    };
  }

  /**
   * Re-pushes the fleet account JWT with the stored revocations (or, if KV cannot be read
   * right now, with the ones this controller last pushed; the periodic resync corrects that).
   */
  async syncAccount(): Promise<void> {
    const stored = await withTimeout(this.registry.revocations(), 1000).catch(() => undefined);
    const revocations = stored ?? this.#known;
    await this.#d.identity.pushAccount(this.#d.sys, revocations, 2000);
    this.#known = revocations;
  }

  /** Handles one enrolment request (exposed for tests of the decision itself). */
  async handle(data: Uint8Array): Promise<EnrollReply> {
    const req = decodeEnrollRequest(data);
    if (!req.ok) {
      this.#event('invalid-request', `${req.error.code}: ${req.error.detail}`);
      return { ok: false, error: 'invalid-request', message: boundedDetail(req.error.detail, 256) };
    }
    const now = this.#d.clock.wallMs();
    const check = await this.tokens.use(
      req.value.token,
      now,
      req.value.publicKey,
      nodeIdFromRandom(randomBytes(13)),
    );
    if (!check.ok) {
      if (check.error === 'busy')
        return { ok: false, error: 'internal', message: 'busy: too many enrolments on this token, retry' };
      this.#event(check.error, `enrolment of ${req.value.hostname} refused`);
      return { ok: false, error: check.error, message: `token refused: ${check.error}` };
    }
    const nodeId = check.nodeId;
    const known = check.repeat ? await this.registry.get(nodeId) : undefined;
    if (known?.revokedAt !== undefined) {
      this.#event('revoked-token', `re-enrolment of revoked node ${nodeId} refused`);
      return { ok: false, error: 'revoked-token', message: 'this node was revoked' };
    }
    // A repeat whose first attempt died before the registry write registers the node now.
    if (!known)
      await this.registry
        .add({
          v: 1,
          nodeId,
          publicKey: req.value.publicKey,
          hostname: req.value.hostname,
          inventory: req.value.inventory,
          tokenId: check.tokenId,
          enrolledAt: now,
        })
        // Two overlapping requests with the same key: the other one registered the node.
        .catch((e: unknown) => {
          if (!(e instanceof ConflictError)) throw e;
        });
    // Before the node gets its credentials: an agent that finds an index catches up without a
    // consumer (desired/desired-index.ts).
    await this.#d.store.desiredIndex.ensureExists(nodeId);
    const jwt = await this.#d.identity.nodeJwt(nodeId, req.value.publicKey);
    const trust = await this.#d.store.trust.get(keys.trustStore);
    if (!trust || trust.operation !== 'PUT') {
      return { ok: false, error: 'internal', message: 'no trust store published yet' };
    }
    return { ok: true, nodeId, jwt, trustStore: trust.string() };
  }

  #onMessage(msg: Msg): void {
    if (!msg.reply) {
      this.#event('invalid-request', 'enrolment request without a reply subject');
      return;
    }
    const max = this.#d.maxInFlight ?? 64;
    if (this.#inFlight >= max) {
      this.#respond(msg, { ok: false, error: 'internal', message: 'busy, retry later' });
      return;
    }
    this.#inFlight++;
    const p = this.handle(msg.data)
      .catch((e: unknown): EnrollReply => {
        this.#event('internal', messageOf(e));
        return { ok: false, error: 'internal', message: 'enrolment failed; see controller events' };
      })
      .then((reply) => this.#respond(msg, reply))
      .finally(() => {
        this.#inFlight--;
        this.#pending.delete(p);
      });
    this.#pending.add(p);
  }

  #respond(msg: Msg, reply: EnrollReply): void {
    try {
      msg.respond(encodeEnrollReply(reply, this.#d.clock.wallMs()));
    } catch {
      // connection closing: the agent retries
    }
  }

  #event(reason: string, detail: string, kind: 'enroll-refused' | 'control-error' = 'enroll-refused'): void {
    const js = jetstream(this.#d.nc);
    const data = encodeNodeEvent(
      { source: controllerEventSource, kind, reason, detail: boundedDetail(detail) },
      this.#d.clock.wallMs(),
    );
    js.publish(subjects.event(controllerEventSource, kind), data).catch(() => {
      // events are best effort; the refusal itself was answered
    });
  }
}

/** Rejects if `p` does not settle within `ms` (the underlying operation is left to finish). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
