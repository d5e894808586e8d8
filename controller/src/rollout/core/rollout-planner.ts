/**
 * The rollout planner: which nodes go into which step (once, at creation), and which nodes to
 * update next (on every reconcile). Pure functions over data, like Kubernetes' DaemonSet
 * `rollingUpdate` and Nomad's `AllocReconciler.Compute()`; the machine applies the result.
 *
 * Assumptions:
 * - The target is resolved to node ids when the rollout is created and never changes; steps
 *   partition it (every target node is planned into exactly one step).
 * - The applier writes a node's desired version at most once per `set-desired` action and the
 *   node reports which desired version it acknowledged (expectations): a node we set is not
 *   "available" until the gate says healthy.
 * - A node is only updated when its latest observation says it is online. Offline nodes (and
 *   nodes never observed) are deferred: they are neither in flux nor blocking, so a rollout makes
 *   progress when nodes are down (the same trade Kubernetes makes: "deleted pods do not count as
 *   unavailable so that updates make progress when nodes are down").
 *
 * Invariants:
 * - Never a node outside the target: only records of target nodes are candidates.
 * - In flux = touched and (updating or unhealthy). An update is planned only while in flux stays
 *   <= maxUnavailable after it: the planner never starts an update that would exceed it. (A
 *   touched node that went offline and comes back re-enters flux on its own; that return is not
 *   an update we start, and it can briefly exceed the bound, never by our doing.)
 * - Candidates come from the current step and earlier ones only (earlier ones: nodes that were
 *   deferred and have returned); never from a later step. The machine moves to a later step only
 *   after the current step's gate passed, and never after a failure.
 * - Each node is updated at most once: only `untouched` nodes are candidates.
 * - Order is deterministic: earlier steps first, then the target's order within a step.
 */
import { type RolloutSpec, resolveCount, resolveMaxUnavailable } from './rollout-spec.ts';
import type { NodeRolloutStatus, StepPlan } from './rollout-state.ts';

/**
 * Splits the target into steps. all-at-once: one step `all`. canary-waves: `canary` (skipped if
 * it resolves to 0 nodes), then `wave-1`, `wave-2`, ... sized as documented on `RolloutStrategy`.
 * An empty target has no steps.
 */
export function planSteps(spec: RolloutSpec): StepPlan[] {
  const all = spec.targetNodes;
  const total = all.length;
  if (total === 0) return [];
  const s = spec.strategy;
  if (s.kind === 'all-at-once') return [{ name: 'all', kind: 'wave', nodeIds: [...all] }];
  const steps: StepPlan[] = [];
  let at = resolveCount(s.canary, total);
  if (at > 0) steps.push({ name: 'canary', kind: 'canary', nodeIds: all.slice(0, at) });
  const sizes = s.waves.map((w) => resolveCount(w, total)).filter((n) => n > 0);
  for (let i = 0; at < total; i++) {
    const size = sizes.length === 0 ? total - at : (sizes[Math.min(i, sizes.length - 1)] ?? total - at);
    steps.push({ name: `wave-${i + 1}`, kind: 'wave', nodeIds: all.slice(at, at + size) });
    at += size;
  }
  return steps;
}

/** The planner's view of one node. */
export interface PlannerNode {
  readonly nodeId: string;
  /** The step the node is planned into. */
  readonly step: number;
  readonly status: NodeRolloutStatus;
  readonly touched: boolean;
  /** The latest observation says online. */
  readonly online: boolean;
}

/** What the planner decided. */
export interface UpdatePlan {
  /** Nodes to set to the new version now, in order. */
  readonly update: readonly string[];
  /** Nodes that could be updated in this step but wait for room under maxUnavailable. */
  readonly hold: readonly string[];
  /** In-flux count before the updates. */
  readonly inFlux: number;
}

/** A node is in flux when we touched it and it is not (yet, or any more) healthy. */
export function isInFlux(n: Pick<PlannerNode, 'status' | 'touched'>): boolean {
  return n.touched && (n.status === 'updating' || n.status === 'unhealthy');
}

/**
 * Decides which nodes to update next in step `currentStep`. `nodes` must be in step order, then
 * target order (the machine passes its records in that order).
 */
export function planUpdates(
  nodes: readonly PlannerNode[],
  currentStep: number,
  maxUnavailable: number,
): UpdatePlan {
  let inFlux = 0;
  const candidates: PlannerNode[] = [];
  for (const n of nodes) {
    if (isInFlux(n)) inFlux += 1;
    else if (n.status === 'untouched' && !n.touched && n.online && n.step <= currentStep) candidates.push(n);
  }
  // Earlier steps first (returned nodes), stable within a step.
  candidates.sort((a, b) => a.step - b.step);
  const room = Math.max(0, maxUnavailable - inFlux);
  return {
    update: candidates.slice(0, room).map((n) => n.nodeId),
    hold: candidates.slice(room).map((n) => n.nodeId),
    inFlux,
  };
}

/** Resolves maxUnavailable for a spec (re-exported for the machine and tests). */
export function maxUnavailableOf(spec: RolloutSpec): number {
  return resolveMaxUnavailable(spec.strategy, spec.targetNodes.length);
}
