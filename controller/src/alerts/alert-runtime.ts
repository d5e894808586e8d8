/**
 * Runs the alert evaluator over the aggregator's index every `tickMs` and turns its edges into
 * events in LF_EVENTS (`lf.events.controller.alert-firing` / `alert-resolved`), which the gRPC
 * `WatchEvents` stream and `launchfleet events --follow` deliver like every other event.
 *
 * Several controllers: each evaluates the same fleet view, and `lf_alerts` decides who speaks.
 * Firing = `create` of the instance's key (deterministic, keys.alert): only the controller whose
 * create succeeds publishes. Resolving = `delete` with the record's revision: only the winner of
 * that compare-and-set publishes. A controller that starts adopts the records it finds, so an
 * alert fired by a controller that has since stopped is still resolved.
 *
 * Delivery is at least once, not exactly once: each event carries the alert id
 * `<key>@<record revision>` (and the JetStream message id is derived from it, so a retried
 * publish is dropped by the stream's duplicate window). Two controllers whose views of the
 * fleet lag each other can, at the very edge of a condition, fire and resolve one instance
 * twice; consumers pair firing/resolved by id.
 *
 * Rollout alerts read the rollout records of `lf_rollouts` as the rollout cache holds them
 * (rollout/rollout-cache.ts: one watch, no listing per pass), every stored rollout as the rollout
 * gauges of rollout-metrics.ts export them, with the same state mapping and last-progress time;
 * every controller reads them, whichever drives the rollout.
 */
import { jetstream } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import { type Clock, messageOf } from '@launchfleet/shared';
import { buckets, encodeNodeEvent, subjects } from '@launchfleet/shared/messages';
import { controllerMetrics } from '@launchfleet/shared/metrics';
import { natsError, natsFailureKind } from '@launchfleet/shared/nats-errors';
import type { FleetIndex } from '../fleet/core/fleet-index.ts';
import { currentRollouts, lastProgressAt, metricState, progressRatio } from '../rollout/rollout-metrics.ts';
import type { RolloutRecord } from '../rollout/rollout-store.ts';
import {
  AlertEvaluator,
  type AlertTransition,
  type FleetSample,
  type JobSample,
  type NodeSample,
  type RolloutSample,
} from './core/alert-evaluator.ts';
import { type AlertSettings, alertNames, defaultAlertSettings } from './core/alert-rules.ts';
import { alertEvent, decodeAlertRecord, encodeAlertRecord } from './alert-record.ts';
import { createBucket } from '../identity/stream-limits.ts';

export interface AlertRuntimeDeps {
  readonly nc: NatsConnection;
  readonly index: FleetIndex;
  readonly clock: Clock;
  readonly replicas: number;
  /** Where `launchfleet_alert_events_total` is registered (the controller's /metrics). */
  readonly registry: Registry;
  /** Who fires (recorded in lf_alerts). */
  readonly holder: string;
  readonly settings?: AlertSettings;
  /**
   * Evaluation period. Default 1 s: a pass over 10,000 nodes whose counters did not change costs
   * well under a millisecond (test/bench/FLEET-RESULTS.md, "Alert evaluation at 10,000 nodes").
   */
  readonly tickMs?: number;
  /**
   * The stored rollouts (the rollout runtime's RolloutCache); without it no rollout alert is
   * raised, and while it is not `ready` (its watch has not shown every record) rollout alerts
   * stay as they are.
   */
  readonly rollouts?: { records(): readonly RolloutRecord[]; readonly ready: boolean };
  readonly log: (line: string) => void;
}

