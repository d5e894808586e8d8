/**
 * The rollout state machine (issue 7): a pure, total step function
 * `step(spec, state, event, now) -> { state, actions }` whose actions one applier executes.
 * Over 400 lines on purpose: one total step function over every (phase, event) pair, read
 * as one table; the planner, health gate and spec it uses are their own files beside it.
 *
 *                start                 gate passed               gate passed (last step)
 *   pending ───────────► canary ───────────────────► wave 1 ─► … ─► wave n ───────────► succeeded
 *      │                 │   ▲                        │  ▲                                 │
 *      │            pause│   │resume             pause│  │resume                           │ rollback
 *      │                 ▼   │                        ▼  │                                 ▼
 *      │               paused                       paused                           rolling-back
 *      │          (nothing updated, no deadline; a failing gate still fails the step)
 *      │
 *      │  gate failed (unhealthy >= threshold) or progress deadline exceeded, in any step or pause:
 *      │      autoRollback ─────► rolling-back ── reverted nodes acknowledged / deadline ──► rolled-back
 *      │      no autoRollback ──► failed ──────── rollback ──► rolling-back
 *      │
 *      └── abort (pending, any step, paused) ──► aborted ── rollback ──► rolling-back
 *
 *   Manual rollback is accepted in every phase but rolling-back and rolled-back.
 *
 * Level-based: every event re-derives node statuses from the latest observations and `now`, then
 * acts on the difference (controller-runtime's Reconcile). `step` never mutates its input; the
 * new state is plain JSON. The runtime stores it with compare-and-set on the KV revision (so two
 * controllers never drive one rollout) BEFORE applying the actions, so a controller restarted
 * from the stored state re-emits nothing already done; a write lost between the two is repaired
 * by level, comparing the KV with `desiredByNode(state)`. Each node gets at most one forward
 * set-desired (rollout or converge) and at most one rollback set-desired.
 */
import { evaluateNode, evaluateStep, type NodeVerdict, type StepVerdict } from './health-gate.ts';
import type { NodeObservation } from './node-observation.ts';
import {
  type PlannerNode,
  type UpdatePlan,
  maxUnavailableOf,
  planSteps,
  isInFlux,
  planUpdates,
} from './rollout-planner.ts';
import type { RolloutSpec, Version } from './rollout-spec.ts';
import {
  type NodeRecord,
  type RolloutAction,
  type RolloutEvent,
  type RolloutEventRecord,
  type RolloutPhase,
  type RolloutState,
  type StepHistoryEntry,
  type StepOutcome,
  maxLogEntries,
  rolloutSchemaVersion,
} from './rollout-state.ts';

/** The result of one step: the next state and the actions for the applier, in order. */
export interface StepResult {
  readonly state: RolloutState;
  readonly actions: readonly RolloutAction[];
}

/** A new rollout in `pending`: the plan is fixed now, nothing is touched. */
export function createRollout(spec: RolloutSpec): RolloutState {
  const steps = planSteps(spec);
  const nodes: Record<string, NodeRecord> = {};
  steps.forEach((st, i) => {
    for (const id of st.nodeIds) {
      nodes[id] = {
        step: i,
        status: 'untouched',
        touched: false,
        reverted: false,
        lastSet: null,
        gateStep: null,
        windowStart: null,
        reason: null,
        observation: null,
      };
    }
  });
  return {
    schemaVersion: rolloutSchemaVersion,
    rolloutId: spec.rolloutId,
    phase: { kind: 'pending' },
    steps,
    maxUnavailable: maxUnavailableOf(spec),
    current: null,
    nodes,
    history: [],
    log: [],
    outcome: null,
    startedAt: null,
    finishedAt: null,
    rollbackStartedAt: null,
  };
}

/** The desired version this rollout last wrote per node (for the runtime to repair lost writes by level). */
export function desiredByNode(state: RolloutState): Record<string, Version> {
  const out: Record<string, Version> = {};
  for (const [id, rec] of Object.entries(state.nodes)) if (rec.lastSet) out[id] = rec.lastSet.version;
  return out;
}

/** True in the phases where the rollout is over (nothing forward will happen except convergence). */
export function isFinished(state: RolloutState): boolean {
  const k = state.phase.kind;
  return k === 'succeeded' || k === 'failed' || k === 'rolled-back' || k === 'aborted';
}

/** Working context of one step call: `s` is a private copy, mutated freely. */
interface Ctx {
  readonly spec: RolloutSpec;
  readonly s: RolloutState;
  readonly now: number;
  readonly out: RolloutAction[];
  /** Node ids in plan order (step, then target order). */
  readonly ordered: readonly string[];
}

