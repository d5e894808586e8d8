/**
 * Console sessions in KV `lf_console` (every controller reads the same bucket, so a session
 * survives a controller restart and works on any controller). The cookie carries 32 random
 * bytes; the key is their SHA-256, so whoever can read the bucket still cannot present a
 * session. The record holds the SHA-256 of the API token: the role is looked up in the token
 * table on every request, so a token removed from the file (and a controller restarted) ends
 * its sessions. The bucket's max age bounds every record; the record's own `expiresAt` is the
 * expiry the console enforces.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { buckets } from '@launchfleet/shared/messages';
import { createBucket } from '../identity/stream-limits.ts';
import { type SessionRecord, decodeSession, encodeSession, isExpired } from './core/request-guard.ts';

const keyOf = (id: string): string => createHash('sha256').update(id).digest('hex');

export class SessionStore {
  readonly #kv: KV;
  readonly #ttlMs: number;

  private constructor(kv: KV, ttlMs: number) {
    this.#kv = kv;
    this.#ttlMs = ttlMs;
  }

  static async open(nc: NatsConnection, o: { replicas: number; ttlMs: number }): Promise<SessionStore> {
    const kv = await createBucket(nc, buckets.consoleSessions, {
      replicas: o.replicas,
      history: 1,
      // The bucket forgets a record a little after it expired (JetStream max age, whole bucket).
      ttlMs: o.ttlMs + 60_000,
      maxValueSize: 1024,
    });
    return new SessionStore(kv, o.ttlMs);
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Starts a session; returns the cookie value (never stored) and the record. */
  async create(
    tokenSha256: string,
    name: string,
    now: number,
  ): Promise<{ id: string; record: SessionRecord }> {
    const id = randomBytes(32).toString('base64url');
    const record: SessionRecord = {
      v: 1,
      tokenSha256,
      name,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.#ttlMs,
    };
    await this.#kv.create(keyOf(id), encodeSession(record));
    return { id, record };
  }

  /** The live session of a cookie value, or undefined (unknown, expired, or malformed). */
  async get(id: string, now: number): Promise<SessionRecord | undefined> {
    const e = await this.#kv.get(keyOf(id));
    if (!e || e.operation !== 'PUT') return undefined;
    const r = decodeSession(e.string());
    if (!r || isExpired(r, now)) return undefined;
    return r;
  }

  /** Ends a session (sign-out). */
  async delete(id: string): Promise<void> {
    await this.#kv.delete(keyOf(id));
  }
}
