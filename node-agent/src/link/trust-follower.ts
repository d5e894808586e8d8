/**
 * Follows the trust store (key `store` of `lf_trust`) without a JetStream consumer.
 *
 * nats-server 2.9 matches every stored message against every consumer of a stream, and every
 * ordered consumer sends idle heartbeats: one KV watch per node on a key that changes only at
 * key rotation is the biggest idle cost of a large fleet. A KV put is a plain publish on the
 * key's subject (`$KV.lf_trust.store`, the value is the message body; a delete or purge is an
 * empty body with a `KV-Operation: DEL|PURGE` header), so a core subscription sees every
 * update made while the node is connected. What it cannot see is covered by direct gets:
 *
 * ```
 *  start ─▶ subscribe $KV.lf_trust.store ─▶ direct get (after the SUB: no update falls between)
 *  live put ─────────────▶ judge (acceptTrustStore) ─▶ apply / report
 *  reconnect (status) ──┐
 *  every refreshMs ─────┴▶ direct get ─▶ judge ─▶ apply / report (or stay silent if stale)
 * ```
 *
 * Nothing `acceptTrustStore` refuses is ever applied. What is said about a refused store (a
 * get racing a live update, a lagging replica, a store not stored yet when it was read, versus
 * a store really rolled back in the bucket) is decided by core/trust-judge.ts.
 */
import { createHash } from 'node:crypto';
import type { Msg, NatsConnection, Status, Subscription } from '@nats-io/transport-node';
import { type KV, Kvm } from '@nats-io/kv';
import { messageOf } from '@launchfleet/shared/errors';
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import { buckets, keys, kvSubject } from '@launchfleet/shared/messages';
import { type TrustStore, acceptTrustStore } from '@launchfleet/shared/signing';
import {
  type TrustCandidateOrigin,
  type TrustFollowState,
  initialTrustFollowState,
  judgeTrustCandidate,
} from './core/trust-judge.ts';

/** The header a KV delete or purge carries (the KV convention; nats.js does not export its constant). */
const kvOperationHdr = 'KV-Operation';

/** Levels the follower logs at. */
export type TrustFollowerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface TrustFollowerOptions {
  readonly nc: NatsConnection;
  /**
   * The store in force (from the state dir or the enrolment). Undefined when the node holds no
   * usable store (its file was lost or damaged): the published store is then taken as at
   * enrolment, as its own authority, from a key in `pinnedKeyIds` when the agent pins any.
   */
  readonly trust: TrustStore | undefined;
  /** Key ids a first store must be signed by (installed with the agent). */
  readonly pinnedKeyIds?: readonly string[];
  readonly scheduler: Scheduler;
  /** Safety-net re-read period (core messages sent while disconnected are lost). */
  readonly refreshMs: number;
  /** Delay of the confirming re-read of a refused read whose staleness cannot be ruled out. */
  readonly confirmMs: number;
  /** A newer, verified store (with its wire form). Called before the follower's state moves on. */
  readonly onChange: (store: TrustStore, raw: string) => void;
  /** A store was refused; `reason` is the `TrustRefusalReason`. */
  readonly onRefused: (reason: string, detail: string) => void;
  readonly log?: (level: TrustFollowerLogLevel, msg: string) => void;
}

/** Follows `lf_trust`/`store` with a core subscription plus direct gets. */
export class TrustFollower {
  readonly #o: TrustFollowerOptions;
  #trust: TrustStore | undefined;
  #state: TrustFollowState = initialTrustFollowState;
  #kv: KV | undefined;
  #sub: Subscription | undefined;
  #status: (AsyncIterable<Status> & { stop?: () => void }) | undefined;
  readonly #timers = new Set<TimerHandle>();
  readonly #tasks = new Set<Promise<void>>();
  #stopped = false;

  constructor(o: TrustFollowerOptions) {
    this.#o = o;
    this.#trust = o.trust;
  }

  /** The trust store in force (undefined until a first one is taken, see the options). */
  get trust(): TrustStore | undefined {
    return this.#trust;
  }

