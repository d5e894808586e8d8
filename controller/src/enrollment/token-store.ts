/**
 * Bootstrap token records in KV `lf_tokens`. Using a token increments its use count with a
 * compare-and-set on the entry's revision, so two controllers (or two concurrent enrolments)
 * can never both take the last use. A lost compare-and-set is retried after a short random
 * pause (many agents enrolling with one multi-use token all race for the same entry); only if
 * it keeps losing is the answer `busy`, never `used-token` while uses remain.
 */
import type { KV } from '@nats-io/kv';
import { NotFoundError, UnavailableError, messageOf } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import {
  type TokenRecord,
  newToken,
  parseTokenRecord,
  secretMatches,
  splitToken,
} from './bootstrap-token.ts';

/** Outcome of presenting a token. */
export type TokenCheck =
  | {
      readonly ok: true;
      readonly tokenId: string;
      /** The node for this key: `newNodeId`, or the one an earlier request with the same key got. */
      readonly nodeId: string;
      /** The same key enrolled with this token before (its reply was lost): no use was taken. */
      readonly repeat: boolean;
    }
  | {
      readonly ok: false;
      /** `busy`: lost the compare-and-set on this token every time (heavy contention); retry. */
      readonly error: 'bad-token' | 'expired-token' | 'used-token' | 'revoked-token' | 'busy';
    };

/**
 * How many enrolled keys a token record remembers (the newest). The record must stay under
 * the bucket's value limit (4 KiB; ~85 bytes per key) whatever `maxUses` is. A key forgotten
 * after this many later enrolments on the same token that retries takes a new use (a new node
 * id) instead of getting its old one back; a one-use token only ever holds one key.
 */
export const rememberedKeysPerToken = 32;

/** Retry tuning for the compare-and-set loop. */
export interface TokenStoreOptions {
  /** Attempts before answering `busy` (default 16). */
  readonly maxAttempts?: number;
  /** Upper bound of the random pause after the n-th lost race (default min(4 * 2^n, 100) ms). */
  readonly backoffMs?: (attempt: number) => number;
}

/** True for JetStream's "wrong last sequence": the entry moved since it was read. */
export function isWrongRevision(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const apiCode = (e as { api_error?: { err_code?: unknown } } | null)?.api_error?.err_code;
  return code === 10071 || apiCode === 10071 || /wrong last sequence/i.test(messageOf(e));
}

export class TokenStore {
  readonly #kv: KV;
  readonly #maxAttempts: number;
  readonly #backoffMs: (attempt: number) => number;

  constructor(kv: KV, o: TokenStoreOptions = {}) {
    this.#kv = kv;
    this.#maxAttempts = Math.max(1, o.maxAttempts ?? 16);
    this.#backoffMs = o.backoffMs ?? ((n) => Math.min(4 * 2 ** n, 100));
  }

  /** A random pause in [0, bound) after the n-th lost race, so the racers spread out. */
  async #pause(attempt: number): Promise<void> {
    const ms = Math.random() * this.#backoffMs(attempt);
    if (ms >= 1) await new Promise((r) => setTimeout(r, ms));
  }

  /**
   * Compare-and-set write; false when the entry moved (re-read and re-decide), any other
   * failure (no answer, value too large, ...) is thrown: retrying it would not help and
   * must not be reported as contention.
   */
  async #cas(id: string, rec: TokenRecord, revision: number): Promise<boolean> {
    try {
      await this.#kv.update(keys.token(id), JSON.stringify(rec), revision);
      return true;
    } catch (e) {
      if (isWrongRevision(e)) return false;
      throw e;
    }
  }

  /** Creates a token; the returned text is shown once and never stored. */
  async create(now: number, ttlMs: number, maxUses = 1): Promise<{ token: string; id: string }> {
    const { token, record } = newToken(now, ttlMs, maxUses);
    await this.#kv.create(keys.token(record.id), JSON.stringify(record));
    return { token, id: record.id };
  }

  /** Revokes a token: later enrolments with it are refused. */
  async revoke(id: string): Promise<void> {
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      if (attempt > 0) await this.#pause(attempt);
      const e = await this.#kv.get(keys.token(id));
      const rec = e && e.operation === 'PUT' ? parseTokenRecord(e.string()) : undefined;
      if (!e || !rec) throw new NotFoundError('bootstrap token', id);
      if (rec.revoked) return;
      if (await this.#cas(id, { ...rec, revoked: true }, e.revision)) return;
    }
    throw new UnavailableError(`could not revoke token ${id}: too much contention, retry`);
  }

  /**
   * Checks a presented token for the node key `publicKey` and, if good, takes one use and
   * records the key as `newNodeId`. The same key presented again (its reply was lost) gets its
   * node back without taking a use, as long as the token is not revoked and not expired for
   * longer than `repeatGraceMs`: idempotent per (token, key), so a retrying agent is never
   * locked out by its own first attempt, but an old token is no standing way to fresh
   * credentials (a node whose credentials expired comes back with a new token).
   */
  async use(token: string, now: number, publicKey: string, newNodeId: string): Promise<TokenCheck> {
    const parts = splitToken(token);
    if (!parts) return { ok: false, error: 'bad-token' };
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      if (attempt > 0) await this.#pause(attempt);
      const e = await this.#kv.get(keys.token(parts.id));
      const rec: TokenRecord | undefined =
        e && e.operation === 'PUT' ? parseTokenRecord(e.string()) : undefined;
      if (!e || !rec || !secretMatches(parts.secret, rec.hash)) return { ok: false, error: 'bad-token' };
      if (rec.revoked) return { ok: false, error: 'revoked-token' };
      const earlier = rec.enrolled?.[publicKey];
      if (earlier !== undefined) {
        if (now >= rec.expiresAt + repeatGraceMs) return { ok: false, error: 'expired-token' };
        return { ok: true, tokenId: rec.id, nodeId: earlier, repeat: true };
      }
      if (now >= rec.expiresAt) return { ok: false, error: 'expired-token' };
      if (rec.uses >= rec.maxUses) return { ok: false, error: 'used-token' };
      const next: TokenRecord = {
        ...rec,
        uses: rec.uses + 1,
        enrolled: remember(rec.enrolled, publicKey, newNodeId),
      };
      if (await this.#cas(parts.id, next, e.revision))
        return { ok: true, tokenId: rec.id, nodeId: newNodeId, repeat: false };
      // another enrolment took a use meanwhile: re-read and re-check
    }
    // Lost the race every time: the token may still have uses left, so say "retry", not "used".
    return { ok: false, error: 'busy' };
  }
}

/** How long after its expiry a token still answers a repeated key (a retry after a lost reply). */
export const repeatGraceMs = 10 * 60_000;

/** The enrolled-keys map with one more key, keeping the newest `rememberedKeysPerToken`. */
function remember(
  enrolled: Readonly<Record<string, string>> | undefined,
  publicKey: string,
  nodeId: string,
): Record<string, string> {
  // Insertion order is enrolment order (keys are never integer-like: they start with 'U').
  const kept = Object.entries(enrolled ?? {}).slice(-(rememberedKeysPerToken - 1));
  return { ...Object.fromEntries(kept), [publicKey]: nodeId };
}
