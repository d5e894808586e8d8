/**
 * The controller's NATS identity: mints the server's auth configuration, the credentials of
 * the controller itself, of the bootstrap (enroll) user and of each enrolled node, and pushes
 * account updates (revocations) to the servers.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidArgumentError, UnavailableError, messageOf } from '@launchfleet/shared';
import type { NativeKeyPair } from '@launchfleet/shared/native-nkeys';
import type { NatsKeys } from './key-store.ts';
import {
  fleetAccountJwt,
  freshUserCreds,
  operatorJwt,
  preloadIssuedAt,
  systemAccountJwt,
  userJwt,
  withIssuedAt,
} from './nats-jwts.ts';
import { enrollPermissions, nodePermissions } from './permissions.ts';
import { accountDetail, claimsUpdateOutcome, decodeServerApiReply } from './server-replies.ts';

/** Revoked user public keys -> unix seconds (JWTs issued at or before are refused). */
export type Revocations = Readonly<Record<string, number>>;

/** A user JWT just signed, and what the registry records about it. */
export interface IssuedCredentials {
  readonly jwt: string;
  /** `iat` in ms. */
  readonly issuedAt: number;
  /** `exp` in ms; undefined: it never expires. */
  readonly expiresAt: number | undefined;
  /** The account key that signed it. */
  readonly issuer: string;
}

/** The `iat` of a JWT (unix seconds), read without verifying it. */
export function jwtIssuedAt(jwt: string): number {
  const part = jwt.split('.')[1] ?? '';
  const iat = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { iat?: unknown }).iat;
  if (typeof iat !== 'number') throw new Error('JWT without iat');
  return iat;
}

/** Where the servers keep account JWTs. */
export interface ServerAuthOptions {
  /** The `full` resolver's directory (default `jwt`, relative to the server's working directory). */
  readonly resolverDir?: string;
  /** How often each server compares its account JWTs with the cluster's (Go duration; default 1m). */
  readonly syncInterval?: string;
}

/** One server's answer to an account update (`$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE`). */
export interface ClaimsAck {
  /** The server's name (`server_name`). */
  readonly server: string;
  readonly ok: boolean;
  /** "jwt updated", or the server's error. */
  readonly message: string;
}

/** What one server holds for the fleet account (`$SYS.REQ.SERVER.PING.ACCOUNTZ`). */
export interface ServerAccountView {
  readonly server: string;
  /** `iat` of the account JWT the server uses (unix seconds). */
  readonly issuedAt: number | undefined;
  /** The revocations in force on that server: user public key -> unix seconds. */
  readonly revoked: Revocations;
}

export class NatsIdentity {
  readonly #keys: NatsKeys;
  /** The last account JWT signed, and the revocations it holds (sorted entries as JSON). */
  #lastAccount: { readonly key: string; readonly jwt: string } | undefined;

  constructor(keys: NatsKeys) {
    this.#keys = keys;
  }

