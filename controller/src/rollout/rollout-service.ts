/**
 * Starting and commanding rollouts: what the API handlers (and tests) call. Starting resolves
 * the target once (the spec fixes the node ids), reads what each target node is set to now (its
 * "from" version: the content of its current bundle in `lf_desired`; a node without one rolls
 * back to nothing), takes the new content's version number from the label's job record, and
 * stores the rollout in `pending`. The driver holding the lease does the rest.
 * Commands are queued in the record (rollout-store.ts) and the call waits, bounded, for the
 * driver to apply them.
 */
import { randomBytes } from 'node:crypto';
import {
  type Clock,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  normalizeJob,
  parsePlist,
} from '@launchfleet/shared';
import type { DomainKind } from '@launchfleet/shared';
import { changedNothing, natsError } from '@launchfleet/shared/nats-errors';
import { checkJobPlist } from '../desired/core/plist-check.ts';
import { type TargetCandidate, resolveTarget } from '../desired/core/resolve-target.ts';
import type { TargetSpec } from '../desired/job-record.ts';
import {
  type HealthGate,
  type JobKind,
  type RolloutStrategy,
  type Version,
  createRollout,
  isFinished,
  validateRolloutSpec,
} from './core/index.ts';
import type { RolloutApplier } from './rollout-applier.ts';
import type { JobVersions } from './job-versions.ts';
import {
  type CommandResult,
  type PendingCommand,
  type RolloutRecord,
  type RolloutStore,
  maxPendingCommands,
} from './rollout-store.ts';

/** A request to start a rollout. */
export interface StartRolloutRequest {
  /** Optional id (`[A-Za-z0-9_-]{1,64}`); generated when empty. */
  readonly rolloutId?: string;
  readonly plist: string;
  readonly domain?: string;
  readonly target: TargetSpec;
  readonly strategy: RolloutStrategy;
  readonly gate: HealthGate;
  readonly autoRollback?: boolean;
  /** What "healthy" means; derived from the plist when left out (KeepAlive: keep-alive; timers: timed). */
  readonly jobKind?: JobKind;
  readonly by: string;
}

export type CommandType = PendingCommand['type'];

export interface RolloutServiceDeps {
  readonly store: RolloutStore;
  readonly versions: JobVersions;
  readonly applier: RolloutApplier;
  readonly candidates: () => Iterable<TargetCandidate>;
  readonly clock: Clock;
  /** Wakes the local driver (a new rollout or a command need not wait for its next tick). */
  readonly poke?: () => void;
}

const idShape = /^[A-Za-z0-9_-]{1,64}$/;

/** The job kind a plist implies. */
export function jobKindOf(plist: string, domain: string): JobKind {
  const parsed = parsePlist(new TextEncoder().encode(plist));
  if (!parsed.ok) return 'on-demand';
  const r = normalizeJob(parsed.value.value, { domain: domain.split('/')[0] as DomainKind });
  const s = r.spec;
  if (!s) return 'on-demand';
  if (s.keepAlive.always) return 'keep-alive';
  if (s.startInterval !== undefined || s.startCalendarInterval.length > 0) return 'timed';
  return 'on-demand';
}

export class RolloutService {
  readonly #d: RolloutServiceDeps;

  constructor(d: RolloutServiceDeps) {
    this.#d = d;
  }