/**
 * Applies one event. Total: every event in every phase has an outcome; an event that makes no
 * sense in the phase (resume when not paused, start twice) changes nothing and emits an
 * `ignored` record-event saying why.
 */
export function step(spec: RolloutSpec, state: RolloutState, event: RolloutEvent, now: number): StepResult {
  const s = structuredClone(state);
  const c: Ctx = { spec, s, now, out: [], ordered: s.steps.flatMap((st) => st.nodeIds) };
  const phase = s.phase;
  switch (event.type) {
    case 'start':
      if (phase.kind !== 'pending') return ignored(state, now, 'start', `the rollout is ${phase.kind}`);
      absorb(c, event.observations ?? []);
      s.startedAt = now;
      record(c, 'started', `rolling ${spec.label} out to ${spec.toVersion} on ${c.ordered.length} node(s)`);
      if (s.steps.length === 0) {
        finish(c, { kind: 'succeeded' }, 'succeeded', 'the target is empty: nothing to do');
        break;
      }
      enterStep(c, 0);
      reconcile(c);
      break;
    case 'observe':
      absorb(c, event.observations);
      reconcile(c);
      break;
    case 'tick':
      reconcile(c);
      break;
    case 'pause':
      if (phase.kind !== 'canary' && phase.kind !== 'wave')
        return ignored(state, now, 'pause', `the rollout is ${phase.kind}`);
      s.phase = { kind: 'paused', step: phase.step };
      record(c, 'paused', `paused: ${event.reason}`, null, phase.step);
      reconcile(c);
      break;
    case 'resume':
      if (phase.kind !== 'paused' || !s.current)
        return ignored(state, now, 'resume', `the rollout is ${phase.kind}`);
      s.phase = runningPhase(s, phase.step);
      // The deadline measures progress, and nothing could progress while paused.
      s.current.progressAt = now;
      record(c, 'resumed', 'resumed', null, phase.step);
      reconcile(c);
      break;
    case 'abort':
      if (
        phase.kind !== 'pending' &&
        phase.kind !== 'canary' &&
        phase.kind !== 'wave' &&
        phase.kind !== 'paused'
      )
        return ignored(state, now, 'abort', `the rollout is ${phase.kind}`);
      closeStep(c, 'aborted', event.reason, null);
      s.outcome = { reason: `aborted: ${event.reason}`, at: now };
      finish(c, { kind: 'aborted' }, 'aborted', `aborted: ${event.reason}`);
      break;
    case 'rollback':
      if (phase.kind === 'rolling-back' || phase.kind === 'rolled-back')
        return ignored(state, now, 'rollback', `the rollout is ${phase.kind}`);
      closeStep(c, 'rolled-back', `manual rollback: ${event.reason}`, null);
      s.outcome = { reason: `manual rollback: ${event.reason}`, at: now };
      startRollback(c, `manual rollback: ${event.reason}`);
      break;
    default: {
      const never: never = event;
      return ignored(state, now, 'unknown', `unknown event ${JSON.stringify(never)}`);
    }
  }
  return { state: s, actions: c.out };
}

/** An event that does not apply: state unchanged, one record-event saying why. */
function ignored(state: RolloutState, now: number, what: string, why: string): StepResult {
  const event: RolloutEventRecord = {
    kind: 'ignored',
    at: now,
    message: `${what} ignored: ${why}`,
    nodeId: null,
    step: null,
  };
  return { state, actions: [{ type: 'record-event', event }] };
}

function record(
  c: Ctx,
  kind: RolloutEventRecord['kind'],
  message: string,
  nodeId: string | null = null,
  stepIndex: number | null = null,
): void {
  const event: RolloutEventRecord = { kind, at: c.now, message, nodeId, step: stepIndex };
  c.s.log.push(event);
  if (c.s.log.length > maxLogEntries) c.s.log.splice(0, c.s.log.length - maxLogEntries);
  c.out.push({ type: 'record-event', event });
}

/**
 * Stores the latest observation of each target node. Observations of other nodes are dropped
 * (a rollout never acts on a node outside its target); an observation older than the stored
 * one (redelivery out of order) is dropped too.
 */
function absorb(c: Ctx, observations: readonly NodeObservation[]): void {
  for (const obs of observations) {
    if (typeof obs !== 'object' || obs === null || typeof obs.nodeId !== 'string') continue;
    if (!Object.hasOwn(c.s.nodes, obs.nodeId)) continue;
    const rec = c.s.nodes[obs.nodeId];
    if (!rec) continue;
    if (rec.observation && obs.lastSeenAt < rec.observation.lastSeenAt) continue;
    rec.observation = structuredClone(obs);
  }
}