/** A running alert runtime. */
export interface AlertRuntime {
  readonly evaluator: AlertEvaluator;
  /** Events this controller published, by alert name. */
  readonly published: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/** Creates `lf_alerts`, adopts the firing records in it, and starts evaluating. */
export async function startAlertRuntime(d: AlertRuntimeDeps): Promise<AlertRuntime> {
  const kv = await createBucket(d.nc, buckets.alerts, {
    replicas: d.replicas,
    history: 1,
    maxValueSize: 8 * 1024,
  });
  const r = new AlertLoop(d, kv);
  await r.adoptExisting();
  r.start();
  return r;
}

/** True for JetStream's "wrong last sequence": a create or compare-and-set lost the race. */
function lostRace(e: unknown): boolean {
  const code = (e as { api_error?: { err_code?: unknown } } | null)?.api_error?.err_code;
  return code === 10071 || /wrong last sequence/i.test(messageOf(e));
}

class AlertLoop implements AlertRuntime {
  readonly evaluator: AlertEvaluator;
  readonly published: Record<string, number> = {};
  readonly #d: AlertRuntimeDeps;
  readonly #kv: KV;
  readonly #events: Counter<'alert'>;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(d: AlertRuntimeDeps, kv: KV) {
    this.#d = d;
    this.#kv = kv;
    this.evaluator = new AlertEvaluator(d.settings ?? defaultAlertSettings);
    const def = controllerMetrics.alerts;
    this.#events = new Counter({
      name: def.name,
      help: def.help,
      labelNames: ['alert'] as const,
      registers: [d.registry],
    });
    // Zero series for every alert: rate() over the counter works before the first event.
    for (const name of alertNames) this.#events.inc({ alert: name }, 0);
  }

  async adoptExisting(): Promise<void> {
    const found: string[] = [];
    for await (const k of await this.#kv.keys()) found.push(k);
    for (const key of found) {
      const e = await this.#kv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      const rec = decodeAlertRecord(key, e.string());
      if (rec) this.evaluator.adopt(rec.alert, rec.firedAt);
      else await this.#kv.delete(key, { previousSeq: e.revision }).catch(() => undefined);
    }
  }

  /** The rollouts as the evaluator samples them; undefined while the cache is not complete. */
  #rollouts(): RolloutSample[] | undefined {
    const source = this.#d.rollouts;
    if (!source?.ready) return undefined;
    // Only rollouts that still speak for their job (rollout-metrics.ts, as the gauges do).
    return currentRollouts(source.records()).map(({ spec, state }) => ({
      rolloutId: spec.rolloutId,
      label: spec.label,
      domain: spec.domain,
      state: metricState(state.phase.kind),
      lastProgressAt: lastProgressAt(state),
      progress: progressRatio(state),
      outcome: state.outcome?.reason,
    }));
  }

  start(): void {
    this.#loop = (async () => {
      const tick = this.#d.tickMs ?? 1000;
      while (!this.#stopped) {
        try {
          await this.#evaluate();
        } catch (e) {
          this.#d.log(`controller: alerts: ${messageOf(e)}`);
        }
        if (this.#stopped) break;
        await new Promise<void>((res) => {
          this.#wake = res;
          this.#timer = setTimeout(res, tick);
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
  }

  #sample(): FleetSample {
    const ix = this.#d.index;
    const jobs: JobSample[] = [];
    for (const e of ix.problemEntries()) {
      const detail = e.node.status?.details?.[e.label];
      jobs.push({
        nodeId: e.node.nodeId,
        label: e.label,
        domain: detail?.domain ?? 'system',
        problem: e.problem,
        successiveCrashes: detail?.successiveCrashes,
        lastExitStatus: detail?.lastExitStatus,
      });
    }
    const nodes: NodeSample[] = [];
    for (const n of ix.nodes()) {
      if (n.revokedAt !== undefined || !n.registered) continue;
      nodes.push({
        nodeId: n.nodeId,
        hostname: n.hostname,
        lastSeen: ix.lastSeen(n),
        counters: n.status?.counters,
      });
    }
    return { now: this.#d.clock.wallMs(), jobs, nodes, rollouts: this.#rollouts() };
  }

  async #evaluate(): Promise<void> {
    for (const t of this.evaluator.evaluate(this.#sample())) {
      if (this.#stopped) return;
      try {
        if (t.type === 'firing') await this.#fire(t);
        else await this.#resolve(t);
      } catch (e) {
        // The write did not happen: keep the evaluator's view in step with lf_alerts so the next
        // tick tries again. Classified once (shared nats-errors.ts), so the log says whether that
        // can help (the broker away) or a person must act (credentials or permissions refused).
        // (Still every tick: this loop has no per-alert backoff.)
        if (t.type === 'firing') this.evaluator.retract(t.alert.key);
        else this.evaluator.adopt(t.alert, t.activeSince);
        const c = natsError(e, `controller: alerts: ${t.type} ${t.alert.key}`);
        const kind = natsFailureKind(c);
        const why =
          kind === 'authorization'
            ? 'NATS refused it: a person must act; '
            : kind === 'terminal'
              ? 'not a broker outage; '
              : '';
        this.#d.log(`${c.message} (${why}tried again next tick)`);
      }
    }
  }

  async #fire(t: AlertTransition): Promise<void> {
    const now = this.#d.clock.wallMs();
    let revision: number;
    try {
      revision = await this.#kv.create(
        t.alert.key,
        encodeAlertRecord({ alert: t.alert, activeSince: t.activeSince, firedAt: now, by: this.#d.holder }),
      );
    } catch (e) {
      if (lostRace(e)) return; // another controller fired it and published
      throw e;
    }
    try {
      await this.#publish('firing', t, `${t.alert.key}@${revision}`);
    } catch (e) {
      // Not published: withdraw the record so that this or another controller fires it again.
      await this.#kv.delete(t.alert.key, { previousSeq: revision }).catch(() => undefined);
      throw e;
    }
  }

  async #resolve(t: AlertTransition): Promise<void> {
    const e = await this.#kv.get(t.alert.key);
    if (!e || e.operation !== 'PUT') return; // resolved by another controller
    const rec = decodeAlertRecord(t.alert.key, e.string());
    try {
      await this.#kv.delete(t.alert.key, { previousSeq: e.revision });
    } catch (err) {
      if (lostRace(err)) return;
      throw err;
    }
    await this.#publish(
      'resolved',
      { ...t, activeSince: rec?.activeSince ?? t.activeSince },
      `${t.alert.key}@${e.revision}`,
    );
  }

  async #publish(type: 'firing' | 'resolved', t: AlertTransition, id: string): Promise<void> {
    const kind = type === 'firing' ? 'alert-firing' : 'alert-resolved';
    const data = encodeNodeEvent(alertEvent(type, t.alert, id, t.activeSince, t.at), this.#d.clock.wallMs());
    const js = jetstream(this.#d.nc);
    for (let attempt = 1; ; attempt++) {
      try {
        await js.publish(subjects.alertEvent(kind), data, { msgID: `${id}:${type}` });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    this.#events.inc({ alert: t.alert.name });
    this.published[t.alert.name] = (this.published[t.alert.name] ?? 0) + 1;
    this.#d.log(`controller: alert ${kind} ${t.alert.name} ${id}: ${t.alert.summary}`);
  }
}
