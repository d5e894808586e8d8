/**
 * Exclusivity: one driver per rollout. A lease is a KV entry `lease.<rolloutId>` in
 * `lf_rollouts` holding `{ holder, expiresAt }`. It is taken with `create` (free), renewed by
 * its holder with compare-and-set on its revision, and taken over by another controller only
 * after it expired, again by compare-and-set: of two controllers that saw the same expired
 * lease, one wins. nats-server 2.9 ignores per-key TTLs, hence the explicit expiry.
 *
 * Assumption: controller clocks agree to well within the lease time (NTP). The lease alone is
 * not the whole guard: every state change is itself a compare-and-set on the rollout record,
 * so a driver that lost its lease while paused (GC, a slow disk) cannot write over a newer state.
 */
import type { KV } from '@nats-io/kv';
import { type Clock, messageOf } from '@launchfleet/shared';
import { natsError } from '@launchfleet/shared/nats-errors';
import { isRecord, keys } from '@launchfleet/shared/messages';
import { isWrongRevision } from './kv-cas.ts';

/** The stored lease. */
export interface LeaseValue {
  readonly holder: string;
  readonly expiresAt: number;
}

export class RolloutLease {
  readonly #kv: KV;
  readonly holder: string;
  readonly ttlMs: number;
  readonly #clock: Clock;

  constructor(kv: KV, holder: string, ttlMs: number, clock: Clock) {
    this.#kv = kv;
    this.holder = holder;
    this.ttlMs = ttlMs;
    this.#clock = clock;
  }

  /** The current lease, if any (a malformed one counts as expired). */
  async read(rolloutId: string): Promise<{ value: LeaseValue | undefined; revision: number } | undefined> {
    const e = await this.#kv.get(keys.rolloutLease(rolloutId));
    if (!e) return undefined;
    if (e.operation !== 'PUT') return { value: undefined, revision: e.revision };
    let o: unknown;
    try {
      o = JSON.parse(e.string());
    } catch {
      o = undefined;
    }
    const value =
      isRecord(o) && typeof o['holder'] === 'string' && typeof o['expiresAt'] === 'number'
        ? { holder: o['holder'], expiresAt: o['expiresAt'] }
        : undefined;
    return { value, revision: e.revision };
  }

  /**
   * Takes or renews the lease. True when this holder has it until now + ttl; false when another
   * holder's unexpired lease stands or another controller won the race.
   */
  async acquire(rolloutId: string): Promise<boolean> {
    return (await this.acquireOrWait(rolloutId)).held;
  }

  /** As `acquire`, and when not held, how long until the other holder's lease expires. */
  async acquireOrWait(
    rolloutId: string,
  ): Promise<{ readonly held: true } | { readonly held: false; readonly retryInMs: number }> {
    const now = this.#clock.wallMs();
    const next = JSON.stringify({ holder: this.holder, expiresAt: now + this.ttlMs } satisfies LeaseValue);
    const k = keys.rolloutLease(rolloutId);
    try {
      const cur = await this.read(rolloutId);
      if (!cur) {
        await this.#kv.create(k, next);
        return { held: true };
      }
      const v = cur.value;
      if (v && v.holder !== this.holder && v.expiresAt > now)
        return { held: false, retryInMs: v.expiresAt - now + 50 };
      await this.#kv.update(k, next, cur.revision);
      return { held: true };
    } catch (e) {
      // Another controller won the race for it: it holds it for a whole lease time.
      if (isWrongRevision(e) || /exists/i.test(messageOf(e))) return { held: false, retryInMs: this.ttlMs };
      throw natsError(e, `taking the lease of rollout ${rolloutId}`);
    }
  }

  /** Gives the lease up if this holder has it (a clean stop), so another driver need not wait for expiry. */
  async release(rolloutId: string): Promise<void> {
    const cur = await this.read(rolloutId);
    if (!cur?.value || cur.value.holder !== this.holder) return;
    await this.#kv.delete(keys.rolloutLease(rolloutId), { previousSeq: cur.revision }).catch(() => undefined);
  }
}