/** The running phase for a step index. */
function runningPhase(s: RolloutState, index: number): RolloutPhase {
  if (s.steps[index]?.kind === 'canary') return { kind: 'canary', step: index };
  const first = s.steps[0]?.kind === 'canary' ? 1 : 0;
  return { kind: 'wave', step: index, wave: index - first + 1 };
}

function enterStep(c: Ctx, index: number): void {
  c.s.current = { index, startedAt: c.now, progressAt: c.now };
  c.s.phase = runningPhase(c.s, index);
  const name = c.s.steps[index]?.name ?? `step-${index}`;
  const entry: StepHistoryEntry = {
    step: index,
    name,
    startedAt: c.now,
    endedAt: null,
    outcome: null,
    reason: null,
    counts: null,
  };
  c.s.history.push(entry);
  record(
    c,
    'step-started',
    `${name} started (${c.s.steps[index]?.nodeIds.length ?? 0} node(s))`,
    null,
    index,
  );
}

/** Closes the open history entry of the current step, if any. */
function closeStep(c: Ctx, outcome: StepOutcome, reason: string, counts: StepVerdict['counts'] | null): void {
  const cur = c.s.current;
  if (!cur) return;
  const entry = c.s.history.findLast((h) => h.step === cur.index && h.endedAt === null);
  if (!entry) return;
  entry.endedAt = c.now;
  entry.outcome = outcome;
  entry.reason = reason;
  entry.counts = counts;
}

function finish(c: Ctx, phase: RolloutPhase, kind: RolloutEventRecord['kind'], message: string): void {
  c.s.phase = phase;
  c.s.current = null;
  c.s.finishedAt = c.now;
  record(c, kind, message);
}

/** Re-derives node statuses, then acts according to the phase. */
function reconcile(c: Ctx): void {
  refreshNodes(c);
  const phase = c.s.phase;
  switch (phase.kind) {
    case 'canary':
    case 'wave':
      driveSteps(c);
      break;
    case 'paused':
      watchPaused(c);
      break;
    case 'rolling-back':
      checkRollbackDone(c);
      break;
    case 'succeeded':
      converge(c);
      break;
    case 'pending':
    case 'failed':
    case 'rolled-back':
    case 'aborted':
      break;
    default: {
      // A phase from a newer schema: do nothing rather than crash (decodeRolloutState refuses it first).
      const never: never = phase;
      void never;
    }
  }
}

/** The node's verdict for the new version, from its stored observation and `now`. */
function verdictOf(c: Ctx, rec: NodeRecord): NodeVerdict {
  const { gate, jobKind, toVersion } = c.spec;
  return evaluateNode(gate, jobKind, rec.observation, toVersion, rec.windowStart ?? c.now, c.now);
}

/** Updates each record's status from its observation (offline, returned, judged). */
function refreshNodes(c: Ctx): void {
  const s = c.s;
  for (const id of c.ordered) {
    const rec = s.nodes[id];
    if (!rec) continue;
    const obs = rec.observation;
    const online = obs?.online === true;
    switch (rec.status) {
      case 'untouched':
        if (obs && !online) {
          rec.status = 'offline-deferred';
          rec.reason = 'offline before its update';
          record(c, 'node-deferred', `${id} is offline: deferred`, id, rec.step);
        }
        break;
      case 'offline-deferred':
        if (!online) break;
        record(c, 'node-returned', `${id} is back online`, id, rec.step);
        if (rec.touched) {
          // Already written to; it re-enters the gate of the step running now, with a fresh window.
          rec.status = 'updating';
          rec.gateStep = s.current?.index ?? null;
          rec.windowStart = c.now;
          // Re-entering the step is progress: the deadline must leave the node time to prove itself.
          if (s.current) s.current.progressAt = Math.max(s.current.progressAt, c.now);
          judge(c, rec);
        } else {
          rec.status = 'untouched';
          rec.reason = 'back online';
        }
        break;
      case 'updating':
      case 'healthy':
      case 'unhealthy':
        if (!online) {
          rec.status = 'offline-deferred';
          rec.reason = 'went offline after its update';
          record(c, 'node-deferred', `${id} went offline after its update: deferred`, id, rec.step);
        } else judge(c, rec);
        break;
      case 'reverted':
        break;
      default: {
        const never: never = rec.status;
        void never;
      }
    }
  }
}

