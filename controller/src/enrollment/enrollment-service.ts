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
 * Revoking a node (`revokeNode`) and keeping the fleet account JWT's revocations pushed to every
 * server are revocation-push.ts, which this service owns: it shares the connections, the
 * registry and the event helper. Token storage, the registry and renewals are their own modules
 * too; what stays here is the enrolment path (handle, record, respond, the in-flight bound and
 * the stuck-request watchdog).
 */
import { ConflictError } from '@launchfleet/shared/errors';
import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type Clock, messageOf } from '@launchfleet/shared';
import {
  type EnrollReply,
  type EnrollRequest,
  boundedDetail,
  decodeEnrollRequest,
  encodeEnrollReply,
  keys,
  nodeIdFromRandom,
  subjects,
} from '@launchfleet/shared/messages';
import type { ControlPlaneStore } from '../identity/provision.ts';
import type { IssuedCredentials, NatsIdentity } from '../identity/nats-identity.ts';
import { publishControllerEvent } from './controller-events.ts';
import { type NodeRecord, NodeRegistry, withCredentials } from './node-registry.ts';
import { RenewalService } from './renewal-service.ts';
import { RevocationPush, type RevokeReport } from './revocation-push.ts';
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
  /** Operator-facing diagnostics (an enrolment request stuck at one step). */
  readonly log?: (line: string) => void;
  /**
   * How often the fleet account JWT (with revocations) is re-pushed. The servers keep pushed
   * JWTs on disk and sync them among themselves, so this is a safety net (a server that was
   * down during a push and whose peers are gone too); an unchanged JWT costs the servers
   * nothing. Default 30 s; 0 = never.
   */
  readonly accountResyncMs?: number;
  /** Lifetime of the node credentials issued at enrolment and renewal. Default 30 days. */
  readonly credentialsLifetimeMs?: number;
  /** How far a renewal request's time may be from this controller's clock. Default 5 min. */
  readonly renewalMaxSkewMs?: number;
  /**
   * A revocation is dropped from the account JWT this long after every credential it refuses
   * has expired (servers' clocks may differ from this one). Default 10 min.
   */
  readonly revocationGraceMs?: number;
}

/** Default lifetime of node credentials: a laptop may be away (holidays) well within it. */
export const defaultCredentialsLifetimeMs = 30 * 24 * 3600_000;

export class EnrollmentService {
  readonly tokens: TokenStore;
  readonly registry: NodeRegistry;
  /** Serves credential renewals on `lf.renew.<nodeId>` (renewal-service.ts). */
  readonly renewals: RenewalService;
  readonly #d: EnrollmentDeps;
  readonly #lifetimeMs: number;
  #sub: Subscription | undefined;
  #inFlight = 0;
  /** Each request in progress: the step it is at (the stuck-request warning names it). */
  readonly #progress = new Set<EnrollProgress>();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** Pushes the fleet account JWT with the revocations (revocation-push.ts). */
  readonly #revocations: RevocationPush;
  readonly #pending = new Set<Promise<void>>();

