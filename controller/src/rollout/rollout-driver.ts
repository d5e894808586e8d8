/**
 * The rollout runtime: a level-based reconciler over the stored rollouts, with
 * controller-runtime's contract (reconcile/): the rollout cache's watch of `lf_rollouts` is the
 * source (rollout-cache.ts: a record written, a lease released: that rollout's key is queued), a
 * de-duplicating work queue
 * with per-key backoff feeds `reconcile(rolloutId)`, and each reconcile returns done, "again
 * after N ms" or an error. Finished rollouts are not looked at again until their retention
 * ends: no scan of every stored rollout every second. One reconcile of one rollout:
 *
 *   1. takes or renews the rollout's lease (rollout-lease.ts); another holder's live lease means
 *      "not mine": again when that lease expires. On first taking a lease (a start, a takeover
 *      after a crash) it REPAIRS: for every node the state says was written (`desiredByNode`),
 *      `ensure` the node's key carries that version, which writes nothing where it already does;
 *   2. reads record + revision, folds the queued operator commands and one `observe` (or
 *      `start`) into the core's `step`;
 *   3. stores the new state with compare-and-set on the revision read (lost: again at once);
 *   4. only then applies the actions: set-desired through the applier (sign + CAS per node),
 *      record-event to the events stream (`lf.events.controller.rollout`) and the audit stream;
 *      the core's requeue-after, else the tick, says when to look again while it runs.
 *
 * A driver killed between 3 and 4 leaves the state ahead of the KV; the next holder's repair
 * closes the gap. A driver killed before 3 left nothing: the next one recomputes. So no node is
 * written twice, and a restart resumes where the rollout stood. A set-desired that fails is
 * left to the repair of the next reconcile, which comes after the key's backoff; so is a store
 * in 3 that failed without saying whether it was stored (its ack lost: the controller cut off
 * from the broker), since its actions were not applied and the lease stays with this driver.
 *
 * Retention: a finished rollout that needs no more driving is deleted `keepFinishedMs` after it
 * finished, and beyond the newest `keepFinishedCount` finished ones (README, "Retention").
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, type LaunchfleetError, messageOf } from '@launchfleet/shared';
import { natsError } from '@launchfleet/shared/nats-errors';
import { type Scheduler, systemScheduler } from '@launchfleet/shared/clock';
import {
  boundedDetail,
  controllerEventSource,
  encodeNodeEvent,
  subjects,
} from '@launchfleet/shared/messages';
import type { AuditLog } from '../audit/audit-log.ts';
import { ReconcileLoop } from '../reconcile/reconcile-loop.ts';
import { type ReconcileResult, again, done } from '@launchfleet/shared/reconcile';
import { WorkQueue } from '../reconcile/work-queue.ts';
import {
  type RolloutAction,
  type RolloutEvent,
  type RolloutEventRecord,
  type RolloutState,
  isFinished,
  step,
} from './core/index.ts';
import type { RolloutApplier } from './rollout-applier.ts';
import type { RolloutCache } from './rollout-cache.ts';
import type { RolloutLease } from './rollout-lease.ts';
import type { RolloutMetrics } from './rollout-metrics.ts';
import type { RolloutObserver } from './rollout-observer.ts';
import {
  type CommandResult,
  type RolloutRecord,
  type RolloutStore,
  maxPendingCommands,
} from './rollout-store.ts';

export interface RolloutDriverDeps {
  readonly nc: NatsConnection;
  readonly store: RolloutStore;
  /** The source: every stored rollout and each change (one watch, shared with alerts and gauges). */
  readonly cache: RolloutCache;
  readonly lease: RolloutLease;
  readonly applier: RolloutApplier;
  readonly observer: RolloutObserver;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly metrics?: RolloutMetrics;
  /** Timers of the work queue (default: real ones). */
  readonly scheduler?: Scheduler;
  /** How soon a running rollout is looked at again when the core asks nothing sooner (ms). Default 1000. */
  readonly tickMs?: number;
  /** A finished rollout is deleted this long after it finished (ms). Default 30 days. */
  readonly keepFinishedMs?: number;
  /** At most this many finished rollouts are kept; the oldest go first. Default 500. */
  readonly keepFinishedCount?: number;
  readonly log?: (line: string) => void;
  /**
   * Called after a state was stored and before its actions are applied: the window a crash can
   * hit (tests kill the driver here to prove the repair).
   */
  readonly onStored?: (rolloutId: string, state: RolloutState) => void;
}

