/**
 * Rollout records in KV `lf_rollouts`, key `state.<rolloutId>`: the spec, the core's state
 * (rollout-state.ts, with its schemaVersion) and the operator commands not yet applied. Every
 * change is a compare-and-set `update(key, record, expectedRevision)`, so of two controllers that
 * read the same revision only one writes the next one (the runtime contract of
 * core/rollout-machine.ts: store first, then apply the actions).
 *
 * Operator commands (pause, resume, abort, rollback) are queued in the record by whichever
 * controller serves the API call, and consumed by the one driver holding the rollout's lease:
 * the machine is stepped by one driver only, and a command survives a controller restart.
 */
import type { KV } from '@nats-io/kv';
import { ConflictError, FailedPreconditionError, messageOf } from '@launchfleet/shared';
import { natsError } from '@launchfleet/shared/nats-errors';
import { isRecord, keys } from '@launchfleet/shared/messages';
import type { TargetSpec } from '../desired/job-record.ts';
import { type RolloutSpec, type RolloutState, decodeRolloutState } from './core/index.ts';
import { isWrongRevision } from './kv-cas.ts';

/** An operator's command waiting for the driver. */
export interface PendingCommand {
  /** Unique per command: the API waits until this id left the queue. */
  readonly id: string;
  readonly type: 'pause' | 'resume' | 'abort' | 'rollback';
  readonly reason: string;
  readonly by: string;
  readonly at: number;
}

/** One stored rollout. */
export interface RolloutRecord {
  readonly v: 1;
  readonly spec: RolloutSpec;
  readonly state: RolloutState;
  /** The target as the operator wrote it (the spec holds the resolved node ids). */
  readonly target: TargetSpec;
  readonly createdAt: number;
  readonly createdBy: string;
  /** Commands not applied yet, oldest first (bounded: at most `maxPendingCommands`). */
  readonly commands: readonly PendingCommand[];
  /** What became of the latest applied commands (bounded: the last `maxPendingCommands`). */
  readonly commandResults?: readonly CommandResult[];
}

/** How the driver applied a command: `applied`, or `ignored` with the machine's reason. */
export interface CommandResult {
  readonly id: string;
  readonly type: PendingCommand['type'];
  readonly outcome: 'applied' | 'ignored';
  readonly message: string;
}

/** A record with the KV revision it was read at. */
export interface StoredRollout {
  readonly record: RolloutRecord;
  readonly revision: number;
}

export const maxPendingCommands = 16;

/** Reads a stored record; an error string when it is not one (never throws). */
export function decodeRolloutRecord(text: string): RolloutRecord | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isRecord(o) || o['v'] !== 1) return 'not a rollout record (v)';
  const st = decodeRolloutState(o['state']);
  if (!st.ok) return st.error;
  if (!isRecord(o['spec']) || !isRecord(o['target']) || !Array.isArray(o['commands']))
    return 'spec, target or commands missing';
  return o as unknown as RolloutRecord;
}

function unreadable(rolloutId: string, why: string): FailedPreconditionError {
  return new FailedPreconditionError(
    `rollout ${rolloutId} is unreadable (${why}); repair or delete lf_rollouts/${keys.rollout(rolloutId)}`,
  );
}

export class RolloutStore {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  get kv(): KV {
    return this.#kv;
  }

  /** Stores a new rollout; ConflictError when the id is taken. */
  async create(record: RolloutRecord): Promise<number> {
    try {
      return await this.#kv.create(keys.rollout(record.spec.rolloutId), JSON.stringify(record));
    } catch (e) {
      if (isWrongRevision(e) || /exists/i.test(messageOf(e)))
        throw new ConflictError(`rollout ${record.spec.rolloutId} exists already`);
      throw natsError(e, 'storing the rollout');
    }
  }

