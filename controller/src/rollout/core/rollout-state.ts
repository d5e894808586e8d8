/**
 * The persisted state of one rollout, its events and its actions. The state is plain JSON (no
 * `undefined`, no Map, no class): it is stored as one JetStream KV entry and written with
 * compare-and-set on the entry's revision, so two controllers never drive the same rollout at
 * once. `schemaVersion` lets a newer controller refuse or upgrade an older entry.
 */
import { type Result, err, ok } from '@launchfleet/shared/errors';
import type { StepCounts } from './health-gate.ts';
import type { NodeObservation } from './node-observation.ts';
import type { Version } from './rollout-spec.ts';

/** Bump when the state's shape changes incompatibly; `decodeRolloutState` refuses other versions. */
export const rolloutSchemaVersion = 1;

/** One step of the plan, fixed when the rollout is created. */
export interface StepPlan {
  /** `canary`, `wave-1`, `wave-2`, ... (`all` for all-at-once). */
  readonly name: string;
  readonly kind: 'canary' | 'wave';
  /** The nodes first updated in this step, in update order. Steps partition the target. */
  readonly nodeIds: readonly string[];
}

/**
 * The rollout's phase. `step` indexes `RolloutState.steps`.
 * Invariant: exactly one of `canary`, `wave`, `paused` holds while `RolloutState.current` is non-null.
 */
export type RolloutPhase =
  /** Created, not started: nothing touched. */
  | { kind: 'pending' }
  /** Updating the canary step's nodes and waiting for its gate. */
  | { kind: 'canary'; step: number }
  /** Updating wave `wave` (1-based; all-at-once is wave 1) and waiting for its gate. */
  | { kind: 'wave'; step: number; wave: number }
  /** Manually paused during `step`: no node is updated; failures are still detected. */
  | { kind: 'paused'; step: number }
  /** Every step passed. Deferred nodes that return are still converged to the new version. */
  | { kind: 'succeeded' }
  /** A step failed and autoRollback was off: nothing more is done; touched nodes keep the new version. */
  | { kind: 'failed' }
  /** Touched nodes were set back to their previous version; waiting for them to acknowledge. */
  | { kind: 'rolling-back' }
  /** Every touched node was set back (and acknowledged, was offline, or the deadline passed). Terminal. */
  | { kind: 'rolled-back' }
  /** Stopped by a person: nodes stay as they are. Terminal. */
  | { kind: 'aborted' };

export type RolloutPhaseKind = RolloutPhase['kind'];

/** Where a node stands in the rollout. */
export type NodeRolloutStatus =
  /** Not touched by this rollout (yet). */
  | 'untouched'
  /** We set the new version; it is not healthy yet (in flux). */
  | 'updating'
  /** The new version passed the node gate. */
  | 'healthy'
  /** The new version is failing on the node (in flux: unavailable). */
  | 'unhealthy'
  /** The node is offline: deferred, counted apart, neither in flux nor blocking. */
  | 'offline-deferred'
  /** We set the node back to its previous version (rollback). */
  | 'reverted';

/** Why the rollout wrote a node's desired version. */
export type SetReason = 'rollout' | 'rollback' | 'converge';

/** The controller's record of one target node. */
export interface NodeRecord {
  /** Index of the step the node was planned into. */
  step: number;
  status: NodeRolloutStatus;
  /**
   * True once we set the new version on the node (rollout or converge). Invariant: set-desired
   * to the new version is emitted at most once per node (expectations: it stays written in KV
   * until the node acknowledges, so it is never re-sent).
   */
  touched: boolean;
  /** True once we set the node back (at most once per node). */
  reverted: boolean;
  /** The last version we wrote for the node, with when and why; null if we never wrote one. */
  lastSet: { version: Version; at: number; reason: SetReason } | null;
  /** The step whose gate judges this node (where it was updated or re-entered); null outside a running step. */
  gateStep: number | null;
  /** Start of the node's health window (set-desired, or its return from offline). */
  windowStart: number | null;
  /** The latest verdict's reason, for people. */
  reason: string | null;
  /** The latest observation of the node; null until one arrives. */
  observation: NodeObservation | null;
}

/** Timing of the running step. */
export interface CurrentStep {
  index: number;
  startedAt: number;
  /** The step's start or its last progress (a node updated, turning healthy or back); the deadline counts from here. */
  progressAt: number;
}

/** How a step ended. */
export type StepOutcome = 'passed' | 'failed' | 'deadline-exceeded' | 'aborted' | 'rolled-back';

/** One entry of the step history (the "why" people read). */
export interface StepHistoryEntry {
  step: number;
  name: string;
  startedAt: number;
  endedAt: number | null;
  outcome: StepOutcome | null;
  reason: string | null;
  counts: StepCounts | null;
}