function judge(c: Ctx, rec: NodeRecord): void {
  const nv = verdictOf(c, rec);
  const before = rec.status;
  rec.status =
    nv.verdict === 'healthy'
      ? 'healthy'
      : nv.verdict === 'unhealthy'
        ? 'unhealthy'
        : nv.verdict === 'offline'
          ? 'offline-deferred'
          : 'updating';
  rec.reason = nv.reason;
  const cur = c.s.current;
  if (rec.status === 'healthy' && before !== 'healthy' && cur && rec.gateStep === cur.index)
    cur.progressAt = Math.max(cur.progressAt, c.now);
}

/** The planner's view of the records, in plan order. */
function plannerNodes(c: Ctx): PlannerNode[] {
  const out: PlannerNode[] = [];
  for (const id of c.ordered) {
    const rec = c.s.nodes[id];
    if (!rec) continue;
    out.push({
      nodeId: id,
      step: rec.step,
      status: rec.status,
      touched: rec.touched,
      online: rec.observation?.online === true,
    });
  }
  return out;
}

/**
 * The current step's gate and the planner's proposal. Nodes of this step or earlier that were
 * never observed count as "remaining": a step cannot pass on nodes we know nothing about (the
 * runtime feeds an observation, online or not, for every target node it knows), and if no
 * observation arrives the progress deadline fails the step.
 */
function evaluateCurrent(
  c: Ctx,
  index: number,
  progressAt: number,
): { verdict: StepVerdict; plan: UpdatePlan } {
  const plan = planUpdates(plannerNodes(c), index, c.s.maxUnavailable);
  const verdicts: NodeVerdict[] = [];
  let unobserved = 0;
  for (const id of c.ordered) {
    const rec = c.s.nodes[id];
    if (!rec) continue;
    if (rec.touched && !rec.reverted && rec.gateStep === index) verdicts.push(verdictOf(c, rec));
    else if (!rec.touched && rec.step <= index && rec.observation === null) unobserved += 1;
    // Deferred before their update: counted apart (as offline in this step's counts), never blocking.
    else if (!rec.touched && rec.step === index && rec.status === 'offline-deferred')
      verdicts.push({ verdict: 'offline', reason: rec.reason ?? 'offline', recheckAt: null });
  }
  const stepSize = c.s.steps[index]?.nodeIds.length ?? 0;
  const remaining = plan.update.length + plan.hold.length + unobserved;
  return { verdict: evaluateStep(c.spec.gate, stepSize, verdicts, remaining, progressAt, c.now), plan };
}

/** Runs the current step: fail, pass (and enter the next, possibly several), or update more nodes. */
function driveSteps(c: Ctx): void {
  // Each pass either returns or enters the next step, so this ends within steps.length + 1 passes.
  for (let guard = 0; guard <= c.s.steps.length; guard++) {
    const cur = c.s.current;
    if (!cur) return;
    const { verdict, plan } = evaluateCurrent(c, cur.index, cur.progressAt);
    switch (verdict.result) {
      case 'failed':
      case 'deadline-exceeded':
        failStep(c, verdict);
        return;
      case 'passed': {
        const name = c.s.steps[cur.index]?.name ?? `step-${cur.index}`;
        closeStep(c, 'passed', verdict.reason, verdict.counts);
        record(c, 'step-passed', `${name} passed: ${verdict.reason}`, null, cur.index);
        if (cur.index + 1 >= c.s.steps.length) {
          finish(
            c,
            { kind: 'succeeded' },
            'succeeded',
            `every step passed; ${c.spec.toVersion} is rolled out`,
          );
          converge(c);
          return;
        }
        enterStep(c, cur.index + 1);
        continue;
      }
      case 'pending':
        for (const id of plan.update) setForward(c, id, cur.index, 'rollout');
        requeueAt(c, verdict.recheckAt);
        return;
      default: {
        const never: never = verdict.result;
        void never;
        return;
      }
    }
  }
}

/** While paused nothing is updated and the deadline does not run, but a failing gate still fails. */
function watchPaused(c: Ctx): void {
  const cur = c.s.current;
  if (!cur) return;
  const { verdict } = evaluateCurrent(c, cur.index, c.now);
  if (verdict.result === 'failed') failStep(c, verdict);
}

function failStep(c: Ctx, verdict: StepVerdict): void {
  const cur = c.s.current;
  const name = cur ? (c.s.steps[cur.index]?.name ?? `step-${cur.index}`) : 'step';
  const outcome: StepOutcome = verdict.result === 'failed' ? 'failed' : 'deadline-exceeded';
  closeStep(c, outcome, verdict.reason, verdict.counts);
  record(c, 'step-failed', `${name} ${outcome}: ${verdict.reason}`, null, cur?.index ?? null);
  c.s.outcome = { reason: `${name} ${outcome}: ${verdict.reason}`, at: c.now };
  if (c.spec.autoRollback) startRollback(c, `${name} ${outcome}`);
  else
    finish(
      c,
      { kind: 'failed' },
      'failed',
      `${name} ${outcome}; autoRollback is off: nodes stay as they are`,
    );
}