  async start(req: StartRolloutRequest): Promise<RolloutRecord> {
    const d = this.#d;
    const domain = req.domain || 'system';
    const checked = checkJobPlist(req.plist, domain);
    if (!checked.ok) throw new InvalidArgumentError(checked.error, 'plist');
    const label = checked.value.label;
    const rolloutId =
      req.rolloutId || `ro-${d.clock.wallMs().toString(36)}-${randomBytes(3).toString('hex')}`;
    if (!idShape.test(rolloutId))
      throw new InvalidArgumentError('rollout id: letters, digits, _ and -; 1..64', 'rollout_id');
    const resolved = resolveTarget(req.target, d.candidates());
    if (!resolved.ok) throw new InvalidArgumentError(resolved.error, 'target');
    const nodeIds = resolved.value.nodeIds;
    const jobKind = req.jobKind ?? jobKindOf(req.plist, domain);
    // Check the spec before a version number is spent on it.
    const draft = {
      rolloutId,
      label,
      domain,
      jobKind,
      fromVersions: {},
      toVersion: 'draft',
      targetNodes: nodeIds,
      strategy: req.strategy,
      gate: req.gate,
      ...(req.autoRollback !== undefined && { autoRollback: req.autoRollback }),
    };
    const pre = validateRolloutSpec(draft);
    if (!pre.ok)
      throw new InvalidArgumentError(pre.error.map((i) => `${i.field}: ${i.message}`).join('; '), 'spec');
    // Nothing is written before the from-versions are read (they may record a version seen in
    // the wild): an outage up to here changed nothing, and the API says so (api/status.ts).
    const others = await d.store.list().catch((e: unknown) => {
      throw changedNothing(natsError(e, 'reading the rollouts'));
    });
    for (const other of others) {
      const r = other.record;
      if (r.spec.label === label && !isFinished(r.state))
        throw new ConflictError(`rollout ${r.spec.rolloutId} of ${label} is still ${r.state.phase.kind}`);
    }
    const fromVersions: Record<string, Version> = {};
    for (const id of nodeIds) {
      const slot = await d.applier.slot(id, label);
      if (slot.content !== null) fromVersions[id] = slot.content;
    }
    const now = d.clock.wallMs();
    const v = await d.versions.allocate({
      label,
      domain,
      plist: req.plist,
      target: resolved.value.target,
      nodeIds,
      at: now,
      by: req.by,
    });
    const spec = validateRolloutSpec({ ...draft, fromVersions, toVersion: String(v.version) });
    if (!spec.ok)
      throw new InvalidArgumentError(spec.error.map((i) => `${i.field}: ${i.message}`).join('; '), 'spec');
    const record: RolloutRecord = {
      v: 1,
      spec: spec.value,
      state: createRollout(spec.value),
      target: resolved.value.target,
      createdAt: now,
      createdBy: req.by,
      commands: [],
    };
    await d.store.create(record);
    d.poke?.();
    return record;
  }

  async get(rolloutId: string): Promise<RolloutRecord> {
    const r = await this.#d.store.get(rolloutId);
    if (!r) throw new NotFoundError('rollout', rolloutId);
    return r.record;
  }

  /** Every rollout, newest first. */
  async list(): Promise<RolloutRecord[]> {
    return (await this.#d.store.list()).map((r) => r.record).sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Queues a command and waits (at most `waitMs`) until the driver applied it. Returns the
   * record as it stands then; a command that the machine ignores (resume when not paused) is
   * applied as "ignored", and the record's log says why.
   */
  async command(
    rolloutId: string,
    type: CommandType,
    reason: string,
    by: string,
    waitMs = 10_000,
  ): Promise<{ record: RolloutRecord; applied: boolean; result: CommandResult | undefined }> {
    const d = this.#d;
    const exists = await d.store.get(rolloutId).catch((e: unknown) => {
      throw changedNothing(natsError(e, `reading rollout ${rolloutId}`));
    });
    if (!exists) throw new NotFoundError('rollout', rolloutId);
    const cmd: PendingCommand = {
      id: randomBytes(6).toString('hex'),
      type,
      reason: reason.slice(0, 200) || type,
      by,
      at: d.clock.wallMs(),
    };
    await d.store.mutate(rolloutId, (r) => {
      if (r.commands.length >= maxPendingCommands)
        throw new ConflictError(
          `rollout ${rolloutId} has ${r.commands.length} commands waiting; retry later`,
        );
      return { ...r, commands: [...r.commands, cmd] };
    });
    d.poke?.();
    const deadline = Date.now() + waitMs;
    for (;;) {
      const cur = await d.store.get(rolloutId);
      if (!cur) throw new NotFoundError('rollout', rolloutId);
      if (!cur.record.commands.some((c) => c.id === cmd.id))
        return {
          record: cur.record,
          applied: true,
          result: cur.record.commandResults?.find((c) => c.id === cmd.id),
        };
      if (Date.now() > deadline) return { record: cur.record, applied: false, result: undefined };
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