/** A happening recorded in the rollout's log and emitted as a `record-event` action. */
export interface RolloutEventRecord {
  kind:
    | 'started'
    | 'step-started'
    | 'step-passed'
    | 'step-failed'
    | 'paused'
    | 'resumed'
    | 'aborted'
    | 'rollback-started'
    | 'rolled-back'
    | 'succeeded'
    | 'failed'
    | 'node-deferred'
    | 'node-returned'
    | 'ignored';
  at: number;
  message: string;
  nodeId: string | null;
  step: number | null;
}

/** The log keeps the most recent entries only, so the KV entry stays bounded. */
export const maxLogEntries = 100;

/** The whole persisted state of a rollout. */
export interface RolloutState {
  schemaVersion: typeof rolloutSchemaVersion;
  rolloutId: string;
  phase: RolloutPhase;
  /** The plan, fixed at creation. */
  steps: StepPlan[];
  /** maxUnavailable resolved against the target (>= 1 unless the target is empty). */
  maxUnavailable: number;
  /** The running (or paused) step; null before start and after the rollout left its steps. */
  current: CurrentStep | null;
  /** One record per target node, keyed by node id. Only target nodes have records. */
  nodes: Record<string, NodeRecord>;
  history: StepHistoryEntry[];
  log: RolloutEventRecord[];
  /** Why the rollout ended the way it did (failure, abort, manual rollback); null while fine. */
  outcome: { reason: string; at: number } | null;
  startedAt: number | null;
  finishedAt: number | null;
  rollbackStartedAt: number | null;
}

/** Something that happened to the rollout: a person's command, new observations, or time passing. */
export type RolloutEvent =
  /** Begin the rollout (from `pending` only), optionally with the first observations. */
  | { type: 'start'; observations?: readonly NodeObservation[] }
  /** Fresh observations of (some) target nodes; observations of other nodes are ignored. */
  | { type: 'observe'; observations: readonly NodeObservation[] }
  /** Time passed (a requeue fired): re-evaluate gates and deadlines with the stored observations. */
  | { type: 'tick' }
  /** Stop updating nodes; keep watching for failures. */
  | { type: 'pause'; reason: string }
  /** Continue a paused rollout; the progress deadline restarts. */
  | { type: 'resume' }
  /** Stop for good, leaving every node as it is. */
  | { type: 'abort'; reason: string }
  /** Set every touched node back to its previous version (also after success or failure). */
  | { type: 'rollback'; reason: string };

/** What the machine asks the one applier to do. */
export type RolloutAction =
  /** Write the node's desired version for the job (KV); `null` removes the job. */
  | { type: 'set-desired'; nodeId: string; version: Version; reason: SetReason }
  /** Append to the event stream (and the operator's view). */
  | { type: 'record-event'; event: RolloutEventRecord }
  /** Call `step` with a `tick` after this many milliseconds (level-based requeue). */
  | { type: 'requeue-after'; ms: number };

/** Every phase kind (what a stored state may hold; the console's phase filter offers them in this order). */
export const phaseKinds: readonly RolloutPhaseKind[] = [
  'pending',
  'canary',
  'wave',
  'paused',
  'succeeded',
  'failed',
  'rolling-back',
  'rolled-back',
  'aborted',
];

/**
 * Checks a state read back from KV: schema version and the shape the machine relies on. It does
 * not re-validate every field: the entry was written by this code; this guards against an entry
 * from another schema or a corrupted one.
 */
export function decodeRolloutState(value: unknown): Result<RolloutState, string> {
  if (typeof value !== 'object' || value === null) return err('rollout state is not an object');
  const v = value as Partial<Record<keyof RolloutState, unknown>>;
  if (v.schemaVersion !== rolloutSchemaVersion)
    return err(`unsupported rollout state schema ${String(v.schemaVersion)} (want ${rolloutSchemaVersion})`);
  if (typeof v.rolloutId !== 'string') return err('rolloutId missing');
  const phase = v.phase as { kind?: unknown } | null | undefined;
  if (!phase || !phaseKinds.includes(phase.kind as RolloutPhaseKind)) return err('phase invalid');
  if (!Array.isArray(v.steps) || !Array.isArray(v.history) || !Array.isArray(v.log))
    return err('steps, history or log missing');
  if (typeof v.maxUnavailable !== 'number') return err('maxUnavailable missing');
  if (typeof v.nodes !== 'object' || v.nodes === null || Array.isArray(v.nodes)) return err('nodes missing');
  for (const [id, rec] of Object.entries(v.nodes as Record<string, unknown>)) {
    const r = rec as Partial<NodeRecord> | null;
    if (!r || typeof r.step !== 'number' || typeof r.status !== 'string' || typeof r.touched !== 'boolean')
      return err(`node record ${id} invalid`);
  }
  return ok(value as RolloutState);
}
