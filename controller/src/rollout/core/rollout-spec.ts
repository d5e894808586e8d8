/**
 * The definition of one rollout (issue 7): which job, to which nodes, from which versions to
 * which version, in what steps, behind which health gate. Pure data; validated by
 * `validateRolloutSpec`, whose problems are values, never exceptions.
 *
 * Counts: a step size or threshold is either an absolute number of nodes or a percentage of a
 * base (the whole target for canary, waves and maxUnavailable; the step's own size for the
 * health gate's maxUnhealthy). See `resolveCount` for the rounding rules.
 */
import { type Result, err, ok } from '@launchfleet/shared/errors';

/** A number of nodes, absolute or as a percentage of a base. */
export type Count =
  /** Exactly `n` nodes (an integer >= 0), capped at the base. */
  | { readonly n: number }
  /** `percent` (0..100, may be fractional) of the base, rounded UP. */
  | { readonly percent: number };

/** How the rollout moves across the target. */
export type RolloutStrategy =
  /** One step holding every target node; every node may be in flux at once. */
  | { readonly kind: 'all-at-once' }
  /**
   * A canary step, then waves in order. Wave sizes are counts of the whole target. After the
   * last listed wave, its size repeats until every node is covered (a wave that resolves to 0
   * nodes is skipped; with no non-empty wave, one wave takes the rest). At most `maxUnavailable`
   * nodes (of the whole target, at least 1) are in flux at any time, inside any step.
   */
  | {
      readonly kind: 'canary-waves';
      readonly canary: Count;
      readonly waves: readonly Count[];
      readonly maxUnavailable: Count;
    };

/** The health gate every step must pass before the next one starts. */
export interface HealthGate {
  /** How long the new version must run (or stay loaded and not failing) on a node before it is healthy. */
  readonly minHealthySeconds: number;
  /**
   * A step fails when it makes no progress for this long, counted from the step's start or its
   * last progress: a node of the step updated, turning healthy, or back from offline (as in
   * Kubernetes' progressDeadlineSeconds). Must exceed minHealthySeconds plus the time a node
   * takes to pick up a new version.
   */
  readonly progressDeadlineSeconds: number;
  /**
   * The failure threshold per step: the step fails as soon as this many of the nodes updated in
   * it are unhealthy at once. A percentage is of the step's size, rounded up; the threshold is
   * never below 1 (so `{ n: 0 }` and `{ n: 1 }` both mean "the first unhealthy node fails the step").
   */
  readonly maxUnhealthy: Count;
  /** When true, any crash of the job since the node was updated makes the node unhealthy. */
  readonly requireNoCrashInWindow: boolean;
}

/**
 * What kind of job is being rolled out, which decides what "healthy" means on a node:
 * `keep-alive` must be running; `on-demand` and `timed` must be loaded and not failing.
 */
export type JobKind = 'keep-alive' | 'on-demand' | 'timed';

/** A version of a job bundle, as the node reports it; `null` means "the job is not installed". */
export type Version = string | null;

/** The rollout definition, fixed when the rollout is created. */
export interface RolloutSpec {
  /** Stable id; the KV key of the rollout's state. */
  readonly rolloutId: string;
  /** The job's label. */
  readonly label: string;
  /** The launchd domain the job lives in on each node ('system', 'gui/501', ...). */
  readonly domain: string;
  readonly jobKind: JobKind;
  /**
   * The last version that was healthy on each node (it may differ per node); what a rollback
   * sets back. A target node absent here had no healthy version: rolling it back sets `null`
   * (remove the job), never a version it never ran.
   */
  readonly fromVersions: Readonly<Record<string, Version>>;
  /** The version being rolled out. */
  readonly toVersion: string;
  /**
   * The resolved target: node ids, fixed when the rollout starts. A label selector that changes
   * mid-rollout does NOT add or remove nodes here: a node that joins later is a new rollout's
   * business (or the fleet's default desired state), so a rollout never touches a node silently.
   * The order is the update order inside each step; ids are unique.
   */
  readonly targetNodes: readonly string[];
  readonly strategy: RolloutStrategy;
  readonly gate: HealthGate;
  /** Roll back the touched nodes when a step fails. Default true (see `withDefaults`). */
  readonly autoRollback: boolean;
}

/** A rollout spec as a caller may write it: autoRollback may be left out. */
export type RolloutSpecInput = Omit<RolloutSpec, 'autoRollback'> & { readonly autoRollback?: boolean };

/** Fills in defaults: autoRollback is true unless the caller said false. */
export function withDefaults(input: RolloutSpecInput): RolloutSpec {
  return { ...input, autoRollback: input.autoRollback ?? true };
}

/**
 * Resolves a count against a base number of nodes.
 * - `{ n }`: n, capped at the base.
 * - `{ percent }`: percent of the base rounded UP, so any positive percentage of a non-empty base
 *   is at least 1 node (1% of 10 nodes is 1); 0% is 0; capped at the base. A tiny epsilon
 *   absorbs floating-point noise so that 10% of 30 is exactly 3, not 4.
 * The result is an integer in [0, base]; an empty base always gives 0.
 */