/** What one reconcile did with one rollout (tests and logs). */
export type DriveOutcome =
  'absent' | 'done' | 'deleted' | 'not-mine' | 'lost-race' | 'unchanged' | 'stepped' | 'dead';

/** Defaults of the retention of finished rollouts. */
export const defaultKeepFinishedMs = 30 * 24 * 3600_000;
export const defaultKeepFinishedCount = 500;

/** True while a finished rollout still has work: commands to apply, or deferred nodes to converge. */
export function needsDriving(r: RolloutRecord): boolean {
  if (r.commands.length > 0 || !isFinished(r.state)) return true;
  return (
    r.state.phase.kind === 'succeeded' &&
    Object.values(r.state.nodes).some((n) => !n.touched && n.status !== 'reverted')
  );
}

/** When a running rollout wants to be looked at again: the core's requeue-after, else the tick. */
function wakeIn(actions: readonly RolloutAction[], tickMs: number): number {
  let ms = tickMs;
  for (const a of actions) if (a.type === 'requeue-after') ms = Math.max(20, Math.min(ms, a.ms));
  return ms;
}

/** The state without the per-node observations (they change on every pass; not worth a write alone). */
function material(s: RolloutState): string {
  return JSON.stringify(s, (k, v: unknown) => (k === 'observation' ? undefined : v));
}

export class RolloutDriver {
  readonly #d: RolloutDriverDeps;
  /** Rollouts whose lease this driver holds (repair done). */
  readonly #held = new Set<string>();
  /** Finished rollouts this driver has seen, with when they finished (retention by count). */
  readonly #finished = new Map<string, number>();
  readonly #queue: WorkQueue;
  readonly #loop: ReconcileLoop;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  #dead = false;
  /** Actions applied, by type (tests, logs). */
  readonly stats = { passes: 0, steps: 0, setDesired: 0, repairs: 0, events: 0, lostRaces: 0, deleted: 0 };