  /** Subscribes, then reads the current value; resolves once that first read was judged. */
  async start(): Promise<void> {
    const nc = this.#o.nc;
    // Bind without stream info (nodes may not read stream info), reading with direct get.
    this.#kv = await new Kvm(nc).open(buckets.trust, { allow_direct: true });
    // Subscribe before the read: the server handles this connection's SUB before its get
    // request, so a put stored after the read was served reaches the subscription.
    const sub = nc.subscribe(kvSubject(buckets.trust, keys.trustStore), {
      callback: (err, m) => {
        if (!err) this.#onLive(m);
      },
    });
    this.#sub = sub;
    void sub.closed.then((err) => {
      // E.g. a node JWT issued before this permission existed: the re-reads still follow the
      // store, only later.
      if (err && !this.#stopped)
        this.#o.log?.('warn', `trust store subscription failed: ${messageOf(err)}; following by re-reads`);
    });
    // A closed connection ends the follower (no re-reads against it).
    void nc.closed().then(() => this.stop());
    // nats.js returns a queued iterator: stop() ends it (and the loop below) without a close.
    const status: AsyncIterable<Status> & { stop?: () => void } = nc.status();
    this.#status = status;
    this.#track(this.#followStatus(status));
    await this.#read(false);
    this.#scheduleRefresh();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    this.#status?.stop?.();
    try {
      this.#sub?.unsubscribe();
    } catch {
      // The connection is closed already: nothing to unsubscribe.
    }
    await Promise.allSettled([...this.#tasks]);
  }

  /** Reads again now (the connection came back). */
  refresh(): void {
    if (!this.#stopped) this.#track(this.#read(false));
  }

  async #followStatus(status: AsyncIterable<Status>): Promise<void> {
    for await (const s of status) {
      if (this.#stopped) break;
      // Core messages published while the connection was down are lost: read again.
      if (s.type === 'reconnect') this.refresh();
    }
  }

  #scheduleRefresh(): void {
    if (this.#stopped) return;
    const t = this.#o.scheduler.after(this.#o.refreshMs, () => {
      this.#timers.delete(t);
      this.#track(this.#read(false).finally(() => this.#scheduleRefresh()));
    });
    this.#timers.add(t);
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    void p.finally(() => this.#tasks.delete(p));
  }

  async #read(confirming: boolean): Promise<void> {
    const kv = this.#kv;
    if (!kv || this.#stopped) return;
    const liveSeq = this.#state.liveSeq;
    let e;
    try {
      e = await kv.get(keys.trustStore);
    } catch (err) {
      this.#o.log?.('debug', `trust store read failed: ${messageOf(err)}`);
      return;
    }
    if (this.#stopped || e === null) return;
    // A deleted or purged store changes nothing: the node keeps the store it has.
    if (e.operation !== 'PUT') return;
    this.#judge(e.value, { kind: 'read', revision: e.revision, liveSeq, confirming });
  }

  #onLive(m: Msg): void {
    if (this.#stopped) return;
    this.#state = { ...this.#state, liveSeq: this.#state.liveSeq + 1 };
    const op = m.headers?.get(kvOperationHdr) ?? '';
    if (op === 'DEL' || op === 'PURGE') return;
    this.#judge(m.data, { kind: 'live' });
  }

  #judge(data: Uint8Array, origin: TrustCandidateOrigin): void {
    try {
      this.#judgeUnsafe(data, origin);
    } catch (err) {
      // A throwing callback must not end the subscription or the refresh loop.
      this.#o.onRefused('handler-failed', messageOf(err));
    }
  }

  #judgeUnsafe(data: Uint8Array, origin: TrustCandidateOrigin): void {
    const pins = this.#o.pinnedKeyIds;
    const r = acceptTrustStore(data, this.#trust, pins ? { pinnedKeyIds: pins } : {});
    const check = r.ok
      ? { ok: true as const, unchanged: r.unchanged }
      : { ok: false as const, digest: createHash('sha256').update(data).digest('hex') };
    const { decision, state } = judgeTrustCandidate(this.#state, check, origin);
    this.#state = state;
    switch (decision) {
      case 'apply':
        if (r.ok) {
          this.#trust = r.store;
          this.#o.onChange(r.store, new TextDecoder().decode(data));
        }
        return;
      case 'report':
        if (!r.ok) this.#o.onRefused(r.reason, r.detail);
        return;
      case 'confirm':
        this.#confirmLater();
        return;
      case 'stale':
        if (!r.ok) this.#o.log?.('debug', `stale trust store read ignored: ${r.reason}: ${r.detail}`);
        return;
      case 'reported':
        if (!r.ok) this.#o.log?.('debug', `trust store still refused (${r.reason}), reported before`);
        return;
      case 'keep':
        return;
      default: {
        const never: never = decision;
        throw new TypeError(`unknown decision ${String(never)}`);
      }
    }
  }

  #confirmLater(): void {
    if (this.#stopped) return;
    const t = this.#o.scheduler.after(this.#o.confirmMs, () => {
      this.#timers.delete(t);
      this.#track(this.#read(true));
    });
    this.#timers.add(t);
  }
}
