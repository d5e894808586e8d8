/**
 * TEST-ONLY ORACLE: the alert evaluator as it was before its counter part became incremental
 * (commit 1ebd98d, controller/src/alerts/core/alert-evaluator.ts), kept verbatim except for the
 * class name and imports, and for what an instance *is* (key, labels, summary: jobs, unseen
 * nodes, counters, rollouts), which it builds with the production evaluator's functions
 * (alert-instances.ts): the incremental rewrite did not change those, alert-evaluator.test.ts
 * checks them, and this oracle is about *when* an instance is active.
 * alert-evaluator.differential.test.ts drives it and the production
 * AlertEvaluator with the same random samples and requires equal outputs on every tick;
 * test/src/bench/alert-eval-bench.ts times both. Nothing in the controller imports it. Do not
 * "fix" it: a change of alert semantics must be made in both, on purpose.
 *
 * It walks every node's counters on every evaluation: O(nodes x reasons) per tick.
 */
import { keys } from '@launchfleet/shared/messages';
import * as instances from './alert-instances.ts';
import type { AlertSettings } from './alert-rules.ts';
import type { AlertInstance, AlertTransition, FleetSample, JobSample, NodeSample } from './alert-sample.ts';

interface Tracked {
  alert: AlertInstance;
  activeSince: number;
  firing: boolean;
}

interface CounterSeries {
  value: number;
  lastIncreaseAt: number | undefined;
}

/** Increases of one drift series, oldest first, coalesced into buckets of window/60. */
type IncreaseLog = { at: number; n: number }[];

export class ReferenceAlertEvaluator {
  readonly #s: AlertSettings;
  readonly #tracked = new Map<string, Tracked>();
  /** Throttled job instances: key -> the alert and the last time a sample showed it throttled. */
  readonly #throttledSeen = new Map<string, { alert: AlertInstance; at: number }>();
  readonly #counters = new Map<string, CounterSeries>();
  /** Adopted counter alerts whose series has not been sampled yet: key -> fired at. */
  readonly #adoptedIncreases = new Map<string, number>();
  /** Drift increases per recurring-drift key, within the recurring window. */
  readonly #driftLogs = new Map<string, IncreaseLog>();
  /** Adopted recurring-drift alerts whose series has not been sampled yet. */
  readonly #adoptedRecurring = new Set<string>();
  #primed = false;

  constructor(settings: AlertSettings) {
    this.#s = settings;
  }

