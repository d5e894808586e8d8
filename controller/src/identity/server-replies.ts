/**
 * nats-server's answers to the system account's requests the controller makes, typed: a claims
 * update (`$SYS.REQ.CLAIMS.UPDATE`) and an accounts ping (`$SYS.REQ.SERVER.PING.ACCOUNTZ`). Both
 * are its ServerAPIResponse: `{server: {name, id, ...}, data: ..., error?: {code, description}}`.
 * Read from the wire, so every field is checked and a missing or mistyped one is `undefined`,
 * never a made-up default.
 */

/** The part of a ServerAPIResponse read here. */
export interface ServerApiReply {
  /** The answering server: its `server_name`, else its id; undefined when it gave neither. */
  readonly server: string | undefined;
  /** `data` when it is an object. */
  readonly data: Readonly<Record<string, unknown>> | undefined;
  /** `error` when present (an object); its fields as far as typed. */
  readonly error: { readonly code: number | undefined; readonly description: string | undefined } | undefined;
}

type Fields = Readonly<Record<string, unknown>>;
const fields = (v: unknown): Fields | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Fields) : undefined;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/** Decodes one answer; undefined when it is not JSON or not an object. */
export function decodeServerApiReply(raw: string): ServerApiReply | undefined {
  let doc: Fields | undefined;
  try {
    doc = fields(JSON.parse(raw));
  } catch {
    return undefined;
  }
  if (!doc) return undefined;
  const server = fields(doc['server']);
  const error = doc['error'] === undefined ? undefined : (fields(doc['error']) ?? {});
  return {
    server: text(server?.['name']) ?? text(server?.['id']),
    data: fields(doc['data']),
    error: error && { code: count(error['code']), description: text(error['description']) },
  };
}

/** A claims update's answer: accepted when there is no error and `data.code` is 200. */
export function claimsUpdateOutcome(reply: ServerApiReply): {
  readonly ok: boolean;
  readonly message: string | undefined;
} {
  const message = text(reply.data?.['message']);
  if (reply.error !== undefined || count(reply.data?.['code']) !== 200)
    return { ok: false, message: reply.error?.description ?? message };
  return { ok: true, message };
}

/** What an ACCOUNTZ answer says of one account (`data.account_detail`), when it has it. */
export interface AccountDetail {
  /** `iat` of the account JWT in use (unix seconds). */
  readonly issuedAt: number | undefined;
  /** Revoked user keys -> when (unix seconds); entries whose time does not parse are left out. */
  readonly revoked: Readonly<Record<string, number>>;
}

export function accountDetail(reply: ServerApiReply): AccountDetail | undefined {
  const detail = fields(reply.data?.['account_detail']);
  if (!detail || Object.keys(detail).length === 0) return undefined;
  const revoked: Record<string, number> = {};
  for (const [user, at] of Object.entries(fields(detail['revoked_user']) ?? {})) {
    const t = Date.parse(text(at) ?? '');
    if (Number.isFinite(t)) revoked[user] = Math.round(t / 1000);
  }
  return { issuedAt: count(fields(detail['decoded_jwt'])?.['iat']), revoked };
}
