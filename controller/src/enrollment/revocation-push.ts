/**
 * The revocation push: revoking a node marks it in the registry and pushes a fleet account JWT
 * whose revocations include the node's key; the servers disconnect it at once, store the JWT in
 * their account resolver's directory and refuse the node afterwards, also after a restart. The
 * push is answered by every server; then every server is asked which revocations it holds, so
 * the caller can say where the revocation is in force.
 *
 * The JWT is re-pushed on start, every `accountResyncMs` and after every reconnect of either
 * connection (a restarted server that lost its directory starts from the preload). Cut out of
 * enrollment-service.ts, which owns it and shares its connections, registry and event helper.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, messageOf } from '@launchfleet/shared';
import type { ClaimsAck, NatsIdentity, Revocations } from '../identity/nats-identity.ts';
import type { NodeRegistry } from './node-registry.ts';

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

export interface RevocationPushDeps {
  /** The controller's own connection (its reconnects trigger a re-push too). */
  readonly nc: NatsConnection;
  /** A system-account connection, for pushing revocations. */
  readonly sys: NatsConnection;
  readonly identity: NatsIdentity;
  readonly registry: NodeRegistry;
  readonly clock: Clock;
  /** How often the JWT is re-pushed (EnrollmentDeps `accountResyncMs`). Default 30 s; 0 = never. */
  readonly accountResyncMs?: number;
  /** EnrollmentDeps `revocationGraceMs`. Default 10 min. */
  readonly revocationGraceMs?: number;
  /** The enrolment service's controller-event helper. */
  readonly event: (reason: string, detail: string, kind: 'control-error' | 'revocations-pruned') => void;
}

export class RevocationPush {
  readonly #d: RevocationPushDeps;
  #resync: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #resyncing = false;
  /** The revocations last pushed, used when KV cannot be read right after a reconnect. */
  #known: Revocations = {};

  constructor(d: RevocationPushDeps) {
    this.#d = d;
  }

  /** Starts the periodic re-push and the re-push after a reconnect of either connection. */
  startResync(): void {
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

  stop(): void {
    this.#stopped = true;
    if (this.#resync) clearInterval(this.#resync);
    this.#resync = undefined;
  }

  /**
   * Revokes a node: its credentials stop working on every server at once. Resolves once the
   * servers acknowledged the update, with each server's view of it.
   */
  async revokeNode(nodeId: string): Promise<RevokeReport> {
    const { revocations, publicKey } = await this.#d.registry.revoke(nodeId, this.#d.clock.wallMs());
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
   * right now, with the ones this controller last pushed; the periodic resync corrects that),
   * after dropping those whose credentials have all expired (`revocationGraceMs` ago).
   */
  async syncAccount(): Promise<void> {
    const stored = await withTimeout(
      this.#d.registry.pruneRevocations(this.#d.clock.wallMs(), this.#d.revocationGraceMs ?? 10 * 60_000),
      1000,
    )
      .then((p) => {
        if (p.pruned.length > 0)
          this.#d.event(
            'expired',
            `dropped ${p.pruned.length} revoked keys whose credentials all expired: ${p.pruned.join(', ')}`,
            'revocations-pruned',
          );
        return p.revocations;
      })
      .catch(() => undefined);
    const revocations = stored ?? this.#known;
    await this.#d.identity.pushAccount(this.#d.sys, revocations, 2000);
    this.#known = revocations;
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
      if (!this.#stopped) this.#d.event('account-resync-failed', messageOf(last), 'control-error');
    })().finally(() => {
      this.#resyncing = false;
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
