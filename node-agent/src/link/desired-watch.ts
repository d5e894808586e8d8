/**
 * The agent's gate on desired state: watches its own keys in `lf_desired` (one filter,
 * `<nodeId>.>`, as nats-server 2.9 allows; the node's only JetStream consumer), follows the
 * trust store in `lf_trust` without a consumer (trust-follower.ts: a core subscription plus
 * direct gets), verifies every bundle, and hands only verified, newer bundles to the caller.
 * Every refusal becomes a `bundle-refused` event (reason = the `RefusalReason`), every
 * trust-store refusal a `trust-refused` event, and an entry under a key that is not a label
 * token a `message-refused` event. Nothing here throws on bad input.
 *
 * This is the boundary the reconcile loop (reconciler.ts) sits behind: it receives
 * `onBundle` / `onRemoved` and owns what to run.
 *
 * A re-delivery of the exact bytes already applied for a label (every reconnect re-delivers
 * the last value of every key) is recognised by its digest before verification, so a bundle
 * that expired while it ran is not reported as refused again on each reconnect: expiry bounds
 * when a bundle may be *accepted*, not how long a verified job may run.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { type KV, Kvm } from '@nats-io/kv';
import type { Clock } from '@launchfleet/shared';
import { type Scheduler, systemScheduler } from '@launchfleet/shared/clock';
import {
  buckets,
  decodeLabelToken,
  encodeLabelToken,
  keys,
  type NodeEvent,
  type NodeEventKind,
} from '@launchfleet/shared/messages';
import {
  type AppliedVersion,
  type JobBundle,
  type TrustStore,
  verifyBundle,
} from '@launchfleet/shared/signing';
import { publishNodeEvent } from './node-connection.ts';
import { TrustFollower, type TrustFollowerLogLevel } from './trust-follower.ts';
import { type DesiredEntry, DesiredFollower, type DesiredFollowerStats } from './desired-follower.ts';
import type { EdgePacing } from './nats-edge.ts';

export interface DesiredWatchOptions {
  readonly nc: NatsConnection;
  readonly nodeId: string;
  /**
   * The store in force; undefined when the node holds no usable store (its file lost or damaged):
   * start() then takes the published one as at enrolment (see TrustFollower) or fails.
   */
  readonly trust: TrustStore | undefined;
  /** Key ids a first store must be signed by (installed with the agent). */
  readonly pinnedKeyIds?: readonly string[];
  /** Labels whose applied version this node does not hold (Reconciler.unheld): re-delivery is taken. */
  readonly unheld?: ReadonlySet<string>;
  readonly clock: Clock;
  /** Versions already applied (from the agent's own state), per label. */
  readonly applied?: ReadonlyMap<string, AppliedVersion>;
  readonly maxSkewMs?: number;
  /** SHA-256 (hex) of the wire bytes last applied, per label (from the agent's own state). */
  readonly appliedRaw?: ReadonlyMap<string, string>;
  /** A verified, new bundle (not an identical re-delivery), with its wire form and KV revision. */
  readonly onBundle: (bundle: JobBundle, meta: BundleMeta) => void;
  /** The controller deleted a label's desired state. */
  readonly onRemoved?: (label: string, revision: number) => void;
  /** Publishes an event; default: straight to the events stream on `nc` (errors dropped). */
  readonly publish?: (e: Omit<NodeEvent, 'source'>) => void;
  /** The trust store changed (persist it). */
  readonly onTrust?: (store: TrustStore, raw: string) => void;
  /** Called after each event is published (or failed to publish); for tests and logs. */
  readonly onEvent?: (kind: NodeEventKind, reason: string, label?: string) => void;
  /** Timers of the trust store re-reads. Default: the real scheduler. */
  readonly scheduler?: Scheduler;
  /**
   * How often the trust store is read again as a safety net (updates published while the
   * connection was down are lost to the subscription; a reconnect reads again anyway).
   * Default 5 min.
   */
  readonly trustRefreshMs?: number;
  /** The desired-state follower's safety-net re-read period (desired-follower.ts). Default 5 min. */
  readonly desiredRecheckMs?: number;
  /** Delay of the confirming re-read before a possibly stale trust store read is reported. Default 2 s. */
  readonly trustConfirmMs?: number;
  /** Diagnostics (a failed trust subscription, failed re-reads). */
  readonly log?: (level: TrustFollowerLogLevel, msg: string) => void;
  /** How log lines name the node's NATS credential, and what was said across sessions (desired-follower.ts). */
  readonly credential?: string;
  readonly desiredPacing?: EdgePacing;
}

/** Defaults of the trust store re-reads. */
export const trustFollowDefaults = { refreshMs: 5 * 60_000, confirmMs: 2000 } as const;