  /**
   * The record and its revision; undefined when absent; FailedPreconditionError when the stored
   * record is unreadable (a human must repair or delete it: retrying cannot help).
   */
  async get(rolloutId: string): Promise<StoredRollout | undefined> {
    let e;
    try {
      e = await this.#kv.get(keys.rollout(rolloutId));
    } catch (err) {
      throw natsError(err, `reading rollout ${rolloutId}`);
    }
    if (!e || e.operation !== 'PUT') return undefined;
    const r = decodeRolloutRecord(e.string());
    if (typeof r === 'string') throw unreadable(rolloutId, r);
    return { record: r, revision: e.revision };
  }

  /**
   * Every revision of the rollout from now on, the latest stored one first, through a KV watch
   * (an ordered consumer): unlike polling, no revision written after the watch started is
   * skipped, so a follower sees each phase the rollout went through. Ends when the entry is
   * deleted or `signal` aborts; throws UnavailableError for an unreadable record or a failed
   * watch. An absent rollout yields nothing until it is created.
   */
  async *follow(rolloutId: string, signal: AbortSignal): AsyncGenerator<StoredRollout> {
    if (signal.aborted) return;
    let w;
    try {
      w = await this.#kv.watch({ key: keys.rollout(rolloutId) });
    } catch (e) {
      throw natsError(e, `watching rollout ${rolloutId}`);
    }
    const stop = (): void => w.stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const e of w) {
        if (e.operation !== 'PUT') return;
        const r = decodeRolloutRecord(e.string());
        if (typeof r === 'string') throw unreadable(rolloutId, r);
        yield { record: r, revision: e.revision };
      }
    } finally {
      signal.removeEventListener('abort', stop);
      w.stop();
    }
  }

  /**
   * Compare-and-set: writes `record` only if the entry is still at `revision`. Returns the new
   * revision, or undefined when someone else wrote first (the caller re-reads).
   */
  async update(rolloutId: string, record: RolloutRecord, revision: number): Promise<number | undefined> {
    try {
      return await this.#kv.update(keys.rollout(rolloutId), JSON.stringify(record), revision);
    } catch (e) {
      if (isWrongRevision(e)) return undefined;
      throw natsError(e, 'storing the rollout');
    }
  }

  /** Re-reads and applies `change` until the compare-and-set wins (bounded). */
  async mutate(
    rolloutId: string,
    change: (r: RolloutRecord) => RolloutRecord,
    attempts = 16,
  ): Promise<StoredRollout> {
    for (let i = 0; i < attempts; i++) {
      const cur = await this.get(rolloutId);
      if (!cur) throw new ConflictError(`rollout ${rolloutId} was deleted meanwhile`);
      const next = change(cur.record);
      const rev = await this.update(rolloutId, next, cur.revision);
      if (rev !== undefined) return { record: next, revision: rev };
    }
    throw new ConflictError(`rollout ${rolloutId} is being changed concurrently; retry`);
  }

  /** Removes a rollout and its lease, history included (retention of finished rollouts). */
  async delete(rolloutId: string): Promise<void> {
    try {
      await this.#kv.purge(keys.rollout(rolloutId));
      await this.#kv.purge(keys.rolloutLease(rolloutId));
    } catch (e) {
      throw natsError(e, `deleting rollout ${rolloutId}`);
    }
  }

  /** Ids of every stored rollout. */
  async ids(): Promise<string[]> {
    const out: string[] = [];
    const prefix = keys.rollout('');
    for await (const k of await this.#kv.keys(keys.rolloutAll)) out.push(k.slice(prefix.length));
    return out.sort();
  }

  /** Every readable rollout (unreadable ones are skipped: one bad entry must not hide the rest). */
  async list(): Promise<StoredRollout[]> {
    const out: StoredRollout[] = [];
    for (const id of await this.ids()) {
      try {
        const r = await this.get(id);
        if (r) out.push(r);
      } catch {
        // reported by get() callers that ask for it by id
      }
    }
    return out;
  }
}
