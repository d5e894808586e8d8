/**
 * The controller's alert evaluator: given a sample of the fleet (job problems, node last-seen
 * times, agent counters) at time `now`, it says which alerts start and stop firing.
 *
 * ```
 *               condition true                 held for holdDownMs
 *   (inactive) ----------------> pending ------------------------> firing
 *        ^                          |                                 |
 *        +--------------------------+---------------------------------+
 *                condition false (pending: dropped silently; firing: `resolved`)
 * ```
 *
 * Invariants:
 * - An alert instance is identified by its `key` (alert name, node, job label / reason): the
 *   same key on every controller, so they can agree on who publishes (lf_alerts).
 * - `firing` is emitted once per pending -> firing edge, `resolved` once per firing -> inactive
 *   edge; an instance never fires twice without a `resolved` between.
 * - Counter alerts compare with the counter's previous sample: the first sample this evaluator
 *   takes of the fleet is a baseline (a restarted controller does not re-alert on old
 *   refusals), a series that appears later above zero counts as an increase, and a counter that
 *   went down (agent restart) and is above zero counts as an increase (Prometheus' reset rule).
 * - Recurring drift sums those increases per node and kind over the last hour, in at most ~61
 *   coalesced buckets per series (bounded however often the counter rises).
 * - Rollout alerts are evaluated only from a known view of the rollouts (`rollouts` given): when
 *   the sample has none (not read yet, or the read failed) their instances stay as they are,
 *   neither advancing nor resolving, so a controller that cannot read lf_rollouts for a moment
 *   does not resolve and re-fire them.
 * - Counter work is incremental (a 10,000-node fleet is sampled every second, and almost no
 *   node's counters change between two samples): only a node whose `counters` object is not the
 *   one seen last time (new, replaced status) has its reasons walked; a node whose counters did
 *   not change only matters while one of its series is "hot" (its last increase within the
 *   counter window, or a non-empty drift log), and the hot series are re-checked each tick. The
 *   result is the same as walking every node on every tick (alert-evaluator-reference.ts, the
 *   oracle of alert-evaluator.differential.test.ts). That rests on three facts, each guarded:
 *   a sample's `counters` objects are not changed in place (NodeSample.counters); with time not
 *   going back, a series that has left the window stays out until its counter rises (a tick
 *   whose `now` is below the last one's, or not a number, walks every node); and no two series
 *   share a key (a node id twice in one sample, or reasons that encode to one token, make the
 *   nodes involved "pinned": walked on every tick, as the oracle does).
 *
 * Pure: no I/O, no timers, no clock; `now` is passed in. Memory is bounded by the fleet's
 * problem jobs, nodes and counter series.
 *
 * Its types are in alert-sample.ts and what each instance is (key, labels, summary) in
 * alert-instances.ts. Still over 400 lines because the incremental counter bookkeeping (plan,
 * claim, walk, forget, the hot sets) is one mechanism over one set of series maps, and the
 * invariants above hold only if nothing else writes those maps: split, it would have to expose
 * them.
 */
import { type AgentCounters, keys } from '@launchfleet/shared/messages';
import {
  type CounterField,
  counterAlert,
  counterInstance,
  jobAlert,
  recurringInstance,
  rolloutAlerts,
  rolloutInstances,
  unseenAlert,
} from './alert-instances.ts';
import type { AlertSettings } from './alert-rules.ts';
import type { AlertInstance, AlertTransition, FleetSample, JobSample, NodeSample } from './alert-sample.ts';

export type * from './alert-sample.ts';

interface Tracked {
  alert: AlertInstance;
  activeSince: number;
  firing: boolean;
}

/** Increases of one drift series, oldest first, coalesced into buckets of window/60. */
type IncreaseLog = { at: number; n: number }[];

/** One counter series, `<alert>.<node>.<reason>`: its last value and last increase. */
interface CounterSeries {
  readonly recurring: false;
  readonly key: string;
  readonly field: CounterField;
  /** The node whose counters created it (a different node reporting the key is a collision). */
  readonly nodeId: string;
  /** As last reported (two reasons can encode to one key token; the later one names it). */
  reason: string;
  value: number;
  lastIncreaseAt: number | undefined;
  /** The last tick that sampled it. */
  tick: number;
}

