/**
 * Bootstrap tokens: `lfbt_<id>_<secret>`, a 64-bit id (16 hex) naming the record and a
 * 256-bit secret (43 base64url). Only the SHA-256 of the secret is stored; with 256 random
 * bits a plain hash is enough (no password stretching needed) and comparison is constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { bootstrapTokenPattern } from '@launchfleet/shared/messages';

/** The stored record of a token (KV `lf_tokens`, key = id). Never holds the secret. */
export interface TokenRecord {
  readonly v: 1;
  readonly id: string;
  /** SHA-256 hex of the secret. */
  readonly hash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly maxUses: number;
  readonly uses: number;
  readonly revoked: boolean;
  /**
   * Node keys that enrolled with this token, and the node each became (public key -> node id),
   * so a repeated request after a lost reply gets the same node instead of another use.
   */
  readonly enrolled?: Readonly<Record<string, string>>;
}

/** Makes a new token: the text to hand out once, and the record to store. */
export function newToken(
  now: number,
  ttlMs: number,
  maxUses: number,
): { token: string; record: TokenRecord } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `lfbt_${id}_${secret}`,
    record: {
      v: 1,
      id,
      hash: hashSecret(secret),
      createdAt: now,
      expiresAt: now + ttlMs,
      maxUses,
      uses: 0,
      revoked: false,
    },
  };
}

/** Splits a token into id and secret, or undefined when it is not shaped like one. */
export function splitToken(token: string): { id: string; secret: string } | undefined {
  if (!bootstrapTokenPattern.test(token)) return undefined;
  return { id: token.slice(5, 21), secret: token.slice(22) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, hash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Reads a stored record; undefined if it is not one. */
export function parseTokenRecord(text: string): TokenRecord | undefined {
  try {
    const o = JSON.parse(text) as Partial<TokenRecord>;
    if (
      o.v === 1 &&
      typeof o.id === 'string' &&
      typeof o.hash === 'string' &&
      typeof o.expiresAt === 'number' &&
      typeof o.maxUses === 'number' &&
      typeof o.uses === 'number' &&
      typeof o.revoked === 'boolean' &&
      typeof o.createdAt === 'number' &&
      (o.enrolled === undefined ||
        (typeof o.enrolled === 'object' &&
          o.enrolled !== null &&
          Object.values(o.enrolled).every((v) => typeof v === 'string')))
    )
      return o as TokenRecord;
  } catch {
    // fallthrough
  }
  return undefined;
}