/** Sets every touched node back to its last healthy version, once per node, then waits for acknowledgements. */
function startRollback(c: Ctx, reason: string): void {
  c.s.phase = { kind: 'rolling-back' };
  c.s.current = null;
  c.s.rollbackStartedAt = c.now;
  record(c, 'rollback-started', `rolling back: ${reason}`);
  for (const id of c.ordered) {
    const rec = c.s.nodes[id];
    if (!rec || !rec.touched || rec.reverted) continue;
    const version: Version = Object.hasOwn(c.spec.fromVersions, id)
      ? (c.spec.fromVersions[id] ?? null)
      : null;
    c.out.push({ type: 'set-desired', nodeId: id, version, reason: 'rollback' });
    rec.reverted = true;
    rec.status = 'reverted';
    rec.gateStep = null;
    rec.lastSet = { version, at: c.now, reason: 'rollback' };
    rec.reason = `set back to ${version ?? 'nothing (job removed)'}`;
  }
  checkRollbackDone(c);
}

/**
 * Rolled back when every reverted node acknowledged its previous version or is offline (it will
 * read the reverted desired state when it returns), or when the progress deadline passes.
 */
function checkRollbackDone(c: Ctx): void {
  const waiting: string[] = [];
  for (const id of c.ordered) {
    const rec = c.s.nodes[id];
    if (!rec?.reverted || !rec.lastSet) continue;
    const obs = rec.observation;
    if (obs?.online === true && obs.acknowledgedVersion !== rec.lastSet.version) waiting.push(id);
  }
  if (waiting.length === 0) {
    finish(c, { kind: 'rolled-back' }, 'rolled-back', 'every touched node was set back');
    return;
  }
  const deadline = (c.s.rollbackStartedAt ?? c.now) + c.spec.gate.progressDeadlineSeconds * 1000;
  if (c.now >= deadline) {
    finish(
      c,
      { kind: 'rolled-back' },
      'rolled-back',
      `set back; ${waiting.length} node(s) had not acknowledged within the deadline (${waiting.slice(0, 5).join(', ')})`,
    );
    return;
  }
  requeueAt(c, deadline);
}

/**
 * After success, nodes that were deferred (or never seen) and are now online get the new
 * version, within the same maxUnavailable budget as the rollout itself: a node that is still
 * updating or unhealthy (a step may pass with fewer unhealthy nodes than its threshold) uses a
 * slot, so returning nodes converge as slots free up, never all at once.
 */
function converge(c: Ctx): void {
  let inFluxNow = 0;
  const waiting: string[] = [];
  for (const id of c.ordered) {
    const rec = c.s.nodes[id];
    if (!rec) continue;
    if (isInFlux(rec)) inFluxNow += 1;
    else if (rec.status === 'untouched' && !rec.touched && rec.observation?.online === true) waiting.push(id);
  }
  const room = Math.max(0, c.s.maxUnavailable - inFluxNow);
  for (const id of waiting.slice(0, room)) setForward(c, id, null, 'converge');
  // Held nodes need another look once a slot may have freed (the runtime also re-observes on
  // every status change).
  if (waiting.length > room) requeueAt(c, c.now + Math.max(1_000, c.spec.gate.minHealthySeconds * 1_000));
}

function setForward(c: Ctx, id: string, gateStep: number | null, reason: 'rollout' | 'converge'): void {
  const rec = c.s.nodes[id];
  if (!rec || rec.touched) return;
  c.out.push({ type: 'set-desired', nodeId: id, version: c.spec.toVersion, reason });
  rec.touched = true;
  rec.status = 'updating';
  rec.lastSet = { version: c.spec.toVersion, at: c.now, reason };
  rec.gateStep = gateStep;
  rec.windowStart = c.now;
  rec.reason = `set to ${c.spec.toVersion}`;
  // Starting an update is progress (as in Kubernetes' progressDeadlineSeconds).
  const cur = c.s.current;
  if (cur && gateStep === cur.index) cur.progressAt = Math.max(cur.progressAt, c.now);
}

function requeueAt(c: Ctx, at: number | null): void {
  if (at === null) return;
  c.out.push({ type: 'requeue-after', ms: Math.max(1, Math.ceil(at - c.now)) });
}