/** What came with a verified bundle. */
export interface BundleMeta {
  /** The signed bundle exactly as stored in KV (persisted to re-verify at start). */
  readonly raw: string;
  /** SHA-256 (hex) of `raw`. */
  readonly rawDigest: string;
  /** `bundleDigest` of the bundle. */
  readonly digest: string;
  readonly revision: number;
}

/** SHA-256 hex of wire bytes. */
export function rawDigestOf(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** How many superseded digests per label are remembered (to tell a replay from an unknown old version). */
const maxSuperseded = 16;

/** Watches and verifies this node's desired state. */
export class DesiredWatch {
  readonly #o: DesiredWatchOptions;
  readonly #applied: Map<string, AppliedVersion>;
  readonly #appliedRaw: Map<string, string>;
  #trust: TrustStore | undefined;
  readonly #stops: (() => void)[] = [];
  readonly #loops: Promise<void>[] = [];
  /** Bundles refused for an unknown key, retried when the trust store changes (rotation race). */
  readonly #awaitingKey = new Map<string, DesiredEntry>();
  #follower: TrustFollower | undefined;
  #desired: DesiredFollower | undefined;

  constructor(o: DesiredWatchOptions) {
    this.#o = o;
    this.#trust = o.trust;
    this.#applied = new Map(o.applied ?? []);
    this.#appliedRaw = new Map(o.appliedRaw ?? []);
  }

  /** What this session's desired-state follower asked of the broker (undefined before start). */
  get followerStats(): Readonly<DesiredFollowerStats> | undefined {
    return this.#desired?.stats;
  }

  /** The trust store in force (always there once start() resolved). */
  get trust(): TrustStore {
    if (this.#trust === undefined) throw new Error('no trust store yet: start() has not resolved');
    return this.#trust;
  }

  /** What has been applied so far. */
  get applied(): ReadonlyMap<string, AppliedVersion> {
    return this.#applied;
  }

  async start(): Promise<void> {
    const kvm = new Kvm(this.#o.nc);
    // Trust first, so bundles signed with a freshly rotated key verify.
    const follower = new TrustFollower({
      nc: this.#o.nc,
      trust: this.#trust,
      ...(this.#o.pinnedKeyIds && { pinnedKeyIds: this.#o.pinnedKeyIds }),
      scheduler: this.#o.scheduler ?? systemScheduler,
      refreshMs: this.#o.trustRefreshMs ?? trustFollowDefaults.refreshMs,
      confirmMs: this.#o.trustConfirmMs ?? trustFollowDefaults.confirmMs,
      onChange: (store, raw) => this.#onTrustChanged(store, raw),
      onRefused: (reason, detail) => this.#event('trust-refused', reason, undefined, detail),
      ...(this.#o.log && { log: this.#o.log }),
    });
    this.#follower = follower;
    // Desired state without a consumer (desired-follower.ts); a node whose credentials predate
    // that subscription falls back to a consumer watch.
    const desired = new DesiredFollower({
      nc: this.#o.nc,
      nodeId: this.#o.nodeId,
      scheduler: this.#o.scheduler ?? systemScheduler,
      onEntry: (e) => this.#guarded(e),
      // Labels with a bundle applied: their keys are read at catch-up, so removals are seen.
      known: () => [...this.#appliedRaw.keys()].map(encodeLabelToken),
      onMissing: (key) => this.#onMissing(key),
      ...(this.#o.desiredRecheckMs !== undefined && { recheckMs: this.#o.desiredRecheckMs }),
      ...(this.#o.log && { log: this.#o.log }),
      ...(this.#o.credential !== undefined && { credential: this.#o.credential }),
      ...(this.#o.desiredPacing && { pacing: this.#o.desiredPacing }),
    });
    this.#desired = desired;
    let dw: Awaited<ReturnType<KV['watch']>>;
    try {
      await follower.start();
      // No bundle can be verified without a store: a session without one is no session.
      if (this.#trust === undefined)
        throw new Error('no trust store: none stored here, and none published that this node may take');
      if ((await desired.start()) === 'following') {
        this.#stops.push(() => void desired.stop());
        this.#loops.push(desired.ended());
        return;
      }
      this.#o.log?.('warn', 'desired state subscription refused (older credentials): using a consumer watch');
      // Bind without stream info (nodes may not read stream info) and with direct get.
      const desiredKv = await kvm.open(buckets.desired, { allow_direct: true });
      dw = await desiredKv.watch({ key: keys.desiredOf(this.#o.nodeId) });
    } catch (e) {
      // The caller never gets a watch to stop: stop the followers here.
      await Promise.allSettled([follower.stop(), desired.stop()]);
      throw e;
    }
    this.#stops.push(() => dw.stop());
    this.#loops.push(
      (async () => {
        for await (const e of dw) this.#guarded(e);
      })(),
    );
  }

  /**
   * Resolves when the desired-state watch ended (its consumer failed for good, or the
   * connection closed). The trust follower has no consumer to lose: its re-reads go on.
   */
  ended(): Promise<void> {
    return Promise.race(this.#loops).then(() => undefined);
  }

  async stop(): Promise<void> {
    for (const s of this.#stops) s();
    await Promise.allSettled([...this.#loops, this.#follower?.stop()]);
  }

  /** The follower verified a newer trust store (acceptTrustStore): adopt it, then retry bundles that waited for a key. */
  #onTrustChanged(store: TrustStore, raw: string): void {
    this.#trust = store;
    this.#o.onTrust?.(store, raw);
    this.#event('trust-updated', 'ok', undefined, `trust store version ${store.version}`, store.version);
    const retry = [...this.#awaitingKey.values()];
    this.#awaitingKey.clear();
    for (const entry of retry) this.#onDesiredEntry(entry);
  }

  #guarded(e: DesiredEntry): void {
    try {
      this.#onDesiredEntry(e);
    } catch (err) {
      // A throwing callback must not end the watch.
      this.#event(
        'message-refused',
        'handler-failed',
        undefined,
        err instanceof Error ? err.message : String(err),
      );
    }
  }

  #onDesiredEntry(e: DesiredEntry): void {
    const prefix = `${this.#o.nodeId}.`;
    const token = e.key.startsWith(prefix) ? e.key.slice(prefix.length) : '';
    const label = decodeLabelToken(token);
    if (!label.ok) {
      this.#event(
        'message-refused',
        'bad-key',
        undefined,
        `desired key ${e.key.slice(0, 200)}: ${label.error}`,
      );
      return;
    }
    if (e.operation !== 'PUT') {
      this.#awaitingKey.delete(label.value);
      this.#appliedRaw.delete(label.value);
      this.#o.onRemoved?.(label.value, e.revision);
      return;
    }
    const rawDigest = rawDigestOf(e.value);
    if (this.#appliedRaw.get(label.value) === rawDigest) return; // identical re-delivery
    const trust = this.#trust;
    if (trust === undefined) return; // not reached: start() fails without a store
    const r = verifyBundle(e.value, trust, {
      now: this.#o.clock.wallMs(),
      nodeId: this.#o.nodeId,
      lastVersionByLabel: this.#applied,
      expectedLabel: label.value,
      ...(this.#o.maxSkewMs !== undefined && { maxSkewMs: this.#o.maxSkewMs }),
    });
    if (!r.ok) {
      if (r.reason === 'unknown-key') this.#awaitingKey.set(label.value, e);
      this.#event('bundle-refused', r.reason, label.value, r.detail, r.version);
      return;
    }
    this.#awaitingKey.delete(label.value);
    // The version applied already is nothing new, unless this node no longer holds its bundle
    // (the stored copy was dropped at restore): then it is taken again.
    if (r.duplicate && (this.#appliedRaw.has(r.bundle.label) || !this.#o.unheld?.has(r.bundle.label))) return;
    const prev = this.#applied.get(r.bundle.label);
    const superseded =
      prev && !r.duplicate
        ? [...(prev.superseded ?? []), prev.digest].slice(-maxSuperseded)
        : (prev?.superseded ?? []);
    this.#applied.set(r.bundle.label, { version: r.bundle.version, digest: r.digest, superseded });
    this.#appliedRaw.set(r.bundle.label, rawDigest);
    this.#event('bundle-accepted', 'ok', r.bundle.label, `version ${r.bundle.version}`, r.bundle.version);
    this.#o.onBundle(r.bundle, { raw: e.string(), rawDigest, digest: r.digest, revision: e.revision });
  }

  /**
   * A label this node runs has nothing stored at all (desired-follower.ts, onMissing): the store
   * lost it. The job keeps running; the admin hears of it and re-applies (or applies, then
   * removes) the job, which writes the key again.
   */
  #onMissing(key: string): void {
    const prefix = `${this.#o.nodeId}.`;
    const label = decodeLabelToken(key.startsWith(prefix) ? key.slice(prefix.length) : '');
    const name = label.ok ? label.value : key.slice(0, 200);
    const detail = `the desired state of ${name} is gone from ${buckets.desired} (no value, no delete marker): it keeps running; apply it again, or apply and remove it`;
    this.#o.log?.('warn', detail);
    this.#event('drift', 'desired-state-missing', label.ok ? label.value : undefined, detail);
  }

  #event(kind: NodeEventKind, reason: string, label?: string, detail?: string, version?: number): void {
    const ev = {
      kind,
      reason,
      ...(label !== undefined && { label }),
      ...(detail !== undefined && { detail }),
      ...(version !== undefined && { version }),
    };
    if (this.#o.publish) {
      this.#o.publish(ev);
      this.#o.onEvent?.(kind, reason, label);
      return;
    }
    publishNodeEvent(this.#o.nc, this.#o.nodeId, ev, this.#o.clock.wallMs())
      .catch(() => undefined)
      .finally(() => this.#o.onEvent?.(kind, reason, label));
  }
}
