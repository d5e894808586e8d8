/**
 * NATS decentralised auth for the fleet: one operator, a system account (`SYS`, for pushing
 * account updates) and one fleet account (`LF`, JetStream enabled) whose key signs every
 * user JWT. JWTs are made with `@nats-io/jwt` (ed25519-nkey, which nats-server 2.9 accepts),
 * signed by native Ed25519 key pairs (`@launchfleet/shared/crypto/native-nkeys`): the nkeys
 * library's pure-JavaScript pairs cost ~14.5 ms per JWT, native ones well under 1 ms.
 *
 * The server runs with `resolver: MEMORY` and the account JWTs preloaded (`serverAuthConfig`).
 * Revocation: the fleet account JWT carries `revocations` (user public key -> time); a new
 * account JWT is pushed through the system account on `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE`,
 * and every server disconnects the revoked users at once and refuses them afterwards. With a
 * MEMORY resolver a restarted server starts again from the preloaded JWT, so the controller
 * re-pushes the current account JWT whenever it (re)connects (`NatsIdentity.pushAccount`).
 */
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { type NkeyPair, createNativePair } from '@launchfleet/shared/crypto/native-nkeys';
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

/** The fleet account JWT; `revocations` maps revoked user public keys to unix seconds. */
export async function fleetAccountJwt(
  account: NkeyPair,
  operator: NkeyPair,
  revocations: Readonly<Record<string, number>>,
): Promise<string> {
  return encodeAccount(
    'LF',
    account,
    { limits: { ...unlimited, ...jetStreamUnlimited }, revocations: { ...revocations } },
    { signer: operator },
  );
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

/** A user JWT for `userPublicKey`, signed by `issuer` (an account key). */
export async function userJwt(userPublicKey: string, issuer: NkeyPair, o: UserJwtOptions): Promise<string> {
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
    o.expires !== undefined ? { exp: o.expires } : {},
  );
}

/** Credentials for a fresh, in-memory user key (controller's own connections). */
export async function freshUserCreds(issuer: NkeyPair, o: UserJwtOptions): Promise<Uint8Array> {
  const u = createNativePair('user');
  const jwt = await userJwt(u.getPublicKey(), issuer, o);
  return fmtCreds(jwt, u);
}
