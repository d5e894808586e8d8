/**
 * The rollout runtime: a level-based loop over every stored rollout (controller-runtime's
 * Reconcile with RequeueAfter). For each rollout it
 *
 *   1. takes or renews the rollout's lease (rollout-lease.ts); another holder's live lease means
 *      "not mine": skip. On first taking a lease (a start, a takeover after a crash) it REPAIRS:
 *      for every node the state says was written (`desiredByNode`), `ensure` the node's key
 *      carries that version, which writes nothing where it already does;
 *   2. reads record + revision, folds the queued operator commands and one `observe` (or
 *      `start`) into the core's `step`;
 *   3. stores the new state with compare-and-set on the revision read (lost: skip this round);
 *   4. only then applies the actions: set-desired through the applier (sign + CAS per node),
 *      record-event to the events stream (`lf.events.controller.rollout`) and the audit stream;
 *      requeue-after shortens the next wait.
 *
 * A driver killed between 3 and 4 leaves the state ahead of the KV; the next holder's repair
 * closes the gap. A driver killed before 3 left nothing: the next one recomputes. So no node is
 * written twice, and a restart resumes where the rollout stood.
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, messageOf } from '@launchfleet/shared';
import {
  boundedDetail,
  controllerEventSource,
  encodeNodeEvent,
  subjects,
} from '@launchfleet/shared/messages/index';
import type { AuditLog } from '../audit/audit-log.ts';
import {
  type RolloutAction,
  type RolloutEvent,
  type RolloutEventRecord,
  type RolloutState,
  isFinished,
  step,
} from './core/index.ts';
import type { RolloutApplier } from './rollout-applier.ts';
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
  readonly lease: RolloutLease;
  readonly applier: RolloutApplier;
  readonly observer: RolloutObserver;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly metrics?: RolloutMetrics;
  /** The loop's period (ms); a requeue-after may wake it sooner. Default 1000. */
  readonly tickMs?: number;
  readonly log?: (line: string) => void;
  /**
   * Called after a state was stored and before its actions are applied: the window a crash can
   * hit (tests kill the driver here to prove the repair).
   */
  readonly onStored?: (rolloutId: string, state: RolloutState) => void;
}

/** What one pass did with one rollout (tests and logs). */
export type DriveOutcome = 'absent' | 'done' | 'not-mine' | 'lost-race' | 'unchanged' | 'stepped' | 'dead';

/** True while a finished rollout still has work: commands to apply, or deferred nodes to converge. */
export function needsDriving(r: RolloutRecord): boolean {
  if (r.commands.length > 0 || !isFinished(r.state)) return true;
  return (
    r.state.phase.kind === 'succeeded' &&
    Object.values(r.state.nodes).some((n) => !n.touched && n.status !== 'reverted')
  );
}

/** The state without the per-node observations (they change on every pass; not worth a write alone). */
function material(s: RolloutState): string {
  return JSON.stringify(s, (k, v: unknown) => (k === 'observation' ? undefined : v));
}

export class RolloutDriver {
  readonly #d: RolloutDriverDeps;
  /** Rollouts whose lease this driver holds (repair done). */
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #dead = false;
  #nextWakeMs: number;
  /** Actions applied, by type (tests, logs). */
  readonly stats = { passes: 0, steps: 0, setDesired: 0, repairs: 0, events: 0, lostRaces: 0 };

  constructor(d: RolloutDriverDeps) {
    this.#d = d;
    this.#nextWakeMs = d.tickMs ?? 1000;
  }

  get holder(): string {
    return this.#d.lease.holder;
  }

  /** Starts the loop; the first pass runs at once (resuming whatever was left). */
  start(): void {
    this.#schedule(0);
  }

  /** Wakes the loop now (a new rollout or command). */
  poke(): void {
    if (this.#stopped) return;
    this.#schedule(0);
  }

  /** A clean stop: finishes the pass under way and gives the leases up. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
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
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#running) {
        this.#schedule(50);
        return;
      }
      this.#running = this.#pass().finally(() => {
        this.#running = undefined;
        this.#schedule(this.#nextWakeMs);
      });
    }, ms);
  }

  /** One pass over every stored rollout. */
  async #pass(): Promise<void> {
    this.stats.passes++;
    const tick = this.#d.tickMs ?? 1000;
    this.#nextWakeMs = tick;
    let ids: string[];
    try {
      ids = await this.#d.store.ids();
    } catch (e) {
      this.#d.log?.(`rollout driver: cannot list rollouts: ${messageOf(e)}`);
      return;
    }
    for (const id of ids) {
      if (this.#dead || this.#stopped) return;
      try {
        await this.driveOnce(id);
      } catch (e) {
        this.#d.log?.(`rollout driver: ${id}: ${messageOf(e)}`);
      }
    }
  }

  /** One reconcile of one rollout (exported for tests: a pass without the loop). */
  async driveOnce(rolloutId: string): Promise<DriveOutcome> {
    if (this.#dead) return 'dead';
    const d = this.#d;
    const first = await d.store.get(rolloutId);
    if (!first) return 'absent';
    d.metrics?.set(first.record.spec, first.record.state);
    if (!needsDriving(first.record)) {
      if (this.#held.delete(rolloutId)) {
        await d.lease.release(rolloutId).catch(() => undefined);
        d.observer.forget(first.record.spec);
      }
      return 'done';
    }
    if (this.#dead) return 'dead';
    if (!(await d.lease.acquire(rolloutId))) {
      this.#held.delete(rolloutId);
      return 'not-mine';
    }
    if (!this.#held.has(rolloutId)) {
      await this.#repair(rolloutId);
      this.#held.add(rolloutId);
    }
    // Read again after taking the lease: what a previous holder stored last is what counts.
    const cur = await d.store.get(rolloutId);
    if (!cur) return 'absent';
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
      this.#wakeFor(actions);
      d.metrics?.set(spec, state);
      return 'unchanged';
    }
    if (this.#dead) return 'dead';
    const next: RolloutRecord = {
      ...cur.record,
      state,
      commands: [],
      ...(results.length > 0 && {
        commandResults: [...(cur.record.commandResults ?? []), ...results].slice(-maxPendingCommands),
      }),
    };
    const rev = await d.store.update(rolloutId, next, cur.revision);
    if (rev === undefined) {
      this.stats.lostRaces++;
      return 'lost-race';
    }
    this.stats.steps++;
    d.metrics?.set(spec, state);
    d.onStored?.(rolloutId, state);
    // Stored first; now the effects.
    for (const a of actions) {
      if (this.#dead) return 'dead';
      switch (a.type) {
        case 'set-desired':
          this.stats.setDesired++;
          await d.applier.ensure(spec, a.nodeId, a.version, a.reason).catch((e: unknown) => {
            // Left for the next holder's repair (or this one's next lease take-over).
            this.#held.delete(rolloutId);
            d.log?.(`rollout driver: ${rolloutId}: set ${a.nodeId} to ${a.version}: ${messageOf(e)}`);
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
    this.#wakeFor(actions);
    return 'stepped';
  }

  #wakeFor(actions: readonly RolloutAction[]): void {
    for (const a of actions)
      if (a.type === 'requeue-after') this.#nextWakeMs = Math.max(20, Math.min(this.#nextWakeMs, a.ms));
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
