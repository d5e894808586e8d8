/**
 * Drives the pure rollout machine against the fake fleet on a virtual clock, as the runtime
 * would: step, apply the actions, observe, follow `requeue-after`. For unit and property tests.
 */
import { isFinished, step, createRollout } from '../core/rollout-machine.ts';
import type { RolloutAction, RolloutEvent, RolloutState } from '../core/rollout-state.ts';
import type { RolloutSpec } from '../core/rollout-spec.ts';
import { isInFlux } from '../core/rollout-planner.ts';
import { FleetSim } from './fleet-sim.ts';

/** Nodes in flux (touched and updating or unhealthy). */
export function inFlux(state: RolloutState): number {
  return Object.values(state.nodes).filter(isInFlux).length;
}

export type SetDesired = Extract<RolloutAction, { type: 'set-desired' }>;

/** The set-desired actions of a batch, as `node=version(reason)` strings (compact assertions). */
export function writesOf(actions: readonly RolloutAction[]): string[] {
  return actions
    .filter((a): a is SetDesired => a.type === 'set-desired')
    .map((a) => `${a.nodeId}=${a.version ?? 'null'}(${a.reason})`);
}

/** Event kinds recorded in a batch. */
export function eventsOf(actions: readonly RolloutAction[]): string[] {
  return actions.flatMap((a) => (a.type === 'record-event' ? [a.event.kind] : []));
}

export class RolloutHarness {
  state: RolloutState;
  now = 0;
  readonly sim: FleetSim;
  readonly spec: RolloutSpec;
  /** Every batch of actions with the time it was emitted. */
  readonly batches: {
    at: number;
    event: RolloutEvent['type'];
    actions: readonly RolloutAction[];
    /** Nodes in flux after the batch. */
    inFlux: number;
  }[] = [];

  constructor(spec: RolloutSpec, state?: RolloutState, sim?: FleetSim) {
    this.spec = spec;
    this.state = state ?? createRollout(spec);
    this.sim = sim ?? new FleetSim(spec.toVersion, { ...spec.fromVersions }, spec.targetNodes);
  }

  send(event: RolloutEvent): readonly RolloutAction[] {
    const r = step(this.spec, this.state, event, this.now);
    this.state = r.state;
    this.sim.apply(r.actions, this.now);
    this.batches.push({ at: this.now, event: event.type, actions: r.actions, inFlux: inFlux(r.state) });
    return r.actions;
  }

  start(): readonly RolloutAction[] {
    return this.send({ type: 'start', observations: this.sim.observe(this.now) });
  }

  observe(): readonly RolloutAction[] {
    return this.send({ type: 'observe', observations: this.sim.observe(this.now) });
  }

  at(ms: number): this {
    this.now = ms;
    return this;
  }

  /** The last requeue the machine asked for in the latest batch, if any. */
  lastRequeue(): number | null {
    const last = this.batches.at(-1);
    const rq = last?.actions.findLast((a) => a.type === 'requeue-after');
    return rq?.type === 'requeue-after' ? rq.ms : null;
  }

  /**
   * Observes every `stepMs` (or sooner when the machine asks) until the rollout finishes or
   * `maxMs` of virtual time pass. Returns the phase reached.
   */
  runUntilFinished(maxMs: number, stepMs = 1000): string {
    const end = this.now + maxMs;
    while (!isFinished(this.state) && this.now < end) {
      const rq = this.lastRequeue();
      this.now += Math.min(stepMs, rq ?? stepMs);
      this.observe();
    }
    return this.state.phase.kind;
  }

  /** All set-desired actions emitted so far. */
  allWrites(): SetDesired[] {
    return this.batches.flatMap((b) => b.actions.filter((a): a is SetDesired => a.type === 'set-desired'));
  }
}

/** A rollout spec for tests: `n` nodes n0..n(n-1) on v1, rolling to v2, canary 1 then waves of 3. */
export function testSpec(n: number, over: Partial<RolloutSpec> = {}): RolloutSpec {
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  return {
    rolloutId: 'r1',
    label: 'com.example.agent',
    domain: 'system',
    jobKind: 'keep-alive',
    fromVersions: Object.fromEntries(ids.map((id) => [id, 'v1'])),
    toVersion: 'v2',
    targetNodes: ids,
    strategy: { kind: 'canary-waves', canary: { n: 1 }, waves: [{ n: 3 }], maxUnavailable: { n: 2 } },
    gate: {
      minHealthySeconds: 30,
      progressDeadlineSeconds: 120,
      maxUnhealthy: { n: 1 },
      requireNoCrashInWindow: true,
    },
    autoRollback: true,
    ...over,
  };
}