  /** Instances currently firing (for tests and introspection). */
  firing(): AlertInstance[] {
    return [...this.#tracked.values()].filter((t) => t.firing).map((t) => t.alert);
  }

  /**
   * An alert already recorded as firing (by this or another controller, before this one
   * started): from now on it resolves like one this evaluator fired. A counter alert stays
   * active until `firedAt` + the counter window unless the counter rises again.
   */
  adopt(alert: AlertInstance, firedAt: number): void {
    const t = this.#tracked.get(alert.key);
    if (t) {
      t.firing = true;
      return;
    }
    this.#tracked.set(alert.key, { alert, activeSince: firedAt, firing: true });
    if (alert.name === 'LaunchfleetDriftRecurring') this.#adoptedRecurring.add(alert.key);
    else if (alert.reason !== undefined) this.#adoptedIncreases.set(alert.key, firedAt);
  }

  /** Publishing a `firing` failed: treat the instance as pending, so the next sample fires it again. */
  retract(key: string): void {
    const t = this.#tracked.get(key);
    if (t) t.firing = false;
  }

  /** Evaluates one sample; returns the edges, firing ones first, each group by key. */
  evaluate(sample: FleetSample): AlertTransition[] {
    const now = sample.now;
    const active = new Map<string, AlertInstance>();
    for (const j of sample.jobs) this.#job(j, now, active);
    for (const [key, seen] of this.#throttledSeen) {
      if (now - seen.at > this.#s.throttledWindowMs) this.#throttledSeen.delete(key);
      else active.set(key, seen.alert);
    }
    const sampled = new Set<string>();
    for (const n of sample.nodes) {
      if (n.lastSeen > 0 && now - n.lastSeen > this.#s.unseenAfterMs) {
        const a = instances.unseenAlert(n, now);
        active.set(a.key, a);
      }
      for (const field of ['signatureRefusals', 'drift'] as const)
        for (const [reason, value] of Object.entries(n.counters?.[field] ?? {}))
          this.#counter(field, n, reason, value, now, sampled, active);
    }
    // Series no longer reported (node removed, agent replaced): forget them.
    for (const key of this.#counters.keys()) if (!sampled.has(key)) this.#counters.delete(key);
    for (const key of this.#driftLogs.keys()) if (!sampled.has(key)) this.#driftLogs.delete(key);
    // An adopted counter alert whose series is gone resolves now; nothing to carry over.
    this.#adoptedIncreases.clear();
    this.#adoptedRecurring.clear();
    this.#primed = true;
    if (sample.rollouts !== undefined)
      for (const r of sample.rollouts)
        for (const a of instances.rolloutInstances(r, now, this.#s.rolloutStuckAfterMs)) active.set(a.key, a);
    else
      for (const [key, t] of this.#tracked)
        if (instances.rolloutAlerts.has(t.alert.name)) active.set(key, t.alert);

    const fired: AlertTransition[] = [];
    const resolved: AlertTransition[] = [];
    for (const [key, alert] of active) {
      let t = this.#tracked.get(key);
      if (!t) this.#tracked.set(key, (t = { alert, activeSince: now, firing: false }));
      t.alert = alert;
      if (!t.firing && now - t.activeSince >= this.#s.holdDownMs[alert.name]) {
        t.firing = true;
        fired.push({ type: 'firing', alert, activeSince: t.activeSince, at: now });
      }
    }
    for (const [key, t] of this.#tracked) {
      if (active.has(key)) continue;
      this.#tracked.delete(key);
      if (t.firing) resolved.push({ type: 'resolved', alert: t.alert, activeSince: t.activeSince, at: now });
    }
    const byKey = (a: AlertTransition, b: AlertTransition) =>
      a.alert.key < b.alert.key ? -1 : a.alert.key > b.alert.key ? 1 : 0;
    return [...fired.sort(byKey), ...resolved.sort(byKey)];
  }

  #job(j: JobSample, now: number, active: Map<string, AlertInstance>): void {
    const a = instances.jobAlert(j);
    if (j.problem === 'throttled') this.#throttledSeen.set(a.key, { alert: a, at: now });
    else active.set(a.key, a);
  }

  #counter(
    field: instances.CounterField,
    n: NodeSample,
    reason: string,
    value: number,
    now: number,
    sampled: Set<string>,
    active: Map<string, AlertInstance>,
  ): void {
    const name = instances.counterAlert[field];
    const key = keys.alert(name, n.nodeId, reason);
    sampled.add(key);
    const prev = this.#counters.get(key);
    let lastIncreaseAt = prev?.lastIncreaseAt;
    // Prometheus' increase(): a counter that went down was reset, and all of its value is new.
    const amount = prev ? (value >= prev.value ? value - prev.value : value) : this.#primed ? value : 0;
    if (amount > 0) lastIncreaseAt = now;
    if (field === 'drift') this.#recurring(n.nodeId, reason, amount, now, sampled, active);
    const adopted = this.#adoptedIncreases.get(key);
    if (adopted !== undefined) {
      this.#adoptedIncreases.delete(key);
      lastIncreaseAt = Math.max(lastIncreaseAt ?? adopted, adopted);
    }
    this.#counters.set(key, { value, lastIncreaseAt });
    if (lastIncreaseAt === undefined || now - lastIncreaseAt > this.#s.counterWindowMs) return;
    active.set(key, instances.counterInstance(field, key, n.nodeId, reason, value));
  }
  /** `increase(launchfleet_agent_drift_total[1h]) > 3`, per node and kind. */
  #recurring(
    nodeId: string,
    kind: string,
    amount: number,
    now: number,
    sampled: Set<string>,
    active: Map<string, AlertInstance>,
  ): void {
    const key = keys.alert('LaunchfleetDriftRecurring', nodeId, kind);
    sampled.add(key);
    const window = this.#s.driftRecurringWindowMs;
    let log = this.#driftLogs.get(key) ?? [];
    if (this.#adoptedRecurring.delete(key) && log.length === 0)
      // Fired before this evaluator started and not resolved since: its history is unknown here.
      // Count it as still recurring as of now, so it resolves a window later unless drift goes on
      // (rather than resolving at once and firing again after the next hold-down).
      log.push({ at: now, n: this.#s.driftRecurringAbove + 1 });
    if (amount > 0) {
      const last = log[log.length - 1];
      if (last && now - last.at < window / 60) last.n += amount;
      else log.push({ at: now, n: amount });
    }
    log = log.filter((e) => now - e.at < window);
    if (log.length === 0) {
      this.#driftLogs.delete(key);
      return;
    }
    this.#driftLogs.set(key, log);
    const total = log.reduce((sum, e) => sum + e.n, 0);
    if (total <= this.#s.driftRecurringAbove) return;
    active.set(key, instances.recurringInstance(key, nodeId, kind, total, window));
  }
}