export function resolveCount(count: Count, base: number): number {
  if (base <= 0) return 0;
  const raw = 'n' in count ? Math.floor(count.n) : Math.ceil((count.percent * base) / 100 - 1e-9);
  return Math.min(base, Math.max(0, raw));
}

/** The maxUnavailable a strategy allows over a target of `total` nodes (at least 1 when total > 0). */
export function resolveMaxUnavailable(strategy: RolloutStrategy, total: number): number {
  if (total === 0) return 0;
  if (strategy.kind === 'all-at-once') return total;
  return Math.max(1, resolveCount(strategy.maxUnavailable, total));
}

/** The number of unhealthy nodes that fails a step of `stepSize` nodes (at least 1). */
export function failureThreshold(gate: HealthGate, stepSize: number): number {
  return Math.max(1, resolveCount(gate.maxUnhealthy, stepSize));
}

/** One problem with a rollout spec. */
export interface SpecIssue {
  /** Dotted path of the offending field, e.g. `strategy.waves.2`. */
  readonly field: string;
  readonly message: string;
}

const maxTarget = 100_000;
/** Looser than the enrolled-node id pattern (tests use short ids) but never `__proto__` and friends. */
const nodeIdShape = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function checkCount(c: Count, field: string, out: SpecIssue[]): void {
  if ('n' in c) {
    if (!Number.isInteger(c.n) || c.n < 0) out.push({ field, message: 'n must be an integer >= 0' });
  } else if (!Number.isFinite(c.percent) || c.percent < 0 || c.percent > 100) {
    out.push({ field, message: 'percent must be a number in 0..100' });
  }
}

/**
 * Checks a rollout spec; returns it with defaults filled in, or every problem found. Bounded: a
 * target of more than 100,000 nodes or 1,000 waves is refused rather than planned.
 */
export function validateRolloutSpec(input: RolloutSpecInput): Result<RolloutSpec, readonly SpecIssue[]> {
  const out: SpecIssue[] = [];
  const nonEmpty = (v: unknown, field: string): void => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 255)
      out.push({ field, message: 'must be a non-empty string of at most 255 characters' });
  };
  nonEmpty(input.rolloutId, 'rolloutId');
  nonEmpty(input.label, 'label');
  nonEmpty(input.domain, 'domain');
  nonEmpty(input.toVersion, 'toVersion');
  if (!['keep-alive', 'on-demand', 'timed'].includes(input.jobKind))
    out.push({ field: 'jobKind', message: 'must be keep-alive, on-demand or timed' });
  if (input.targetNodes.length > maxTarget)
    out.push({ field: 'targetNodes', message: `at most ${maxTarget} nodes` });
  const seen = new Set<string>();
  input.targetNodes.forEach((id, i) => {
    if (typeof id !== 'string' || !nodeIdShape.test(id))
      out.push({
        field: `targetNodes.${i}`,
        message: 'must be a node id (letters, digits, _ . : -; 1..128)',
      });
    if (seen.has(id)) out.push({ field: `targetNodes.${i}`, message: `duplicate node id ${id}` });
    seen.add(id);
  });
  for (const [id, v] of Object.entries(input.fromVersions)) {
    if (v !== null && (typeof v !== 'string' || v.length === 0))
      out.push({ field: `fromVersions.${id}`, message: 'must be a non-empty string or null' });
  }
  const s = input.strategy;
  if (s.kind === 'canary-waves') {
    checkCount(s.canary, 'strategy.canary', out);
    if (s.waves.length > 1000) out.push({ field: 'strategy.waves', message: 'at most 1000 waves' });
    s.waves.forEach((w, i) => checkCount(w, `strategy.waves.${i}`, out));
    checkCount(s.maxUnavailable, 'strategy.maxUnavailable', out);
  } else if (s.kind !== 'all-at-once') {
    out.push({ field: 'strategy.kind', message: 'must be all-at-once or canary-waves' });
  }
  const g = input.gate;
  const seconds = (v: number, field: string): void => {
    if (!Number.isFinite(v) || v < 0 || v > 7 * 24 * 3600)
      out.push({ field, message: 'must be a number of seconds in 0..604800' });
  };
  seconds(g.minHealthySeconds, 'gate.minHealthySeconds');
  seconds(g.progressDeadlineSeconds, 'gate.progressDeadlineSeconds');
  if (g.progressDeadlineSeconds <= g.minHealthySeconds)
    out.push({ field: 'gate.progressDeadlineSeconds', message: 'must exceed minHealthySeconds' });
  checkCount(g.maxUnhealthy, 'gate.maxUnhealthy', out);
  return out.length > 0 ? err(out) : ok(withDefaults(input));
}