/** One recurring-drift series, `LaunchfleetDriftRecurring.<node>.<kind>`. */
interface RecurringSeries {
  readonly recurring: true;
  readonly key: string;
  readonly nodeId: string;
  kind: string;
  /** Increases within the window; empty when there were none. */
  log: IncreaseLog;
  tick: number;
}

type Series = CounterSeries | RecurringSeries;

/** What the evaluator remembers of one node's counters. */
interface NodeSeries {
  /** The counters object last walked (compared by identity). */
  counters: AgentCounters | undefined;
  /** The last tick whose sample listed the node, and the last tick that walked its counters. */
  seen: number;
  walked: number;
  /** The series its last walk sampled. */
  series: Series[];
  /** Walked on every tick: one of its keys is shared (a node id listed twice, reasons that encode alike). */
  pinned: boolean;
}

export class AlertEvaluator {
  readonly #s: AlertSettings;
  readonly #tracked = new Map<string, Tracked>();
  /** Throttled job instances: key -> the alert and the last time a sample showed it throttled. */
  readonly #throttledSeen = new Map<string, { alert: AlertInstance; at: number }>();
  /** Every counter series of the last sample, by key. */
  readonly #counters = new Map<string, CounterSeries>();
  /** Adopted counter alerts whose series has not been sampled yet: key -> fired at. */
  readonly #adoptedIncreases = new Map<string, number>();
  /** Every recurring-drift series of the last sample (with its increases in the window), by key. */
  readonly #recurring = new Map<string, RecurringSeries>();
  /** Adopted recurring-drift alerts whose series has not been sampled yet. */
  readonly #adoptedRecurring = new Set<string>();
  /** Per node of the last sample: its counters object and series. */
  readonly #nodes = new Map<string, NodeSeries>();
  /** Counter series whose last increase may still be within the counter window. */
  readonly #hotCounters = new Set<CounterSeries>();
  /** Recurring series with a non-empty log. */
  readonly #hotRecurring = new Set<RecurringSeries>();
  #tick = 0;
  #lastNow = -Infinity;
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
    const tick = ++this.#tick;
    const nodes: readonly NodeSample[] = Array.isArray(sample.nodes) ? sample.nodes : [...sample.nodes];
    // Time went back (or is not a number): a series that left a window may be back in it.
    const all = !(now >= this.#lastNow);
    const { walk, seen } = this.#plan(nodes, tick, all);
    const stale: Series[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as NodeSample;
      if (n.lastSeen > 0 && now - n.lastSeen > this.#s.unseenAfterMs) {
        const a = unseenAlert(n, now);
        active.set(a.key, a);
      }
      if (walk[i] === 1) this.#walk(n, this.#nodes.get(n.nodeId) as NodeSeries, now, tick, active, stale);
    }
    // Series no longer reported (node removed, agent replaced): forget them.
    if (seen !== this.#nodes.size)
      for (const [nodeId, rec] of this.#nodes) {
        if (rec.seen === tick) continue;
        stale.push(...rec.series);
        this.#nodes.delete(nodeId);
      }
    for (const s of stale) if (s.tick !== tick) this.#forget(s);
    // Adopted alerts of series whose node was not walked: as the walk would have applied them.
    for (const [key, firedAt] of this.#adoptedIncreases) {
      const s = this.#counters.get(key);
      if (!s) continue;
      s.lastIncreaseAt = Math.max(s.lastIncreaseAt ?? firedAt, firedAt);
      this.#hotCounters.add(s);
    }
    for (const key of this.#adoptedRecurring) {
      const r = this.#recurring.get(key);
      if (!r || r.log.length > 0) continue;
      r.log.push({ at: now, n: this.#s.driftRecurringAbove + 1 });
      this.#hotRecurring.add(r);
    }
    // An adopted counter alert whose series is gone resolves now; nothing to carry over.
    this.#adoptedIncreases.clear();
    this.#adoptedRecurring.clear();
    // Series of nodes not walked: unchanged counters (no increase), so only time moves them. An
    // instance active here was active on the previous tick too (time did not go back), so it is
    // tracked already: new instances enter #tracked in sample order, as in the oracle (firing()).
    for (const s of this.#hotCounters) if (s.tick !== tick) this.#counterActive(s, now, active);
    for (const r of this.#hotRecurring)
      if (r.tick !== tick) {
        r.log = r.log.filter((e) => now - e.at < this.#s.driftRecurringWindowMs);
        this.#recurringActive(r, active);
      }
    this.#primed = true;
    this.#lastNow = now;
    if (sample.rollouts !== undefined)
      for (const r of sample.rollouts)
        for (const a of rolloutInstances(r, now, this.#s.rolloutStuckAfterMs)) active.set(a.key, a);
    else for (const [key, t] of this.#tracked) if (rolloutAlerts.has(t.alert.name)) active.set(key, t.alert);

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
    const a = jobAlert(j);
    if (j.problem === 'throttled') this.#throttledSeen.set(a.key, { alert: a, at: now });
    else active.set(a.key, a);
  }

  /**
   * Which sample entries get their counters walked: new nodes, nodes whose counters object is not
   * the one walked last, pinned nodes, and every node when `all`. Marks the nodes seen (`seen`:
   * how many distinct ones) and pins the nodes of any key collision before anything is walked,
   * so that the walk, in sample order, does what the oracle does for every node.
   */
  #plan(nodes: readonly NodeSample[], tick: number, all: boolean): { walk: Uint8Array; seen: number } {
    const walk = new Uint8Array(nodes.length);
    const claimed = new Map<string, NodeSeries>();
    let seen = 0;
    let collided = false;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as NodeSample;
      let rec = this.#nodes.get(n.nodeId);
      let changed = all;
      if (!rec) {
        rec = { counters: undefined, seen: 0, walked: 0, series: [], pinned: false };
        this.#nodes.set(n.nodeId, rec);
        changed = true;
      } else if (rec.pinned || rec.counters !== n.counters) changed = true;
      if (rec.seen === tick) collided = rec.pinned = true;
      else {
        rec.seen = tick;
        seen++;
      }
      if (!changed) continue;
      walk[i] = 1;
      if (this.#claim(n, rec, claimed)) collided = true;
    }
    if (collided)
      for (let i = 0; i < nodes.length; i++)
        if (this.#nodes.get((nodes[i] as NodeSample).nodeId)?.pinned) walk[i] = 1;
    return { walk, seen };
  }

  /** Claims the keys `n`'s counters give for this tick; true (and pins) if one is taken. */
  #claim(n: NodeSample, rec: NodeSeries, claimed: Map<string, NodeSeries>): boolean {
    let collided = false;
    const check = (key: string, existing: Series | undefined) => {
      const other = claimed.get(key);
      if (other) collided = other.pinned = rec.pinned = true;
      else claimed.set(key, rec);
      if (existing && existing.nodeId !== n.nodeId) {
        collided = rec.pinned = true;
        const owner = this.#nodes.get(existing.nodeId);
        if (owner) owner.pinned = true;
      }
    };
    for (const field of ['signatureRefusals', 'drift'] as const)
      for (const reason of Object.keys(n.counters?.[field] ?? {})) {
        const key = keys.alert(counterAlert[field], n.nodeId, reason);
        check(key, this.#counters.get(key));
        if (field !== 'drift') continue;
        const rkey = keys.alert('LaunchfleetDriftRecurring', n.nodeId, reason);
        check(rkey, this.#recurring.get(rkey));
      }
    return collided;
  }

  /** Every reason of one node's counters; the series it sampled before go to `stale`. */
  #walk(
    n: NodeSample,
    rec: NodeSeries,
    now: number,
    tick: number,
    active: Map<string, AlertInstance>,
    stale: Series[],
  ): void {
    if (rec.walked !== tick) {
      // A node listed twice is walked twice: its series of this tick are the union of both.
      stale.push(...rec.series);
      rec.series = [];
      rec.walked = tick;
    }
    rec.counters = n.counters;
    for (const field of ['signatureRefusals', 'drift'] as const)
      for (const [reason, value] of Object.entries(n.counters?.[field] ?? {}))
        this.#counter(field, n, rec, reason, value, now, tick, active);
  }

  #forget(s: Series): void {
    if (s.recurring) {
      if (this.#recurring.get(s.key) === s) this.#recurring.delete(s.key);
      this.#hotRecurring.delete(s);
    } else {
      if (this.#counters.get(s.key) === s) this.#counters.delete(s.key);
      this.#hotCounters.delete(s);
    }
  }

  #counter(
    field: CounterField,
    n: NodeSample,
    rec: NodeSeries,
    reason: string,
    value: number,
    now: number,
    tick: number,
    active: Map<string, AlertInstance>,
  ): void {
    const name = counterAlert[field];
    const key = keys.alert(name, n.nodeId, reason);
    const prev = this.#counters.get(key);
    let lastIncreaseAt = prev?.lastIncreaseAt;
    // Prometheus' increase(): a counter that went down was reset, and all of its value is new.
    const amount = prev ? (value >= prev.value ? value - prev.value : value) : this.#primed ? value : 0;
    if (amount > 0) lastIncreaseAt = now;
    if (field === 'drift') this.#recurringIncrease(n.nodeId, rec, reason, amount, now, tick, active);
    const adopted = this.#adoptedIncreases.get(key);
    if (adopted !== undefined) {
      this.#adoptedIncreases.delete(key);
      lastIncreaseAt = Math.max(lastIncreaseAt ?? adopted, adopted);
    }
    let s = prev;
    if (!s) {
      s = { recurring: false, key, field, nodeId: n.nodeId, reason, value, lastIncreaseAt, tick: 0 };
      this.#counters.set(key, s);
    }
    s.reason = reason;
    s.value = value;
    s.lastIncreaseAt = lastIncreaseAt;
    if (s.tick !== tick) {
      s.tick = tick;
      rec.series.push(s);
    }
    this.#counterActive(s, now, active);
  }

  /** A counter alert is active while its last increase is within the window (then it is hot). */
  #counterActive(s: CounterSeries, now: number, active: Map<string, AlertInstance>): void {
    if (s.lastIncreaseAt === undefined || now - s.lastIncreaseAt > this.#s.counterWindowMs) {
      this.#hotCounters.delete(s);
      return;
    }
    this.#hotCounters.add(s);
    active.set(s.key, counterInstance(s.field, s.key, s.nodeId, s.reason, s.value));
  }

  /** `increase(launchfleet_agent_drift_total[1h]) > 3`, per node and kind. */
  #recurringIncrease(
    nodeId: string,
    rec: NodeSeries,
    kind: string,
    amount: number,
    now: number,
    tick: number,
    active: Map<string, AlertInstance>,
  ): void {
    const key = keys.alert('LaunchfleetDriftRecurring', nodeId, kind);
    let r = this.#recurring.get(key);
    if (!r) {
      r = { recurring: true, key, nodeId, kind, log: [], tick: 0 };
      this.#recurring.set(key, r);
    }
    r.kind = kind;
    if (r.tick !== tick) {
      r.tick = tick;
      rec.series.push(r);
    }
    const window = this.#s.driftRecurringWindowMs;
    const log = r.log;
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
    r.log = log.filter((e) => now - e.at < window);
    this.#recurringActive(r, active);
  }

  /** Recurring drift is active while its log (already cut to the window) sums above the limit. */
  #recurringActive(r: RecurringSeries, active: Map<string, AlertInstance>): void {
    if (r.log.length === 0) {
      this.#hotRecurring.delete(r);
      return;
    }
    this.#hotRecurring.add(r);
    const total = r.log.reduce((sum, e) => sum + e.n, 0);
    if (total <= this.#s.driftRecurringAbove) return;
    active.set(r.key, recurringInstance(r.key, r.nodeId, r.kind, total, this.#s.driftRecurringWindowMs));
  }
}
