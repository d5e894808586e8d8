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
 *
 * Pure: no I/O, no timers, no clock; `now` is passed in. Memory is bounded by the fleet's
 * problem jobs, nodes and counter series.
 */
import type { AgentCounters } from '@launchfleet/shared/messages/index';
import { keys } from '@launchfleet/shared/messages/index';
import type { JobProblem } from '../../fleet/core/job-problem.ts';
import { type AlertName, type AlertSettings, type AlertSeverity, alertSeverity } from './alert-rules.ts';

/** One job in a problem state on one node. */
export interface JobSample {
  readonly nodeId: string;
  readonly label: string;
  readonly domain: string;
  readonly problem: JobProblem;
  readonly successiveCrashes?: number | undefined;
  readonly lastExitStatus?: number | undefined;
}

/** One enrolled, unrevoked node. */
export interface NodeSample {
  readonly nodeId: string;
  readonly hostname: string;
  /** Wall ms of its last report; 0 = never seen (never "unseen": it has not started yet). */
  readonly lastSeen: number;
  readonly counters?: AgentCounters | undefined;
}

/** What the evaluator looks at, at `now` (wall ms). */
export interface FleetSample {
  readonly now: number;
  readonly jobs: Iterable<JobSample>;
  readonly nodes: Iterable<NodeSample>;
}

/** An alert instance with the labels the Prometheus rule would give it. */
export interface AlertInstance {
  readonly name: AlertName;
  /** Deterministic: `<name>.<nodeId>[.<label or reason token>]` (keys.alert). */
  readonly key: string;
  readonly severity: AlertSeverity;
  readonly node: string;
  /** Job alerts: the job's domain and label. */
  readonly domain?: string;
  readonly label?: string;
  /** Counter alerts: the counter's reason (signature refusals) or kind (drift). */
  readonly reason?: string;
  /** One line for people. */
  readonly summary: string;
}

/** An edge the evaluator saw. */
export type AlertTransition =
  /** The condition held for the hold-down time. */
  | {
      readonly type: 'firing';
      readonly alert: AlertInstance;
      readonly activeSince: number;
      readonly at: number;
    }
  /** A firing alert's condition no longer holds. */
  | {
      readonly type: 'resolved';
      readonly alert: AlertInstance;
      readonly activeSince: number;
      readonly at: number;
    };

interface Tracked {
  alert: AlertInstance;
  activeSince: number;
  firing: boolean;
}

interface CounterSeries {
  value: number;
  lastIncreaseAt: number | undefined;
}

type CounterField = 'signatureRefusals' | 'drift';
const counterAlert: Record<CounterField, AlertName> = {
  signatureRefusals: 'LaunchfleetSignatureRefused',
  drift: 'LaunchfleetDriftDetected',
};

export class AlertEvaluator {
  readonly #s: AlertSettings;
  readonly #tracked = new Map<string, Tracked>();
  /** Throttled job instances: key -> the alert and the last time a sample showed it throttled. */
  readonly #throttledSeen = new Map<string, { alert: AlertInstance; at: number }>();
  readonly #counters = new Map<string, CounterSeries>();
  /** Adopted counter alerts whose series has not been sampled yet: key -> fired at. */
  readonly #adoptedIncreases = new Map<string, number>();
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
    if (alert.reason !== undefined) this.#adoptedIncreases.set(alert.key, firedAt);
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
        const a = instance('LaunchfleetNodeUnseen', n.nodeId, {
          summary: `node ${n.nodeId}${n.hostname ? ` (${n.hostname})` : ''} has not been seen for ${Math.round((now - n.lastSeen) / 1000)} s`,
        });
        active.set(a.key, a);
      }
      for (const field of ['signatureRefusals', 'drift'] as const)
        for (const [reason, value] of Object.entries(n.counters?.[field] ?? {}))
          this.#counter(field, n, reason, value, now, sampled, active);
    }
    // Series no longer reported (node removed, agent replaced): forget them.
    for (const key of this.#counters.keys()) if (!sampled.has(key)) this.#counters.delete(key);
    // An adopted counter alert whose series is gone resolves now; nothing to carry over.
    this.#adoptedIncreases.clear();
    this.#primed = true;

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
    const where = `${j.domain}/${j.label} on node ${j.nodeId}`;
    const labels = { domain: j.domain, label: j.label };
    switch (j.problem) {
      case 'crash_looping': {
        const more = [
          j.successiveCrashes !== undefined ? `${j.successiveCrashes} successive crashes` : '',
          j.lastExitStatus !== undefined ? `last exit status ${j.lastExitStatus}` : '',
        ].filter((s) => s !== '');
        const a = instance('LaunchfleetJobCrashLooping', j.nodeId, {
          ...labels,
          summary: `${where} is crash-looping${more.length > 0 ? ` (${more.join(', ')})` : ''}`,
        });
        active.set(a.key, a);
        return;
      }
      case 'failed': {
        const a = instance('LaunchfleetJobLoadFailed', j.nodeId, {
          ...labels,
          summary: `${where} failed to load`,
        });
        active.set(a.key, a);
        return;
      }
      case 'throttled': {
        const a = instance('LaunchfleetJobThrottled', j.nodeId, {
          ...labels,
          summary: `${where} keeps being throttled (respawns held back by ThrottleInterval)`,
        });
        this.#throttledSeen.set(a.key, { alert: a, at: now });
        return;
      }
      default: {
        const never: never = j.problem;
        return never;
      }
    }
  }

  #counter(
    field: CounterField,
    n: NodeSample,
    reason: string,
    value: number,
    now: number,
    sampled: Set<string>,
    active: Map<string, AlertInstance>,
  ): void {
    const name = counterAlert[field];
    const key = keys.alert(name, n.nodeId, reason);
    sampled.add(key);
    const prev = this.#counters.get(key);
    let lastIncreaseAt = prev?.lastIncreaseAt;
    const rose = prev ? value > prev.value || (value < prev.value && value > 0) : this.#primed && value > 0;
    if (rose) lastIncreaseAt = now;
    const adopted = this.#adoptedIncreases.get(key);
    if (adopted !== undefined) {
      this.#adoptedIncreases.delete(key);
      lastIncreaseAt = Math.max(lastIncreaseAt ?? adopted, adopted);
    }
    this.#counters.set(key, { value, lastIncreaseAt });
    if (lastIncreaseAt === undefined || now - lastIncreaseAt > this.#s.counterWindowMs) return;
    const what =
      field === 'signatureRefusals' ? `refused a job bundle (${reason})` : `repaired drift (${reason})`;
    active.set(key, {
      ...instance(name, n.nodeId, { summary: `node ${n.nodeId} ${what}: ${value} in total` }),
      key,
      reason,
    });
  }
}

function instance(
  name: AlertName,
  node: string,
  o: { domain?: string; label?: string; summary: string },
): AlertInstance {
  return {
    name,
    key: keys.alert(name, node, o.label),
    severity: alertSeverity[name],
    node,
    ...(o.domain !== undefined && { domain: o.domain }),
    ...(o.label !== undefined && { label: o.label }),
    summary: o.summary,
  };
}
