/**
 * Every stored rollout as one long-lived watch of `lf_rollouts` shows it: the latest readable
 * record of each `state.<id>` key, and a change notice per key written or deleted (a lease
 * deleted too: a driver that stopped cleanly gave its rollout up). The rollout driver's source,
 * the rollout alerts and gauges read this instead of listing the bucket: a listing
 * (`kv.keys()`) is a new ordered consumer on the server each time, and the server keeps each
 * one until its inactivity threshold passes; one watch is one consumer for the controller's
 * life (test/src/integration/controller-idle-consumers.test.ts counts them).
 *
 * A watch that fails (NATS restarted) is opened again after `retryMs`; the new watch shows
 * every stored key again, and records that were deleted meanwhile are dropped once it has.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { messageOf } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import { type RolloutRecord, decodeRolloutRecord } from './rollout-store.ts';

/** What changed: a rollout's record (written, deleted, unreadable) or its lease released. */
export interface RolloutChange {
  readonly kind: 'record' | 'lease-released';
  readonly rolloutId: string;
}

export interface RolloutCacheOptions {
  /** Where a failed watch is reported. */
  readonly log?: (line: string) => void;
  /** How long after a failed watch it is opened again (ms). Default 1000. */
  readonly retryMs?: number;
  /** How long `start` waits for the stored records before it resolves anyway (ms). Default 5000. */
  readonly startWaitMs?: number;
}

const statePrefix = keys.rollout('');
const leasePrefix = keys.rolloutLease('');

export class RolloutCache {
  readonly #kv: KV;
  readonly #o: RolloutCacheOptions;
  /** Every stored `state.*` key's rollout id, readable or not (the driver reports unreadable ones). */
  readonly #ids = new Set<string>();
  readonly #records = new Map<string, RolloutRecord>();
  readonly #listeners = new Set<(c: RolloutChange) => void>();
  #watch: { stop(): void } | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #ready = false;

  constructor(kv: KV, o: RolloutCacheOptions = {}) {
    this.#kv = kv;
    this.#o = o;
  }

  /**
   * Opens the watch; resolves once every stored record is in, or after `startWaitMs` when NATS
   * does not answer (the watch keeps trying; `ready` says whether the records are complete).
   */
  async start(): Promise<void> {
    let initial!: () => void;
    const loaded = new Promise<void>((r) => (initial = r));
    this.#loop = this.#run(initial);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      loaded,
      new Promise<void>((r) => (timer = setTimeout(r, this.#o.startWaitMs ?? 5000))),
    ]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.stop();
    await this.#loop;
    this.#listeners.clear();
  }

  /** True once a watch has shown every stored key. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The ids of every stored rollout record, readable or not. */
  ids(): string[] {
    return [...this.#ids];
  }

  /** Every readable stored rollout record (the latest revision the watch showed). */
  records(): RolloutRecord[] {
    return [...this.#records.values()];
  }

  record(rolloutId: string): RolloutRecord | undefined {
    return this.#records.get(rolloutId);
  }

  /** Calls `fn` on every change from now on; returns its removal. */
  onChange(fn: (c: RolloutChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  async #run(initial: () => void): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#follow(initial);
      } catch (e) {
        if (!this.#stopped) this.#o.log?.(`controller: watching lf_rollouts: ${messageOf(e)}`);
      }
      if (this.#stopped) return;
      await new Promise((r) => setTimeout(r, this.#o.retryMs ?? 1000));
    }
  }

  /** One watch, until it ends or fails. */
  async #follow(initial: () => void): Promise<void> {
    const empty = (await this.#kv.status()).values === 0;
    const w = await this.#kv.watch({ key: '>' });
    this.#watch = w;
    if (this.#stopped) w.stop();
    /** Ids this watch has shown; after its initial values, the others are gone. */
    let seen: Set<string> | undefined = new Set();
    const loaded = (): void => {
      if (seen === undefined) return;
      for (const id of [...this.#ids]) if (!seen.has(id)) this.#drop(id);
      seen = undefined;
      this.#ready = true;
      initial();
    };
    if (empty) loaded();
    for await (const e of w as AsyncIterable<KvWatchEntry>) {
      this.#apply(e, seen);
      if (e.isUpdate || e.delta === 0) loaded();
    }
  }

  #apply(e: KvWatchEntry, seen: Set<string> | undefined): void {
    if (e.key.startsWith(statePrefix)) {
      const id = e.key.slice(statePrefix.length);
      if (e.operation === 'PUT') {
        seen?.add(id);
        this.#ids.add(id);
        const r = decodeRolloutRecord(e.string());
        if (typeof r === 'string') this.#records.delete(id);
        else this.#records.set(id, r);
        this.#emit({ kind: 'record', rolloutId: id });
      } else this.#drop(id);
    } else if (e.key.startsWith(leasePrefix) && e.operation !== 'PUT')
      this.#emit({ kind: 'lease-released', rolloutId: e.key.slice(leasePrefix.length) });
  }

  #drop(id: string): void {
    this.#ids.delete(id);
    this.#records.delete(id);
    this.#emit({ kind: 'record', rolloutId: id });
  }

  #emit(c: RolloutChange): void {
    for (const fn of this.#listeners) {
      try {
        fn(c);
      } catch (e) {
        // A listener's bug must not end the watch.
        this.#o.log?.(`controller: rollout change listener: ${messageOf(e)}`);
      }
    }
  }
}