  constructor(d: EnrollmentDeps) {
    this.#d = d;
    this.tokens = new TokenStore(d.store.tokens);
    this.registry = new NodeRegistry(d.store.registry);
    this.#lifetimeMs = d.credentialsLifetimeMs ?? defaultCredentialsLifetimeMs;
    this.renewals = new RenewalService({
      nc: d.nc,
      registry: this.registry,
      identity: d.identity,
      clock: d.clock,
      lifetimeMs: this.#lifetimeMs,
      ...(d.renewalMaxSkewMs !== undefined && { maxSkewMs: d.renewalMaxSkewMs }),
    });
    this.#revocations = new RevocationPush({
      nc: d.nc,
      sys: d.sys,
      identity: d.identity,
      registry: this.registry,
      clock: d.clock,
      ...(d.accountResyncMs !== undefined && { accountResyncMs: d.accountResyncMs }),
      ...(d.revocationGraceMs !== undefined && { revocationGraceMs: d.revocationGraceMs }),
      event: (reason, detail, kind) => this.#event(reason, detail, kind),
    });
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
    this.renewals.start();
    this.#watchdog = setInterval(() => this.#warnStuck(), 10_000);
    this.#watchdog.unref();
    this.#revocations.startResync();
  }

  /** Stops serving and waits for requests in progress. */
  async stop(): Promise<void> {
    this.#revocations.stop();
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    await this.renewals.stop();
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
   * servers acknowledged the update, with each server's view of it (revocation-push.ts).
   */
  revokeNode(nodeId: string): Promise<RevokeReport> {
    return this.#revocations.revokeNode(nodeId);
  }

  /** Re-pushes the fleet account JWT with the stored revocations (revocation-push.ts). */
  syncAccount(): Promise<void> {
    return this.#revocations.syncAccount();
  }

  /** Names each request still at one step after 30 s, once (what a stall is waiting for). */
  #warnStuck(): void {
    const now = Date.now();
    for (const p of this.#progress) {
      if (p.warned || now - p.since < 30_000) continue;
      p.warned = true;
      const line = `an enrolment request has been at "${p.step}" for ${Math.round((now - p.since) / 1000)} s (${this.#inFlight} in flight)`;
      this.#d.log?.(line);
      this.#event('enrolment-stuck', line, 'control-error');
    }
  }

  /** Handles one enrolment request (exposed for tests of the decision itself). */
  async handle(
    data: Uint8Array,
    at: EnrollProgress = { step: '', since: 0, warned: false },
  ): Promise<EnrollReply> {
    const step = (name: string): void => {
      at.step = name;
      at.since = Date.now();
    };
    const req = decodeEnrollRequest(data);
    if (!req.ok) {
      this.#event('invalid-request', `${req.error.code}: ${req.error.detail}`);
      return { ok: false, error: 'invalid-request', message: boundedDetail(req.error.detail, 256) };
    }
    const r = req.value;
    const now = this.#d.clock.wallMs();
    // Re-enrolment (credentials expired while the node was away): the node keeps its id when it
    // presents the key it enrolled with; a claim with another key is ignored (a new node).
    step('reading the claimed node');
    const claimed = r.nodeId !== undefined ? await this.registry.get(r.nodeId) : undefined;
    const same = claimed?.publicKey === r.publicKey ? claimed : undefined;
    if (same?.revokedAt !== undefined) {
      this.#event('revoked-token', `re-enrolment of revoked node ${same.nodeId} refused`);
      return { ok: false, error: 'revoked-token', message: 'this node was revoked' };
    }
    step('using the token');
    const check = await this.tokens.use(
      r.token,
      now,
      r.publicKey,
      same?.nodeId ?? nodeIdFromRandom(randomBytes(13)),
    );
    if (!check.ok) {
      if (check.error === 'busy')
        return { ok: false, error: 'internal', message: 'busy: too many enrolments on this token, retry' };
      this.#event(check.error, `enrolment of ${r.hostname} refused`);
      return { ok: false, error: check.error, message: `token refused: ${check.error}` };
    }
    const nodeId = check.nodeId;
    // Signed before the registry records it: a revocation recorded after this covers the JWT
    // (see renewal-service.ts); one recorded before is seen below and nothing is handed out.
    step('signing credentials');
    const creds = await this.#d.identity.nodeCredentials(nodeId, r.publicKey, now + this.#lifetimeMs);
    step('recording the node');
    const recorded = await this.#record(nodeId, r, check.tokenId, now, creds);
    if (recorded !== 'ok') {
      const why = recorded === 'revoked' ? 'this node was revoked' : 'the node id belongs to another key';
      this.#event('revoked-token', `enrolment of ${nodeId} refused: ${why}`);
      return { ok: false, error: recorded === 'revoked' ? 'revoked-token' : 'internal', message: why };
    }
    // Before the node gets its credentials: an agent that finds an index catches up without a
    // consumer (desired/desired-index.ts).
    step('creating the desired-state index');
    await this.#d.store.desiredIndex.ensureExists(nodeId);
    step('reading the trust store');
    const trust = await this.#d.store.trust.get(keys.trustStore);
    if (!trust || trust.operation !== 'PUT') {
      return { ok: false, error: 'internal', message: 'no trust store published yet' };
    }
    return { ok: true, nodeId, jwt: creds.jwt, trustStore: trust.string() };
  }

  /**
   * Registers the node, or records the credentials issued to a known one (a repeat after a lost
   * reply, a re-enrolment), by compare-and-set; says why not when the node is revoked or its
   * record names another key.
   */
  async #record(
    nodeId: string,
    r: EnrollRequest,
    tokenId: string,
    now: number,
    creds: IssuedCredentials,
  ): Promise<'ok' | 'revoked' | 'other-key'> {
    for (let attempt = 1; ; attempt++) {
      const v = await this.registry.getVersioned(nodeId);
      try {
        if (!v) {
          const base: NodeRecord = {
            v: 1,
            nodeId,
            publicKey: r.publicKey,
            hostname: r.hostname,
            inventory: r.inventory,
            tokenId,
            enrolledAt: now,
          };
          await this.registry.add(withCredentials(base, creds, true));
          return 'ok';
        }
        if (v.record.revokedAt !== undefined) return 'revoked';
        if (v.record.publicKey !== r.publicKey) return 'other-key';
        await this.registry.update(withCredentials(v.record, creds), v.revision);
        return 'ok';
      } catch (e) {
        // Two overlapping requests with the same key, or a revocation: read again.
        if (!(e instanceof ConflictError) || attempt >= 5) throw e;
      }
    }
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
    const at: EnrollProgress = { step: 'decoding', since: Date.now(), warned: false };
    this.#progress.add(at);
    const p = this.handle(msg.data, at)
      .catch((e: unknown): EnrollReply => {
        this.#event('internal', messageOf(e));
        return { ok: false, error: 'internal', message: 'enrolment failed; see controller events' };
      })
      .then((reply) => this.#respond(msg, reply))
      .finally(() => {
        this.#inFlight--;
        this.#progress.delete(at);
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

  #event(
    reason: string,
    detail: string,
    kind: 'enroll-refused' | 'control-error' | 'revocations-pruned' = 'enroll-refused',
  ): void {
    publishControllerEvent(this.#d.nc, this.#d.clock, kind, reason, detail);
  }
}

/** Where one enrolment request is (for the stuck-request warning). */
interface EnrollProgress {
  step: string;
  since: number;
  warned: boolean;
}