  constructor(d: RolloutDriverDeps) {
    this.#d = d;
    this.#queue = new WorkQueue(d.scheduler ?? systemScheduler, () => d.clock.monotonicMs());
    this.#loop = new ReconcileLoop({
      name: 'rollout driver',
      queue: this.#queue,
      reconcile: (id) => this.reconcile(id),
      ...(d.log && { log: d.log }),
    });
  }

  get holder(): string {
    return this.#d.lease.holder;
  }

  /** Reconciles by outcome (done, again, error, terminal). */
  get outcomes(): Readonly<Record<string, number>> {
    return this.#loop.outcomes;
  }

  /**
   * Follows the cache and starts the loop: every stored rollout is reconciled once, then when its
   * record changes or its lease is released. Another controller's live lease, a running
   * rollout's tick and a finished one's retention are timers of the work queue.
   */
  start(): void {
    this.#loop.start();
    this.#unsubscribe = this.#d.cache.onChange((c) => this.#queue.add(c.rolloutId));
    this.poke();
  }

  /** Queues every stored rollout now (a new rollout or command is also seen by the watch). */
  poke(rolloutId?: string): void {
    if (this.#stopped) return;
    if (rolloutId !== undefined) this.#queue.add(rolloutId);
    else for (const id of this.#d.cache.ids()) this.#queue.add(id);
  }

  /** A clean stop: finishes the reconciles under way and gives the leases up. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    await this.#loop.stop();
    for (const id of this.#held) await this.#d.lease.release(id).catch(() => undefined);
    this.#held.clear();
  }

  /**
   * A crash, for tests: from now on nothing more is written (no state, no bundle, no lease
   * renewal or release); the leases stay until they expire.
   */
  kill(): void {
    this.#dead = true;
    this.#stopped = true;
    this.#unsubscribe?.();
    void this.#loop.stop();
  }

  /** One reconcile of one rollout, as the loop's result. */
  async reconcile(rolloutId: string): Promise<ReconcileResult> {
    this.stats.passes++;
    const r = await this.driveOnce(rolloutId);
    return r.againMs === undefined ? done : again(r.outcome, r.againMs);
  }

  /**
   * One reconcile of one rollout (exported for tests: a pass without the loop): what it did, and
   * when to look again (undefined: only when the rollout changes).
   */
  async driveOnce(rolloutId: string): Promise<{ outcome: DriveOutcome; againMs?: number }> {
    if (this.#dead) return { outcome: 'dead' };
    const d = this.#d;
    const tick = d.tickMs ?? 1000;
    const first = await d.store.get(rolloutId);
    if (!first) {
      this.#forget(rolloutId);
      return { outcome: 'absent' };
    }
    d.metrics?.set(first.record.spec, first.record.state);
    if (!needsDriving(first.record)) {
      if (this.#held.delete(rolloutId)) {
        await d.lease.release(rolloutId).catch(() => undefined);
        d.observer.forget(first.record.spec);
      }
      return this.#retain(rolloutId, first.record);
    }
    this.#finished.delete(rolloutId);
    if (this.#dead) return { outcome: 'dead' };
    const lease = await d.lease.acquireOrWait(rolloutId);
    if (!lease.held) {
      this.#held.delete(rolloutId);
      return { outcome: 'not-mine', againMs: lease.retryInMs };
    }
    if (!this.#held.has(rolloutId)) {
      await this.#repair(rolloutId);
      this.#held.add(rolloutId);
    }
    // Read again after taking the lease: what a previous holder stored last is what counts.
    const cur = await d.store.get(rolloutId);
    if (!cur) return { outcome: 'absent' };
    const { spec } = cur.record;
    let state = cur.record.state;
    const actions: RolloutAction[] = [];
    const run = (event: RolloutEvent): void => {
      const r = step(spec, state, event, d.clock.wallMs());
      state = r.state;
      actions.push(...r.actions);
    };
    const results: CommandResult[] = [];
    for (const c of cur.record.commands) {
      const before = actions.length;
      if (c.type === 'pause' || c.type === 'abort' || c.type === 'rollback')
        run({ type: c.type, reason: `${c.reason} (by ${c.by})` });
      else run({ type: 'resume' });
      const ignored = actions
        .slice(before)
        .find((a) => a.type === 'record-event' && a.event.kind === 'ignored');
      results.push({
        id: c.id,
        type: c.type,
        outcome: ignored ? 'ignored' : 'applied',
        message: ignored?.type === 'record-event' ? ignored.event.message : `${c.type} applied`,
      });
    }
    const observations = await d.observer.observe(spec, state);
    run(
      state.phase.kind === 'pending' && cur.record.commands.length === 0
        ? { type: 'start', observations }
        : { type: 'observe', observations },
    );
    const loud = actions.some((a) => a.type !== 'requeue-after');
    if (!loud && cur.record.commands.length === 0 && material(state) === material(cur.record.state)) {
      d.metrics?.set(spec, state);
      return { outcome: 'unchanged', againMs: wakeIn(actions, tick) };
    }
    if (this.#dead) return { outcome: 'dead' };
    const next: RolloutRecord = {
      ...cur.record,
      state,
      commands: [],
      ...(results.length > 0 && {
        commandResults: [...(cur.record.commandResults ?? []), ...results].slice(-maxPendingCommands),
      }),
    };
    let rev: number | undefined;
    try {
      rev = await d.store.update(rolloutId, next, cur.revision);
    } catch (e) {
      // The outcome is unknown: a store whose ack was lost (a timeout, a partition between this
      // controller and the broker) may have stored this state, and its actions were not applied.
      // The lease stays ours, so no takeover would repair that gap: the next pass repairs, as a
      // new holder does (a read per node the state says was written; a write only where missing).
      this.#held.delete(rolloutId);
      throw e;
    }
    if (rev === undefined) {
      this.stats.lostRaces++;
      return { outcome: 'lost-race', againMs: 0 };
    }
    this.stats.steps++;
    d.metrics?.set(spec, state);
    d.onStored?.(rolloutId, state);
    // Stored first; now the effects.
    let applyFailure: LaunchfleetError | undefined;
    for (const a of actions) {
      if (this.#dead) return { outcome: 'dead' };
      switch (a.type) {
        case 'set-desired':
          this.stats.setDesired++;
          await d.applier.ensure(spec, a.nodeId, a.version, a.reason).catch((e: unknown) => {
            // Left for the repair of the next reconcile (after this key's backoff).
            this.#held.delete(rolloutId);
            applyFailure ??= natsError(e, `setting ${a.nodeId} to ${a.version}`);
          });
          break;
        case 'record-event':
          this.stats.events++;
          await this.#recordEvent(rolloutId, spec.label, a.event);
          break;
        case 'requeue-after':
          break;
        default: {
          const never: never = a;
          void never;
        }
      }
    }
    if (applyFailure !== undefined) throw applyFailure;
    return { outcome: 'stepped', againMs: isFinished(state) ? 0 : wakeIn(actions, tick) };
  }

  /** A finished rollout: kept until its retention ends (by time, then by count), then deleted. */
  async #retain(rolloutId: string, r: RolloutRecord): Promise<{ outcome: DriveOutcome; againMs?: number }> {
    const d = this.#d;
    const now = d.clock.wallMs();
    const keepMs = d.keepFinishedMs ?? defaultKeepFinishedMs;
    const finishedAt = r.state.finishedAt ?? r.createdAt;
    this.#finished.set(rolloutId, finishedAt);
    const newest = [...this.#finished].sort(([, a], [, b]) => b - a);
    const beyond = new Set(newest.slice(d.keepFinishedCount ?? defaultKeepFinishedCount).map(([id]) => id));
    for (const id of beyond) if (id !== rolloutId) this.#queue.add(id);
    if (now - finishedAt < keepMs && !beyond.has(rolloutId))
      return { outcome: 'done', againMs: finishedAt + keepMs - now };
    if (this.#dead) return { outcome: 'dead' };
    await d.store.delete(rolloutId);
    this.stats.deleted++;
    this.#forget(rolloutId);
    d.log?.(
      `rollout driver: ${rolloutId} (${r.spec.label}, finished ${new Date(finishedAt).toISOString()}) deleted`,
    );
    return { outcome: 'deleted' };
  }

  #forget(rolloutId: string): void {
    this.#finished.delete(rolloutId);
    this.#d.metrics?.forget(rolloutId);
  }

  /** Closes any gap between the stored state and `lf_desired` (a write lost to a crash). */
  async #repair(rolloutId: string): Promise<void> {
    const cur = await this.#d.store.get(rolloutId);
    if (!cur) return;
    for (const [nodeId, rec] of Object.entries(cur.record.state.nodes)) {
      if (!rec.lastSet || this.#dead) continue;
      const out = await this.#d.applier.ensure(
        cur.record.spec,
        nodeId,
        rec.lastSet.version,
        rec.lastSet.reason,
      );
      if (out === 'written' || out === 'removed') {
        this.stats.repairs++;
        this.#d.log?.(`rollout driver: ${rolloutId}: repaired ${nodeId} (${rec.lastSet.version})`);
      }
    }
  }

  /** One rollout event to the event stream and the audit stream (best effort: the state holds the log). */
  async #recordEvent(rolloutId: string, label: string, ev: RolloutEventRecord): Promise<void> {
    const d = this.#d;
    const detail = boundedDetail(`${rolloutId}: ${ev.message}`, 1024);
    const data = encodeNodeEvent(
      { source: controllerEventSource, kind: 'rollout', label, reason: ev.kind, detail },
      ev.at,
    );
    await jetstream(d.nc)
      .publish(subjects.event(controllerEventSource, 'rollout'), data)
      .catch((e: unknown) => d.log?.(`rollout driver: event not published: ${messageOf(e)}`));
    await d.audit
      .record({
        at: ev.at,
        who: `controller:${this.holder}`,
        role: 'controller',
        method: 'RolloutEvent',
        target: rolloutId,
        outcome: ev.kind,
        detail: `${label}: ${ev.message}${ev.nodeId ? ` (node ${ev.nodeId})` : ''}`,
      })
      .catch((e: unknown) => d.log?.(`rollout driver: audit entry not written: ${messageOf(e)}`));
  }
}
