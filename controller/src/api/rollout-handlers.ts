/**
 * RolloutService handlers: decode the request (rollout.proto's generated message types, see
 * fleet-messages.ts), call the rollout service, encode the answer (rollout-view.ts). Errors are
 * the shared classes; status.ts maps them.
 */
import { InvalidArgumentError, UnavailableError, messageOf } from '@launchfleet/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Count, JobKind, RolloutStrategy } from '../rollout/core/index.ts';
import type { CommandType, RolloutService, StartRolloutRequest } from '../rollout/rollout-service.ts';
import type { RolloutStore } from '../rollout/rollout-store.ts';
import { isFinished } from '../rollout/core/index.ts';
import { decodeTarget, type CallContext } from './fleet-handlers.ts';
import type * as m from './fleet-messages.ts';
import { rolloutView } from './rollout-view.ts';

/** WatchRollout gives up after this many failed watches in a row. */
const maxWatchFailures = 10;

/** A wire RolloutCount (oneof kind: nodes | percent) to a Count; `fallback` when unset. */
export function decodeCount(v: m.RolloutCount | null | undefined, fallback: Count, field: string): Count {
  if (v === null || v === undefined) return fallback;
  if (v.kind === 'nodes') return { n: v.nodes ?? 0 };
  if (v.kind === 'percent') return { percent: v.percent ?? 0 };
  throw new InvalidArgumentError(`${field}: give nodes or percent`, field);
}

const jobKinds: readonly JobKind[] = ['keep-alive', 'on-demand', 'timed'];

/** A StartRolloutRequest message to the service's request. */
export function decodeStart(req: m.StartRolloutRequest, by: string): StartRolloutRequest {
  const waves = req.waves.map((w, i) => decodeCount(w, { percent: 100 }, `waves.${i}`));
  const strategy: RolloutStrategy = req.allAtOnce
    ? { kind: 'all-at-once' }
    : {
        kind: 'canary-waves',
        canary: decodeCount(req.canary, { n: 1 }, 'canary'),
        waves: waves.length > 0 ? waves : [{ percent: 100 }],
        maxUnavailable: decodeCount(req.maxUnavailable, { n: 1 }, 'max_unavailable'),
      };
  const jobKind = jobKinds.find((k) => k === req.jobKind);
  if (req.jobKind !== '' && jobKind === undefined)
    throw new InvalidArgumentError('job_kind: keep-alive, on-demand or timed', 'job_kind');
  const minHealthy = req.minHealthySeconds || 30;
  return {
    rolloutId: req.rolloutId,
    plist: req.plist,
    domain: req.domain || 'system',
    target: decodeTarget(req.target),
    strategy,
    gate: {
      minHealthySeconds: minHealthy,
      progressDeadlineSeconds: req.progressDeadlineSeconds || Math.max(300, minHealthy * 2),
      maxUnhealthy: decodeCount(req.maxUnhealthy, { n: 1 }, 'max_unhealthy'),
      requireNoCrashInWindow: !req.allowCrashInWindow,
    },
    autoRollback: !req.noAutoRollback,
    ...(jobKind !== undefined && { jobKind }),
    by,
  };
}

export class RolloutHandlers {
  readonly #service: RolloutService;
  readonly #store: RolloutStore;
  /** How long a command call waits for the driver. */
  readonly #commandWaitMs: number;
  readonly #watchRetryMs: number;

  constructor(service: RolloutService, store: RolloutStore, commandWaitMs = 10_000, watchRetryMs = 1000) {
    this.#service = service;
    this.#store = store;
    this.#commandWaitMs = commandWaitMs;
    this.#watchRetryMs = watchRetryMs;
  }

  async StartRollout(req: m.StartRolloutRequest, ctx: CallContext): Promise<m.Rollout> {
    const r = await this.#service.start(decodeStart(req, ctx.who));
    ctx.target = `${r.spec.rolloutId} ${r.spec.label} -> ${r.spec.toVersion} (${r.spec.targetNodes.length} nodes)`;
    return rolloutView(r);
  }

  async GetRollout(req: m.GetRolloutRequest, ctx: CallContext): Promise<m.Rollout> {
    ctx.target = req.rolloutId;
    return rolloutView(await this.#service.get(req.rolloutId));
  }

  async ListRollouts(req: m.ListRolloutsRequest): Promise<m.ListRolloutsResponse> {
    const limit = Math.min(500, req.limit || 50);
    const all = (await this.#service.list()).filter((r) => req.label === '' || r.spec.label === req.label);
    return { rollouts: all.slice(0, limit).map((r) => rolloutView(r)) };
  }

  async command(type: CommandType, req: m.RolloutCommandRequest, ctx: CallContext): Promise<m.Rollout> {
    const id = req.rolloutId;
    ctx.target = id;
    const { record, applied, result } = await this.#service.command(
      id,
      type,
      req.reason || `${type} requested`,
      ctx.who,
      this.#commandWaitMs,
    );
    return rolloutView(record, {
      commandApplied: applied,
      commandResult: result ? `${result.outcome}: ${result.message}` : '',
    });
  }

  /**
   * Sends the rollout now and every later revision of its record, until it is finished (and no
   * command is queued) or `signal` aborts. Revisions come from a KV watch, so none written while
   * the call runs is skipped. Should the watch fail (NATS lost), it is opened again after
   * `watchRetryMs`; what was written meanwhile arrives as the latest revision. After
   * `maxWatchFailures` failures in a row the call ends with UNAVAILABLE.
   */
  async WatchRollout(
    req: m.WatchRolloutRequest,
    ctx: CallContext,
    send: (r: m.Rollout) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const id = req.rolloutId;
    ctx.target = id;
    if (!(await this.#store.get(id))) {
      await this.#service.get(id); // NotFoundError for an unknown id
      return;
    }
    let last = -1;
    let failures = 0;
    while (!signal.aborted) {
      try {
        for await (const cur of this.#store.follow(id, signal)) {
          failures = 0;
          if (cur.revision <= last) continue;
          last = cur.revision;
          await send(rolloutView(cur.record));
          if (isFinished(cur.record.state) && cur.record.commands.length === 0) return;
        }
        if (signal.aborted) return;
        // The watch ended without an abort: the rollout was deleted.
        if (!(await this.#store.get(id))) return;
      } catch (e) {
        if (signal.aborted) return;
        if (++failures >= maxWatchFailures)
          throw e instanceof UnavailableError
            ? e
            : new UnavailableError(`watching rollout ${id}: ${messageOf(e)}`, { cause: e });
      }
      // timers/promises removes its abort listener when the timer fires.
      await sleep(this.#watchRetryMs, undefined, { signal }).catch(() => undefined);
    }
  }
}
