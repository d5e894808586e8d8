/**
 * Puts the node's status snapshot and inventory in KV (`lf_nodes`, `<nodeId>.status` and
 * `<nodeId>.inventory`). The snapshot is put when it changed (at most once per
 * `statusMinIntervalMs`) and at least every `statusRefreshMs`, so the entry's time says when the
 * node was last seen even after a controller restart; the inventory when it changed.
 *
 * A failed put is classified once (../nats-edge.ts): NATS denying these credentials the subject
 * is said once at error, naming the subject and the credential, and nothing is put again for
 * `deniedWaitMs` (a person must act); a missing bucket is waited for (said once); anything else
 * is tried again with backoff (1 s doubling to 30 s). A new connection starts over.
 */
import type { KV } from '@nats-io/kv';
import type { TimerHandle } from '@launchfleet/shared/clock';
import {
  buckets,
  encodeNodeInventory,
  encodeNodeStatus,
  keys,
  kvSubject,
  type NodeInventory,
  type NodeStatus,
} from '@launchfleet/shared/messages';
import { EdgePacing, credentialName, edgeFailure } from '../nats-edge.ts';
import type { ReporterStats, ReportingContext } from './reporting-context.ts';

export interface StatusPublisherOptions extends ReportingContext {
  readonly statusMinIntervalMs: number;
  readonly statusRefreshMs: number;
  /** How long nothing is put after NATS denied a put. Default 5 min (../nats-edge.ts). */
  readonly deniedWaitMs?: number;
  readonly snapshot: () => NodeStatus;
  readonly inventory: () => NodeInventory;
  readonly stats: Pick<ReporterStats, 'statusPuts'>;
}

export class StatusPublisher {
  readonly #o: StatusPublisherOptions;
  #nodes: KV | undefined;
  #timer: TimerHandle | undefined;
  #lastStatusJson = '';
  #lastStatusPut = -Infinity;
  #inFlight = false;
  /** A snapshot was asked for while a put was in flight. */
  #pending = false;
  /**
   * No status put before this (monotonic ms): the backoff after a failure, or a denial's wait.
   * The inventory has its own (a key NATS may deny on its own), so one never holds up the other.
   */
  #notBefore = -Infinity;
  #inventoryNotBefore = -Infinity;
  readonly #pacing: EdgePacing;
  readonly #inventoryPacing: EdgePacing;
  #lastInventoryJson = '';
  #stopped = false;

  constructor(o: StatusPublisherOptions) {
    this.#o = o;
    const pacing = o.deniedWaitMs !== undefined ? { deniedWaitMs: o.deniedWaitMs } : {};
    this.#pacing = new EdgePacing(pacing);
    this.#inventoryPacing = new EdgePacing(pacing);
  }

  /** A new connection (maybe with new credentials): put the inventory and the snapshot whether they changed or not. */
  attach(nodes: KV): void {
    this.#nodes = nodes;
    this.#lastStatusJson = '';
    this.#lastInventoryJson = '';
    this.#notBefore = -Infinity;
    this.#inventoryNotBefore = -Infinity;
    this.#pacing.ok();
    this.#inventoryPacing.ok();
    void this.putInventory();
    this.schedule(true);
  }

  detach(): void {
    this.#nodes = undefined;
    // Forget the cancelled timer too: kept, it made schedule() wait for a callback that never
    // comes, and after a reconnect the snapshot went out only with the heartbeats.
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** No more scheduled puts (the agent is stopping). */
  stop(): void {
    this.#stopped = true;
  }

  /** Puts the snapshot soon: now if `force`, else once `statusMinIntervalMs` after the last. */
  schedule(force: boolean): void {
    if (!this.#nodes || this.#stopped) return;
    if (force) this.#lastStatusPut = -Infinity;
    if (this.#timer !== undefined) return;
    const now = this.#o.clock.monotonicMs();
    const wait = Math.max(0, this.#lastStatusPut + this.#o.statusMinIntervalMs - now, this.#notBefore - now);
    this.#timer = this.#o.scheduler.after(wait, () => {
      this.#timer = undefined;
      void this.putStatus();
    });
  }

  /**
   * The heartbeat's refresh: puts the snapshot when the last put is `statusRefreshMs` old or the
   * last attempt failed, and builds nothing otherwise (with a thousand jobs a snapshot is not
   * free): every change schedules its own put (`schedule`), and the reporter's slow scan
   * catches a change nobody pushed.
   */
  async refresh(): Promise<void> {
    // A put on its way is the refresh; after a failure (the pacing counts them, and an attach
    // starts it over), the retry is armed already.
    if (!this.#nodes || this.#inFlight || this.#pacing.failures > 0) return;
    const age = this.#o.clock.monotonicMs() - this.#lastStatusPut;
    if (age >= this.#o.statusRefreshMs) await this.putStatus();
  }

  /** Puts the snapshot if it changed or the last put is `statusRefreshMs` old. */
  async putStatus(): Promise<void> {
    const nodes = this.#nodes;
    if (!nodes) return;
    if (this.#inFlight) {
      // A change while the last put is on its way: put again once it is done. Dropping it left
      // the controller without the change until the next scan, heartbeat or level check
      // (test/src/integration/link-status-in-flight.test.ts).
      this.#pending = true;
      return;
    }
    const now = this.#o.clock.monotonicMs();
    if (now < this.#notBefore) {
      this.schedule(false);
      return;
    }
    const snap = this.#o.snapshot();
    const json = JSON.stringify(snap);
    if (json === this.#lastStatusJson && now - this.#lastStatusPut < this.#o.statusRefreshMs) return;
    this.#inFlight = true;
    const key = keys.nodeStatus(this.#o.nodeId());
    try {
      await nodes.put(key, encodeNodeStatus(snap, this.#o.clock.wallMs()));
      this.#lastStatusJson = json;
      this.#lastStatusPut = now;
      this.#pacing.ok();
      this.#o.stats.statusPuts++;
    } catch (e) {
      this.#notBefore = this.#failed(this.#pacing, e, 'putting the node status', key);
      // Tried again once the wait is over (finally below).
      this.#pending = true;
    } finally {
      this.#inFlight = false;
      if (this.#pending) {
        this.#pending = false;
        this.schedule(false);
      }
    }
  }

  /** Puts the inventory if it changed. */
  async putInventory(): Promise<void> {
    const nodes = this.#nodes;
    if (!nodes) return;
    if (this.#o.clock.monotonicMs() < this.#inventoryNotBefore) return;
    const inv = this.#o.inventory();
    const json = JSON.stringify(inv);
    if (json === this.#lastInventoryJson) return;
    const key = keys.nodeInventory(this.#o.nodeId());
    try {
      await nodes.put(key, encodeNodeInventory(inv, this.#o.clock.wallMs()));
      this.#lastInventoryJson = json;
      this.#inventoryPacing.ok();
    } catch (e) {
      this.#inventoryNotBefore = this.#failed(this.#inventoryPacing, e, 'putting the node inventory', key);
    }
  }

  /** A failed put, classified: said (once, for a denial or a missing bucket); returns when to try again. */
  #failed(pacing: EdgePacing, e: unknown, doing: string, key: string): number {
    const wait = pacing.failed(edgeFailure(e, doing), {
      doing,
      subject: kvSubject(buckets.nodes, key),
      credential: this.#o.credential?.() ?? credentialName(this.#o.nodeId()),
      log: this.#o.log,
    });
    return this.#o.clock.monotonicMs() + wait;
  }
}
