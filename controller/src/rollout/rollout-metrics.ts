/**
 * The rollout gauges of shared/src/metrics/catalog.ts, computed at scrape time from the last
 * state this controller read of each rollout (every controller reads every record when it
 * scans, so each exports the same values; the alert rules take `max by (rollout, label)`).
 */
import { Gauge, type Registry } from 'prom-client';
import { controllerMetrics } from '@launchfleet/shared/metrics';
import { type RolloutPhaseKind, type RolloutSpec, type RolloutState, isFinished } from './core/index.ts';

/** The catalog's state values. */
const stateValues = ['running', 'paused', 'succeeded', 'failed', 'rolled_back', 'aborted'] as const;
type StateValue = (typeof stateValues)[number];

/** The core's phase as the metric's `state` value (pending and steps are "running"; reverting counts as rolled back). */
export function metricState(k: RolloutPhaseKind): StateValue {
  switch (k) {
    case 'pending':
    case 'canary':
    case 'wave':
      return 'running';
    case 'paused':
      return 'paused';
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return 'failed';
    case 'rolling-back':
    case 'rolled-back':
      return 'rolled_back';
    case 'aborted':
      return 'aborted';
    default: {
      const never: never = k;
      return never;
    }
  }
}

/** Fraction of the target healthy on the new version. */
export function progressRatio(state: RolloutState): number {
  const recs = Object.values(state.nodes);
  if (recs.length === 0) return 1;
  return recs.filter((r) => r.status === 'healthy').length / recs.length;
}

/** When the rollout last advanced (ms): the running step's progress, else its end or start. */
export function lastProgressAt(state: RolloutState): number {
  return state.current?.progressAt ?? state.finishedAt ?? state.startedAt ?? 0;
}

/**
 * The rollouts that still speak for their job: every unfinished one, and for each job (domain,
 * label) the one started last. A failed or rolled-back rollout so stops alerting, and its series
 * go, once a newer rollout of the same job starts; the series count is bounded by the jobs
 * rolled out, not by the history. (A rollout not started yet counts as the newest.)
 */
export function currentRollouts<T extends { readonly spec: RolloutSpec; readonly state: RolloutState }>(
  all: Iterable<T>,
): T[] {
  const list = [...all];
  const newest = new Map<string, T>();
  const started = (r: T): number => r.state.startedAt ?? Number.MAX_SAFE_INTEGER;
  for (const r of list) {
    const job = `${r.spec.domain}\u0000${r.spec.label}`;
    const seen = newest.get(job);
    if (!seen || started(r) > started(seen)) newest.set(job, r);
  }
  const keep = new Set(newest.values());
  return list.filter((r) => !isFinished(r.state) || keep.has(r));
}

export class RolloutMetrics {
  readonly #latest = new Map<string, { spec: RolloutSpec; state: RolloutState }>();

  constructor(registry: Registry) {
    const registers = [registry];
    const latest = this.#latest;
    new Gauge({
      name: controllerMetrics.rolloutState.name,
      help: controllerMetrics.rolloutState.help,
      labelNames: controllerMetrics.rolloutState.labels,
      registers,
      collect() {
        this.reset();
        for (const { spec, state } of currentRollouts(latest.values())) {
          const now = metricState(state.phase.kind);
          for (const v of stateValues)
            this.set({ rollout: spec.rolloutId, label: spec.label, state: v }, v === now ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: controllerMetrics.rolloutProgress.name,
      help: controllerMetrics.rolloutProgress.help,
      labelNames: controllerMetrics.rolloutProgress.labels,
      registers,
      collect() {
        this.reset();
        for (const { spec, state } of currentRollouts(latest.values()))
          this.set({ rollout: spec.rolloutId, label: spec.label }, progressRatio(state));
      },
    });
    new Gauge({
      name: controllerMetrics.rolloutLastProgress.name,
      help: controllerMetrics.rolloutLastProgress.help,
      labelNames: controllerMetrics.rolloutLastProgress.labels,
      registers,
      collect() {
        this.reset();
        for (const { spec, state } of currentRollouts(latest.values()))
          this.set({ rollout: spec.rolloutId, label: spec.label }, lastProgressAt(state) / 1000);
      },
    });
  }

  /** Records the latest state read of a rollout. */
  set(spec: RolloutSpec, state: RolloutState): void {
    this.#latest.set(spec.rolloutId, { spec, state });
  }

  /** The rollout was deleted: its series go. */
  forget(rolloutId: string): void {
    this.#latest.delete(rolloutId);
  }
}
