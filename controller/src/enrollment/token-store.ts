/**
 * Bootstrap token records in KV `lf_tokens`. Using a token increments its use count with a
 * compare-and-set on the entry's revision, so two controllers (or two concurrent enrolments)
 * can never both take the last use.
 */
import type { KV } from '@nats-io/kv';
import { NotFoundError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages/index';
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
      /** `busy`: too many concurrent enrolments on this token; retry. */
      readonly error: 'bad-token' | 'expired-token' | 'used-token' | 'revoked-token' | 'busy';
    };

export class TokenStore {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Creates a token; the returned text is shown once and never stored. */
  async create(now: number, ttlMs: number, maxUses = 1): Promise<{ token: string; id: string }> {
    const { token, record } = newToken(now, ttlMs, maxUses);
    await this.#kv.create(keys.token(record.id), JSON.stringify(record));
    return { token, id: record.id };
  }

  /** Revokes a token: later enrolments with it are refused. */
  async revoke(id: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await this.#kv.get(keys.token(id));
      const rec = e && e.operation === 'PUT' ? parseTokenRecord(e.string()) : undefined;
      if (!e || !rec) throw new NotFoundError('bootstrap token', id);
      try {
        await this.#kv.update(keys.token(id), JSON.stringify({ ...rec, revoked: true }), e.revision);
        return;
      } catch {
        // revision moved: re-read
      }
    }
    throw new Error(`could not revoke token ${id}: too much contention`);
  }

  /**
   * Checks a presented token for the node key `publicKey` and, if good, takes one use and
   * records the key as `newNodeId`. The same key presented again (its reply was lost) gets its
   * node back without taking a use, as long as the token is not revoked: idempotent per
   * (token, key), so a retrying agent is never locked out by its own first attempt.
   */
  async use(token: string, now: number, publicKey: string, newNodeId: string): Promise<TokenCheck> {
    const parts = splitToken(token);
    if (!parts) return { ok: false, error: 'bad-token' };
    for (let attempt = 0; attempt < 8; attempt++) {
      const e = await this.#kv.get(keys.token(parts.id));
      const rec: TokenRecord | undefined =
        e && e.operation === 'PUT' ? parseTokenRecord(e.string()) : undefined;
      if (!e || !rec || !secretMatches(parts.secret, rec.hash)) return { ok: false, error: 'bad-token' };
      if (rec.revoked) return { ok: false, error: 'revoked-token' };
      const earlier = rec.enrolled?.[publicKey];
      if (earlier !== undefined) return { ok: true, tokenId: rec.id, nodeId: earlier, repeat: true };
      if (now >= rec.expiresAt) return { ok: false, error: 'expired-token' };
      if (rec.uses >= rec.maxUses) return { ok: false, error: 'used-token' };
      const next: TokenRecord = {
        ...rec,
        uses: rec.uses + 1,
        enrolled: { ...(rec.enrolled ?? {}), [publicKey]: newNodeId },
      };
      try {
        await this.#kv.update(keys.token(parts.id), JSON.stringify(next), e.revision);
        return { ok: true, tokenId: rec.id, nodeId: newNodeId, repeat: false };
      } catch {
        // another enrolment took a use meanwhile: re-read and re-check
      }
    }
    // Lost the race every time: the token may still have uses left, so say "retry", not "used".
    return { ok: false, error: 'busy' };
  }
}