  /** What signs user JWTs: the account's active signing key, or the account key itself. */
  get #signer(): NativeKeyPair {
    return this.#keys.userSigner ?? this.#keys.account;
  }

  /** The fleet account's public key (the account every Launchfleet client lives in). */
  get accountPublicKey(): string {
    return this.#keys.account.getPublicKey();
  }

  get systemAccountPublicKey(): string {
    return this.#keys.system.getPublicKey();
  }

  /**
   * The nats-server configuration block for operator mode: operator JWT, system account, the
   * NATS-based `full` account resolver and the preloaded account JWTs. Used by the tests, the
   * local-fleet script and deployments (append to the server's own listen/cluster/jetstream
   * settings).
   *
   * The resolver keeps every account JWT it is pushed (with its revocations) in `resolverDir`
   * and syncs it with the other servers of the cluster every `syncInterval`, so a server that
   * restarts refuses revoked users at once, controller or not. A relative `resolverDir` is
   * relative to the server's working directory. The preloads (SYS and the fleet account, no
   * revocations) carry a fixed old `iat` (`preloadIssuedAt`): they only fill an empty
   * directory and never win over a pushed JWT, on this server or in the sync.
   */
  async serverAuthConfig(o: ServerAuthOptions = {}): Promise<string> {
    const sys = this.#keys.system.getPublicKey();
    const acc = this.#keys.account.getPublicKey();
    const op = await operatorJwt(this.#keys.operator, sys);
    const sysJwt = withIssuedAt(
      await systemAccountJwt(this.#keys.system, this.#keys.operator),
      preloadIssuedAt,
      this.#keys.operator,
    );
    const accJwt = withIssuedAt(
      await fleetAccountJwt(this.#keys.account, this.#keys.operator, {}, this.#keys.accountSigningKeys),
      preloadIssuedAt,
      this.#keys.operator,
    );
    const dir = o.resolverDir ?? 'jwt';
    if (!/^[^"\\\n]+$/.test(dir))
      throw new InvalidArgumentError(`unusable resolver directory ${dir}`, 'resolverDir');
    return [
      `operator: ${withIssuedAt(op, preloadIssuedAt, this.#keys.operator)}`,
      `system_account: ${sys}`,
      'resolver: {',
      '  type: full',
      `  dir: "${dir}"`,
      // Never delete an account JWT on request: nothing here needs it, and it would drop revocations.
      '  allow_delete: false',
      `  interval: "${o.syncInterval ?? '1m'}"`,
      '}',
      'resolver_preload: {',
      `  ${sys}: ${sysJwt}`,
      `  ${acc}: ${accJwt}`,
      '}',
    ].join('\n');
  }

  /** The user JWT of an enrolled node, bound to the public key the node generated (no expiry). */
  async nodeJwt(nodeId: string, userPublicKey: string): Promise<string> {
    return (await this.nodeCredentials(nodeId, userPublicKey, undefined)).jwt;
  }

  /**
   * Credentials for an enrolled node: a user JWT bound to the public key the node generated,
   * with the *current* node permissions (so every renewal also brings a node's permissions up to
   * date), expiring at `expiresAtMs` (rounded down to the second; undefined: never).
   */
  async nodeCredentials(
    nodeId: string,
    userPublicKey: string,
    expiresAtMs: number | undefined,
  ): Promise<IssuedCredentials> {
    const exp = expiresAtMs === undefined ? undefined : Math.floor(expiresAtMs / 1000);
    const jwt = await userJwt(
      userPublicKey,
      this.#keys.account,
      {
        name: nodeId,
        permissions: nodePermissions(nodeId),
        maxPayload: 1024 * 1024,
        maxSubs: 64,
        ...(exp !== undefined && { expires: exp }),
      },
      this.#signer,
    );
    const iat = jwtIssuedAt(jwt);
    return {
      jwt,
      issuedAt: iat * 1000,
      expiresAt: exp === undefined ? undefined : exp * 1000,
      issuer: this.#signer.getPublicKey(),
    };
  }

  /** The public key that signs node JWTs now: the active account signing key, or the account's own. */
  get nodeSignerPublicKey(): string {
    return this.#signer.getPublicKey();
  }

  /**
   * Credentials (JWT + seed) for the controller's own connection: no restrictions in the account.
   * Signed by the account key itself, not by a signing key: the controller connects before it
   * pushes the account JWT that lists a newly added signing key, and the servers accept the
   * account's own signature whatever signing keys they know (README.md, "Key rotation").
   */
  async controllerCreds(): Promise<Uint8Array> {
    return freshUserCreds(this.#keys.account, { name: 'controller' });
  }

  /**
   * Credentials of the shared bootstrap user, handed to installers with a bootstrap token.
   * It can only publish `lf.enroll` and receive on `_E.>`; the enrolment reply holds nothing
   * secret, so sharing it among enrolling agents leaks nothing. Signed by the account key
   * itself: they travel inside bootstrap tokens made long before, which a retired signing key
   * must not void.
   */
  async enrollCreds(): Promise<Uint8Array> {
    return freshUserCreds(this.#keys.account, {
      name: 'enroll',
      permissions: enrollPermissions(),
      maxPayload: 16 * 1024,
      maxSubs: 4,
    });
  }

  /**
   * Credentials for a system-account connection: it may push fleet account updates and ask the
   * servers which account JWT they use (to say where a revocation is in force), nothing else.
   */
  async systemCreds(): Promise<Uint8Array> {
    return freshUserCreds(this.#keys.system, {
      name: 'controller-sys',
      permissions: {
        pub: { allow: [this.#claimsUpdateSubject(), accountzSubject], deny: [] },
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
    const jwt = await fleetAccountJwt(
      this.#keys.account,
      this.#keys.operator,
      revocations,
      this.#keys.accountSigningKeys,
    );
    this.#lastAccount = { key, jwt };
    return jwt;
  }

  /**
   * Pushes the fleet account JWT (with its revocations) to the servers over the system
   * account. Every server of a cluster receives the update and answers; with `allAcks` the
   * answers are collected until none came for 250 ms (or `timeoutMs` passed), else the first
   * is enough. Throws when no server acknowledged, or one refused.
   */
  async pushAccount(
    sys: NatsConnection,
    revocations: Revocations,
    timeoutMs = 5000,
    o: { readonly allAcks?: boolean } = {},
  ): Promise<ClaimsAck[]> {
    const jwt = await this.accountJwt(revocations);
    const subject = this.#claimsUpdateSubject();
    const texts: string[] = [];
    try {
      if (o.allAcks) {
        const replies = await sys.requestMany(subject, jwt, {
          strategy: 'stall',
          stall: 250,
          maxWait: timeoutMs,
        });
        for await (const m of replies) texts.push(m.string());
      } else texts.push((await sys.request(subject, jwt, { timeout: timeoutMs })).string());
    } catch (e) {
      throw new UnavailableError(`account update not acknowledged: ${messageOf(e)}`, { cause: e });
    }
    if (texts.length === 0) throw new UnavailableError('account update not acknowledged by any server');
    const acks = texts.map(parseClaimsAck);
    const refused = acks.find((a) => !a.ok);
    if (refused)
      throw new UnavailableError(`account update refused by ${refused.server}: ${refused.message}`);
    return acks;
  }

  /**
   * Asks every server which fleet account JWT it uses and which revocations are in force there
   * (`$SYS.REQ.SERVER.PING.ACCOUNTZ`, answered by each server of the cluster). Collects answers
   * until none came for 250 ms or `timeoutMs` passed.
   */
  async accountOnServers(sys: NatsConnection, timeoutMs = 3000): Promise<ServerAccountView[]> {
    const replies = await sys.requestMany(
      accountzSubject,
      JSON.stringify({ account: this.accountPublicKey }),
      { strategy: 'stall', stall: 250, maxWait: timeoutMs },
    );
    const out: ServerAccountView[] = [];
    for await (const m of replies) {
      const v = parseAccountz(m.string());
      if (v) out.push(v);
    }
    return out.sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
  }
}

/** Every server answers a ping of its accounts (with a filter: one account's detail). */
const accountzSubject = '$SYS.REQ.SERVER.PING.ACCOUNTZ';

/** One answer to a claims update (server-replies.ts reads it). */
function parseClaimsAck(raw: string): ClaimsAck {
  const reply = decodeServerApiReply(raw);
  if (!reply) return { server: '?', ok: false, message: `unreadable answer ${raw.slice(0, 200)}` };
  const { ok, message } = claimsUpdateOutcome(reply);
  return { server: reply.server ?? '?', ok, message: message ?? (ok ? '' : raw.slice(0, 200)) };
}

/** One server's ACCOUNTZ answer for the fleet account, or undefined when it has none. */
function parseAccountz(raw: string): ServerAccountView | undefined {
  const reply = decodeServerApiReply(raw);
  const detail = reply && accountDetail(reply);
  if (!reply?.server || !detail) return undefined;
  return { server: reply.server, issuedAt: detail.issuedAt, revoked: detail.revoked };
}
