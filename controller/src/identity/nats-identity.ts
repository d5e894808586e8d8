/**
 * The controller's NATS identity: mints the server's auth configuration, the credentials of
 * the controller itself, of the bootstrap (enroll) user and of each enrolled node, and pushes
 * account updates (revocations) to the servers.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { UnavailableError, messageOf } from '@launchfleet/shared';
import type { NatsKeys } from './key-store.ts';
import { fleetAccountJwt, freshUserCreds, operatorJwt, systemAccountJwt, userJwt } from './nats-jwts.ts';
import { enrollPermissions, nodePermissions } from './permissions.ts';

/** Revoked user public keys -> unix seconds (JWTs issued at or before are refused). */
export type Revocations = Readonly<Record<string, number>>;

export class NatsIdentity {
  readonly #keys: NatsKeys;
  /** The last account JWT signed, and the revocations it holds (sorted entries as JSON). */
  #lastAccount: { readonly key: string; readonly jwt: string } | undefined;

  constructor(keys: NatsKeys) {
    this.#keys = keys;
  }

  /** The fleet account's public key (the account every Launchfleet client lives in). */
  get accountPublicKey(): string {
    return this.#keys.account.getPublicKey();
  }

  get systemAccountPublicKey(): string {
    return this.#keys.system.getPublicKey();
  }

  /**
   * The nats-server configuration block for operator mode: operator JWT, system account,
   * `resolver: MEMORY` and the preloaded account JWTs. Used by the tests, the local-fleet
   * script and deployments (append to the server's own listen/cluster/jetstream settings).
   */
  async serverAuthConfig(revocations: Revocations = {}): Promise<string> {
    const sys = this.#keys.system.getPublicKey();
    const acc = this.#keys.account.getPublicKey();
    const op = await operatorJwt(this.#keys.operator, sys);
    const sysJwt = await systemAccountJwt(this.#keys.system, this.#keys.operator);
    const accJwt = await fleetAccountJwt(this.#keys.account, this.#keys.operator, revocations);
    return [
      `operator: ${op}`,
      `system_account: ${sys}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${sys}: ${sysJwt}`,
      `  ${acc}: ${accJwt}`,
      '}',
    ].join('\n');
  }

  /** The user JWT of an enrolled node, bound to the public key the node generated. */
  async nodeJwt(nodeId: string, userPublicKey: string): Promise<string> {
    return userJwt(userPublicKey, this.#keys.account, {
      name: nodeId,
      permissions: nodePermissions(nodeId),
      maxPayload: 1024 * 1024,
      maxSubs: 64,
    });
  }

  /** Credentials (JWT + seed) for the controller's own connection: no restrictions in the account. */
  async controllerCreds(): Promise<Uint8Array> {
    return freshUserCreds(this.#keys.account, { name: 'controller' });
  }

  /**
   * Credentials of the shared bootstrap user, handed to installers with a bootstrap token.
   * It can only publish `lf.enroll` and receive on `_E.>`; the enrolment reply holds nothing
   * secret, so sharing it among enrolling agents leaks nothing.
   */
  async enrollCreds(): Promise<Uint8Array> {
    return freshUserCreds(this.#keys.account, {
      name: 'enroll',
      permissions: enrollPermissions(),
      maxPayload: 16 * 1024,
      maxSubs: 4,
    });
  }

  /** Credentials for a system-account connection: it may push fleet account updates, nothing else. */
  async systemCreds(): Promise<Uint8Array> {
    return freshUserCreds(this.#keys.system, {
      name: 'controller-sys',
      permissions: {
        pub: { allow: [this.#claimsUpdateSubject()], deny: [] },
        sub: { allow: ['_INBOX.>'], deny: [] },
      },
    });
  }

  #claimsUpdateSubject(): string {
    return `$SYS.REQ.ACCOUNT.${this.accountPublicKey}.CLAIMS.UPDATE`;
  }

  /**
   * The fleet account JWT with these revocations: the same text as last time when they have not
   * changed. A server that already holds a byte-identical account JWT skips the update ("same
   * claims detected"); a re-signed one (new iat) makes it re-check every connection of the
   * account, which with 10,000 nodes is seconds of broker CPU per push: the periodic resync and
   * its retries then starved the reconnecting agents (fleet bench profile, FLEET-RESULTS.md).
   */
  async accountJwt(revocations: Revocations): Promise<string> {
    const key = JSON.stringify(Object.entries(revocations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (this.#lastAccount?.key === key) return this.#lastAccount.jwt;
    const jwt = await fleetAccountJwt(this.#keys.account, this.#keys.operator, revocations);
    this.#lastAccount = { key, jwt };
    return jwt;
  }

  /**
   * Pushes the fleet account JWT (with its revocations) to the servers over the system
   * account. Every server of a cluster receives the update; the first answer is checked.
   */
  async pushAccount(sys: NatsConnection, revocations: Revocations, timeoutMs = 5000): Promise<void> {
    const jwt = await this.accountJwt(revocations);
    const subject = this.#claimsUpdateSubject();
    let text: string;
    try {
      text = (await sys.request(subject, jwt, { timeout: timeoutMs })).string();
    } catch (e) {
      throw new UnavailableError(`account update not acknowledged: ${messageOf(e)}`, { cause: e });
    }
    let parsed: {
      data?: { code?: number; message?: string };
      error?: { code?: number; description?: string };
    };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new UnavailableError(`account update: unreadable answer ${text.slice(0, 200)}`);
    }
    if (parsed.error || parsed.data?.code !== 200)
      throw new UnavailableError(
        `account update refused: ${parsed.error?.description ?? parsed.data?.message ?? text.slice(0, 200)}`,
      );
  }
}
