/**
 * NATS decentralised auth for the fleet: one operator, a system account (`SYS`, for pushing
 * account updates) and one fleet account (`LF`, JetStream enabled) whose key signs every
 * user JWT. JWTs are made with `@nats-io/jwt` (ed25519-nkey, which nats-server 2.9 accepts),
 * signed by native Ed25519 key pairs (`@launchfleet/shared/native-nkeys`): the nkeys
 * library's pure-JavaScript pairs cost ~14.5 ms per JWT, native ones well under 1 ms.
 *
 * The servers run the NATS-based `full` account resolver (`serverAuthConfig`): account JWTs
 * live on disk in each server's resolver directory and spread across the cluster. Revocation:
 * the fleet account JWT carries `revocations` (user public key -> time); a new account JWT is
 * pushed through the system account on `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE`, every server
 * stores it, disconnects the revoked users at once and refuses them afterwards, also after a
 * restart. The preloaded account JWTs carry a fixed, old `iat` (`withIssuedAt`): a preload is
 * stored only over an older JWT, so a restart never replaces a pushed JWT with it.
 */
import { createHash } from 'node:crypto';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { type NkeyPair, createNativePair } from '@launchfleet/shared/native-nkeys';
import type { UserPermissions } from './permissions.ts';

/** The unlimited account limits (the JWT library's defaults are 0 = nothing allowed). */
const unlimited = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};
const jetStreamUnlimited = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

export async function operatorJwt(operator: NkeyPair, systemAccount: string): Promise<string> {
  return encodeOperator('launchfleet', operator, { system_account: systemAccount });
}

export async function systemAccountJwt(system: NkeyPair, operator: NkeyPair): Promise<string> {
  return encodeAccount('SYS', system, { limits: unlimited }, { signer: operator });
}

/**
 * The fleet account JWT; `revocations` maps revoked user public keys to unix seconds;
 * `signingKeys` are the account signing keys whose user JWTs the servers accept (besides the
 * account key's own).
 */
export async function fleetAccountJwt(
  account: NkeyPair,
  operator: NkeyPair,
  revocations: Readonly<Record<string, number>>,
  signingKeys: readonly string[] = [],
): Promise<string> {
  return encodeAccount(
    'LF',
    account,
    {
      limits: { ...unlimited, ...jetStreamUnlimited },
      revocations: { ...revocations },
      ...(signingKeys.length > 0 && { signing_keys: [...signingKeys] }),
    },
    { signer: operator },
  );
}

/**
 * The `iat` of the JWTs a server preloads (2020-01-01T00:00:00Z). nats-server's directory
 * resolver stores a preloaded JWT only when its `iat` is not older than the stored one's
 * (`DirJWTStore.saveIfNewer`, 2.9 and 2.10), and the servers' periodic sync merges by the same
 * rule; an old fixed `iat` makes every pushed account JWT win over the preload, on disk and in
 * the sync. Fixed also makes the servers' auth include byte-identical from run to run.
 */
export const preloadIssuedAt = 1_577_836_800;

/**
 * The same JWT with another `iat` (unix seconds), re-signed by `signer` (who signed it first).
 * `jti` is derived from the claims, as the JWT libraries do, so the result is deterministic.
 */
export function withIssuedAt(jwt: string, iat: number, signer: NkeyPair): string {
  const [header, body] = jwt.split('.');
  if (header === undefined || body === undefined) throw new Error('not a JWT');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (claims['iss'] !== signer.getPublicKey()) throw new Error('the JWT was signed by another key');
  delete claims['jti'];
  claims['iat'] = iat;
  claims['jti'] = createHash('sha256').update(JSON.stringify(claims)).digest('base64url');
  const next = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${next}.${Buffer.from(signer.sign(new TextEncoder().encode(next))).toString('base64url')}`;
}

/** Options for a user JWT. */
export interface UserJwtOptions {
  readonly name: string;
  /** Absent: no restrictions. */
  readonly permissions?: UserPermissions;
  /** Unix seconds; absent: no expiry. */
  readonly expires?: number;
  /** Payload and subscription caps for this user. */
  readonly maxPayload?: number;
  readonly maxSubs?: number;
}

/**
 * A user JWT for `userPublicKey` in the account `issuer`, signed by `signer` (one of the
 * account's signing keys: the JWT then names the account as `issuer_account`) or by the account
 * key itself.
 */
export async function userJwt(
  userPublicKey: string,
  issuer: NkeyPair,
  o: UserJwtOptions,
  signer?: NkeyPair,
): Promise<string> {
  const p = o.permissions;
  return encodeUser(
    o.name,
    userPublicKey,
    issuer,
    {
      subs: o.maxSubs ?? -1,
      data: -1,
      payload: o.maxPayload ?? -1,
      ...(p && {
        pub: { allow: [...p.pub.allow], deny: [...p.pub.deny] },
        sub: { allow: [...p.sub.allow], deny: [...p.sub.deny] },
        ...(p.resp && { resp: { ...p.resp } }),
      }),
    },
    {
      ...(o.expires !== undefined && { exp: o.expires }),
      ...(signer && signer.getPublicKey() !== issuer.getPublicKey() && { signer }),
    },
  );
}

/** Credentials for a fresh, in-memory user key (controller's own connections). */
export async function freshUserCreds(
  issuer: NkeyPair,
  o: UserJwtOptions,
  signer?: NkeyPair,
): Promise<Uint8Array> {
  const u = createNativePair('user');
  const jwt = await userJwt(u.getPublicKey(), issuer, o, signer);
  return fmtCreds(jwt, u);
}
