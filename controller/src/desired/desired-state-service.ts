/**
 * Desired state: apply, delete, list and get jobs.
 *
 * Apply (level-based, safe with several controllers at once):
 *   1. check the plist for the domain (nothing launchd would refuse is ever signed);
 *   2. resolve the target over the fleet index (ids, hostnames, or a label selector);
 *   3. take the next version of the label with compare-and-set on its `lf_jobs` record
 *      (a lost race re-reads and takes the next one; versions are never shared between
 *      different content). The same apply again (same plist, domain and target nodes, soon
 *      after) instead re-delivers the current version, byte for byte (core/redeliver.ts): a
 *      retry of a partly failed apply writes only the nodes that missed it;
 *   4. sign one bundle per node (Ed25519, ~30 µs each) and write `lf_desired/<node>.<label>`
 *      with at most `concurrency` writes in flight, skipping a node whose key already holds
 *      that exact bundle. Each write is itself a compare-and-set
 *      against the key's revision and never replaces a bundle of a higher version, so when two
 *      controllers apply the same label concurrently every node ends at the higher version.
 *      A write the broker did not answer is tried again once it answers (a cut connection,
 *      an election); once it stops answering for good, the writes not yet started are not
 *      tried (write-gate.ts): without quorum an apply ends in seconds and names what it missed;
 *   5. take the job away (KV delete) from nodes the previous version targeted and this one
 *      does not, unless a newer version is already there; these deletes go through the same
 *      gate as the writes (a delete the broker did not answer is tried again). The record
 *      names those nodes (`clearing`, written in step 3) until they are deleted, so a delete
 *      that still failed is made by the retry, even one that re-delivers the version, or by
 *      the next apply (before, a re-delivery removed nothing and a new version forgot them).
 * Delete advances the version too (a tombstone record) and deletes every node's key, the same
 * way; deleting a deleted job again deletes what the first delete could not (NotFound when
 * nothing is left).
 *
 * About 590 lines, one file on purpose: apply and delete share the compare-and-set steps
 * (#advance, #writeIfNewer, #removeFrom, #cleared) whose ordering is the multi-controller argument above,
 * and the gated pass over the nodes that runs them (#eachNode); what needs no broker is already
 * out (core/: plist check, target resolution, re-delivery; write-gate.ts, bounded-pool.ts,
 * job-record.ts).
 */
import type { KV, KvEntry } from '@nats-io/kv';
import {
  type Clock,
  ConflictError,
  type LaunchfleetError,
  InvalidArgumentError,
  NotFoundError,
  messageOf,
  FailedPreconditionError,
  UnavailableError,
} from '@launchfleet/shared';
import { changedNothing, natsError, natsNotStored } from '@launchfleet/shared/nats-errors';
import { checkLabel, keys } from '@launchfleet/shared/messages';
import {
  type SigningKey,
  encodeSignedBundle,
  parseSignedBundle,
  signBundle,
} from '@launchfleet/shared/signing';
import { isWrongRevision } from '../rollout/kv-cas.ts';
import { forEachBounded } from './bounded-pool.ts';
import type { DesiredIndex } from './desired-index.ts';
import { checkJobPlist } from './core/plist-check.ts';
import { redeliverable } from './core/redeliver.ts';
import { WriteGate, writeThroughGate } from './write-gate.ts';
import { type TargetCandidate, resolveTarget } from './core/resolve-target.ts';
import {
  type JobRecord,
  type TargetSpec,
  fitOrRefuse,
  fitRecord,
  parseJobRecord,
  recordLimit,
  withClearing,
} from './job-record.ts';

export interface DesiredStateDeps {
  readonly desired: KV;
  /** Every write of a node's key goes through it (the per-node index rules). */
  readonly index: DesiredIndex;
  readonly jobs: KV;
  /** The key new bundles are signed with (read per apply, so a rotation takes effect at once). */
  readonly signingKey: () => SigningKey;
  /** The nodes targets are resolved over. */
  readonly candidates: () => Iterable<TargetCandidate>;
  readonly clock: Clock;
  /** KV writes in flight at once. Default 256. */
  readonly concurrency?: number;
  /**
   * Whether the connection to the broker is up now (broker-connection.ts). While it is down no
   * write is started: nats.js would keep it in its reconnect buffer and send it once the broker
   * is back, long after the caller was told the apply failed. Default: always up.
   */
  readonly brokerConnected?: () => boolean;
  /**
   * How long writes may keep failing as unavailable (timeouts, no responders) before an apply
   * stops trying the rest (write-gate.ts). Default 10 s, two of the client's timeouts: enough
   * for a stream's leader election, after which the writes go on (docs/fault-suite.md).
   */
  readonly giveUpMs?: number;
  /**
   * The largest job record a write may carry (its JSON bytes), read per call: from the server's
   * max_payload (`recordLimit`, job-record.ts). Default: for NATS's default 1 MiB.
   */
  readonly maxRecordBytes?: () => number;
}

export interface ApplyRequest {
  readonly plist: string;
  readonly domain: string;
  readonly target: TargetSpec;
  /** Bundle validity; default 30 days. */
  readonly validityMs?: number;
  /** Who asked (audit name), stored on the record. */
  readonly by: string;
}

export interface NodeFailure {
  readonly nodeId: string;
  readonly reason: string;
}

export interface ApplyResult {
  readonly label: string;
  readonly version: number;
  readonly targeted: number;
  readonly written: number;
  readonly superseded: number;
  /** Already held this exact bundle (a re-delivered version): not written again. */
  readonly unchanged: number;
  /**
   * Writes and deletes not tried: the broker had stopped answering (each is also in `failures`).
   * Before 2026-12-07 the deletes were left out (fault-cluster-remove: 0 here, 887 rows `not tried`).
   */
  readonly notAttempted: number;
  readonly removed: number;
  readonly failures: readonly NodeFailure[];
  readonly durationMs: number;
  readonly warnings: readonly string[];
}

export interface DeleteResult {
  readonly label: string;
  readonly version: number;
  readonly removed: number;
  readonly failures: readonly NodeFailure[];
  /**
   * Each says how the delete only partly cleared (nodes not cleared, the key listing failed):
   * the job may still be on some node, and deleting again finishes. Empty when it cleared all.
   */
  readonly warnings: readonly string[];
}

const defaultValidityMs = 30 * 24 * 3600_000;
const maxValidityMs = 400 * 24 * 3600_000;
const casAttempts = 8;
/** Tries of one node's write while the broker does not answer it (write-gate.ts). */
const gatedWriteAttempts = 10;

/** `conflict`: the key holds another bundle at the version being re-delivered. */
type WriteOutcome = 'written' | 'superseded' | 'unchanged' | 'conflict';

export class DesiredStateService {
  readonly #d: DesiredStateDeps;

  constructor(d: DesiredStateDeps) {
    this.#d = d;
  }

  /** The per-node desired-state index every key write goes through. */
  get index(): DesiredIndex {
    return this.#d.index;
  }

  async apply(req: ApplyRequest): Promise<ApplyResult> {
    return this.#apply(req, false, false);
  }

  /**
   * `fresh`: take a new version even when the current one could be re-delivered. `wroteBefore`:
   * this apply already wrote some node's key (a first pass), so no error of this pass may say
   * that nothing was changed.
   */
  async #apply(req: ApplyRequest, fresh: boolean, wroteBefore: boolean): Promise<ApplyResult> {
    const started = this.#d.clock.monotonicMs();
    const checked = checkJobPlist(req.plist, req.domain || 'system');
    if (!checked.ok) throw new InvalidArgumentError(checked.error, 'plist');
    const domain = req.domain || 'system';
    const validityMs = req.validityMs ?? defaultValidityMs;
    if (!Number.isSafeInteger(validityMs) || validityMs < 60_000 || validityMs > maxValidityMs)
      throw new InvalidArgumentError('validity must be between 1 minute and 400 days', 'validity_seconds');
    const resolved = resolveTarget(req.target, this.#d.candidates());
    if (!resolved.ok) throw new InvalidArgumentError(resolved.error, 'target');
    const label = checked.value.label;
    const nodeIds = resolved.value.nodeIds;
    const now = this.#d.clock.wallMs();
    const content = { label, domain, plist: req.plist, target: resolved.value.target, nodeIds };
    const keep = new Set(nodeIds);
    const limit = this.#recordLimit();
    const { record, previous, revision } = await this.#advance(
      label,
      (prev) =>
        !fresh && redeliverable(prev, content, now, validityMs)
          ? prev
          : fitOrRefuse(
              withClearing(
                {
                  v: 1,
                  ...content,
                  version: (prev?.version ?? 0) + 1,
                  updatedAt: now,
                  updatedBy: req.by,
                  deleted: false,
                },
                // Every node that may hold the label and is not targeted now: step 5 takes it away.
                [...(prev?.nodeIds ?? []), ...(prev?.clearing ?? [])].filter((id) => !keep.has(id)),
                // Too many to name before: still found by listing the keys.
                prev?.clearingUnlisted === true,
              ),
              limit,
            ),
      !wroteBefore,
    );
    // A re-delivered version is signed with its first issue time: the same bytes as before.
    const redelivery = record === previous;
    const issuedAt = record.updatedAt;
    const key = this.#d.signingKey();
    const failures: NodeFailure[] = [];
    const gate = this.#gate();
    const { outcomes, notAttempted } = await this.#eachNode(nodeIds, gate, failures, (nodeId) => {
      const signed = signBundle(
        {
          label,
          domain,
          plist: req.plist,
          version: record.version,
          issuedAt,
          expiresAt: issuedAt + validityMs,
          keyId: key.keyId,
          nodeId,
        },
        key,
      );
      // Idempotent: a retry whose first try was stored (its answer lost) finds its own value.
      return this.#writeIfNewer(nodeId, label, encodeSignedBundle(signed), record.version, redelivery);
    });
    const count = { written: 0, superseded: 0, unchanged: 0, conflict: 0 };
    for (const o of outcomes) count[o]++;
    // Some node holds another bundle at this version (a rotated key, another validity): it
    // cannot be re-delivered there, so the apply takes a new version after all.
    if (count.conflict > 0 && !gate.stopped) return this.#apply(req, true, wroteBefore || count.written > 0);
    // A re-delivered version takes away what its first apply could not (its record's `clearing`,
    // or, when it has too many to name, every node outside the target that holds a key).
    const toClear = await this.#toClear(label, record);
    const gone = (toClear.ids ?? []).filter((id) => !keep.has(id));
    const removal = await this.#removeFrom(gone, label, record.version, failures, gate);
    if (toClear.ids) await this.#cleared(label, record, revision, failures, limit);
    return {
      label,
      version: record.version,
      targeted: nodeIds.length,
      written: count.written,
      superseded: count.superseded,
      unchanged: count.unchanged + count.conflict,
      notAttempted: notAttempted + removal.notAttempted,
      removed: removal.removed,
      failures,
      durationMs: Math.round(this.#d.clock.monotonicMs() - started),
      warnings: [
        ...checked.value.warnings,
        ...(nodeIds.length === 0 ? ['the target matches no node: nothing was written'] : []),
        ...(toClear.ids ? [] : [toClear.warning]),
        ...(notAttempted + removal.notAttempted > 0
          ? [
              `the broker stopped answering: ${notAttempted + removal.notAttempted} of ${nodeIds.length + gone.length} nodes not tried; retry the apply`,
            ]
          : []),
      ],
    };
  }

  async delete(label: string, by: string): Promise<DeleteResult> {
    const l = checkLabel(label);
    if (!l.ok) throw new InvalidArgumentError(`label: ${l.error}`, 'label');
    // Nothing is written before #advance: an outage up to there changed nothing.
    const existing = await this.get(label).catch((e: unknown) => {
      throw changedNothing(natsError(e, `reading the job record of ${label}`));
    });
    if (!existing) throw new NotFoundError('job', label);
    const now = this.#d.clock.wallMs();
    const limit = this.#recordLimit();
    const { record, previous, revision } = await this.#advance(
      label,
      (prev) => {
        if (!prev) throw new NotFoundError('job', label);
        // Deleted already: no new version; the deletes below finish what the first one left.
        if (prev.deleted) return prev;
        return fitOrRefuse(
          withClearing(
            {
              ...prev,
              version: prev.version + 1,
              nodeIds: [],
              updatedAt: now,
              updatedBy: by,
              deleted: true,
            },
            [...prev.nodeIds, ...(prev.clearing ?? [])],
            prev.clearingUnlisted === true,
          ),
          limit,
        );
      },
      true,
    );
    const failures: NodeFailure[] = [];
    // Nodes the record names, and any other node that has a key for the label (written by an
    // older controller or by hand): the delete leaves none behind.
    const ids = new Set(record.clearing ?? []);
    const named = ids.size;
    // Classified like every other broker call: raw, a listing the broker did not answer reached
    // the caller as an unexplained client error. The record (the tombstone) keeps the nodes to
    // clear, or its mark, so deleting again finishes: nothing is lost. With nodes named, those
    // are still cleared and the listing's failure is a warning (before 2026-12-07 the call threw
    // before clearing any); with none named there is nothing this call can do.
    let unlisted: string | undefined;
    const listed = await this.#nodesWithKey(label).catch((e: unknown) => {
      const c = natsError(
        e,
        `job ${label} is deleted (version ${record.version}) but still on its nodes: listing the ` +
          `nodes that hold its key failed; delete it again once the broker answers`,
      );
      // Deleted before this call (no new version): this call wrote nothing.
      if (named === 0) throw record === previous ? changedNothing(c) : c;
      unlisted = messageOf(natsError(e, `listing the keys of ${label}`));
      return [];
    });
    for (const id of listed) ids.add(id);
    if (record === previous && ids.size === 0) throw new NotFoundError('job', label);
    const { removed, notAttempted } = await this.#removeFrom(
      [...ids],
      label,
      record.version,
      failures,
      this.#gate(),
    );
    await this.#cleared(label, record, revision, failures, limit);
    return {
      label,
      version: record.version,
      removed,
      failures,
      warnings: [
        ...(unlisted === undefined
          ? []
          : [
              `the nodes that hold its key could not be listed (${unlisted}): only the ${named} nodes the job ` +
                `record names were tried, a node it does not name (written by hand or by an older controller) ` +
                `may still hold it; delete it again once the broker answers`,
            ]),
        ...(failures.length > 0
          ? [
              `not cleared from ${failures.length} of ${ids.size} nodes` +
                (notAttempted > 0 ? ` (${notAttempted} not tried: the broker stopped answering)` : '') +
                `: the job may still run there; delete it again`,
            ]
          : []),
      ],
    };
  }

  async get(label: string): Promise<JobRecord | undefined> {
    const l = checkLabel(label);
    if (!l.ok) throw new InvalidArgumentError(`label: ${l.error}`, 'label');
    const e = await this.#d.jobs.get(keys.job(label));
    if (!e || e.operation !== 'PUT') return undefined;
    return parseJobRecord(e.string());
  }

  /** Every job record (tombstones included), by label. */
  async list(): Promise<JobRecord[]> {
    const names: string[] = [];
    for await (const k of await this.#d.jobs.keys()) names.push(k);
    const out: JobRecord[] = [];
    await forEachBounded(names, 32, async (k) => {
      const e = await this.#d.jobs.get(k);
      const r = e && e.operation === 'PUT' ? parseJobRecord(e.string()) : undefined;
      if (r) out.push(r);
    });
    return out.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  }

  /**
   * Refuses to start a write while the broker connection is down (see brokerConnected). That
   * write is not sent; `first`: nor was anything else of the call, which is then marked as having
   * changed nothing (UnavailableError.changedNothing).
   */
  #assertConnected(what: string, first: boolean): void {
    if (this.#d.brokerConnected?.() !== false) return;
    throw new UnavailableError(
      `${what}: the controller is not connected to the message broker (NATS) right now; nothing was sent; retry`,
      {
        cause: Object.assign(new Error('not connected'), { name: 'ConnectionError' }),
        changedNothing: first,
      },
    );
  }

  /**
   * Compare-and-set on the label's record; `next` sees the current record (or undefined).
   * `first`: the call has written nothing before, so an outage before this write was sent, or
   * one that kept it from being stored, is reported as having changed nothing (the API then says
   * so: a timed-out write may have been stored and is not).
   */
  async #advance(
    label: string,
    next: (prev: JobRecord | undefined) => JobRecord,
    first: boolean,
  ): Promise<{ record: JobRecord; previous: JobRecord | undefined; revision: number }> {
    const k = keys.job(label);
    const unwritten = (e: LaunchfleetError): LaunchfleetError => (first ? changedNothing(e) : e);
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      // Classified like the write below: a read that times out (a cluster without quorum) is
      // UNAVAILABLE, not a raw client error (docs/fault-suite.md, fault-cluster). Nothing of this
      // attempt was written yet (an earlier attempt's write lost its compare-and-set).
      const e = await this.#d.jobs.get(k).catch((err: unknown) => {
        throw unwritten(natsError(err, `reading the job record of ${label}`));
      });
      const prev = e && e.operation === 'PUT' ? parseJobRecord(e.string()) : undefined;
      if (e && e.operation === 'PUT' && !prev)
        throw new FailedPreconditionError(`job record of ${label} is unreadable; repair lf_jobs/${k}`);
      const record = next(prev);
      // `next` handed back the record itself: nothing to write (a re-delivered version).
      if (e && prev && record === prev) return { record, previous: prev, revision: e.revision };
      this.#assertConnected(`writing the job record of ${label}`, first);
      try {
        const revision =
          e && e.operation === 'PUT'
            ? await this.#d.jobs.update(k, JSON.stringify(record), e.revision)
            : await this.#d.jobs.create(k, JSON.stringify(record));
        return { record, previous: prev, revision };
      } catch (err) {
        // Not stored (no responders): nothing changed. A timeout may have been stored: unknown.
        if (!isWrongRevision(err)) {
          const c = natsError(err, `writing the job record of ${label}`);
          throw natsNotStored(err) ? unwritten(c) : c;
        }
        // Another controller advanced the label meanwhile: re-read and take the next version.
      }
    }
    throw new ConflictError(`job ${label} is being changed concurrently; retry`);
  }

  /**
   * Puts `value` under `key` unless that very bundle or one of a higher version is already
   * there. Re-delivering (`redelivery`), a deleted key or another bundle at the same version is
   * a `conflict`: an agent that saw the other bundle would refuse this one as a replay.
   */
  async #writeIfNewer(
    nodeId: string,
    label: string,
    value: string,
    version: number,
    redelivery: boolean,
  ): Promise<WriteOutcome> {
    const key = keys.desired(nodeId, label);
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const e = await this.#d.desired.get(key);
      const live = e !== null && e.operation === 'PUT';
      if (live && e.string() === value) return 'unchanged';
      if (live && storedVersion(e) > version) return 'superseded';
      if (redelivery && e !== null && (!live || storedVersion(e) === version)) return 'conflict';
      this.#assertConnected(`writing ${key}`, false);
      try {
        await this.#d.index.writeKey(nodeId, label, value, e);
        return 'written';
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
    }
    throw new ConflictError(`${key} is being written concurrently`);
  }

  /**
   * Deletes the label's key on each node unless a version above `version` is there, through
   * `gate` like the apply's writes (#eachNode). Returns how many keys this call deleted (a delete
   * whose answer was lost but which was stored finds the key gone when tried again, uncounted) and
   * how many nodes it did not try.
   */
  async #removeFrom(
    nodeIds: readonly string[],
    label: string,
    version: number,
    failures: NodeFailure[],
    gate: WriteGate,
  ): Promise<{ removed: number; notAttempted: number }> {
    const { outcomes, notAttempted } = await this.#eachNode(nodeIds, gate, failures, async (nodeId) => {
      const key = keys.desired(nodeId, label);
      for (let attempt = 0; attempt < casAttempts; attempt++) {
        const e = await this.#d.desired.get(key);
        if (!e || e.operation !== 'PUT' || storedVersion(e) > version) return false;
        this.#assertConnected(`removing ${key}`, false);
        try {
          await this.#d.index.deleteKey(nodeId, label, e);
          return true;
        } catch (err) {
          if (!isWrongRevision(err)) throw err;
        }
      }
      throw new ConflictError(`${key} is being written concurrently`);
    });
    return { removed: outcomes.filter(Boolean).length, notAttempted };
  }

  /**
   * After the deletes of an apply or delete: writes `record` (at `revision`, the one this call
   * wrote or read) again with `clearing` naming only the nodes whose delete failed, so the next
   * apply or delete tries those and no others. Best effort: if the record moved on (another
   * controller's version carries this `clearing` on) or the broker does not answer, the record
   * keeps naming nodes already cleared, which only costs the next call a read of each key.
   * A record with `clearingUnlisted` (its nodes to clear were listed by this call, so the call
   * tried each) names the failed ones instead, or keeps the mark if even they do not fit.
   */
  async #cleared(
    label: string,
    record: JobRecord,
    revision: number,
    failures: readonly NodeFailure[],
    limit: number,
  ): Promise<void> {
    const had = record.clearing ?? [];
    if (had.length === 0 && !record.clearingUnlisted && failures.length === 0) return;
    const failed = new Set(failures.map((f) => f.nodeId));
    // A node targeted by this version whose write failed is not one to clear.
    const keep = new Set(record.nodeIds);
    const next = fitRecord(
      withClearing(
        record,
        [...failed].filter((id) => !keep.has(id)),
      ),
      limit,
    );
    if (!next) return;
    const left = next.clearing ?? [];
    // A set: with 20,000 nodes to clear and none cleared, `had.includes` per id took 18 s of the
    // event loop (2026-12-07, nice 19), a set 10 ms.
    const hadSet = new Set(had);
    if (
      next.clearingUnlisted === record.clearingUnlisted &&
      left.length === had.length &&
      left.every((id) => hadSet.has(id))
    )
      return;
    if (this.#d.brokerConnected?.() === false) return;
    await this.#d.jobs.update(keys.job(label), JSON.stringify(next), revision).catch(() => undefined);
  }

  /** The largest record a write may carry now (DesiredStateDeps.maxRecordBytes). */
  #recordLimit(): number {
    return this.#d.maxRecordBytes?.() ?? recordLimit(undefined);
  }

  /**
   * The nodes `record` says are still to clear (targeted ones included; the caller leaves them
   * out): its `clearing`, or with `clearingUnlisted` every node holding a key for the label. A
   * listing that failed gives no ids and a warning; the record keeps its mark for the retry.
   */
  async #toClear(
    label: string,
    record: JobRecord,
  ): Promise<{ ids: readonly string[]; warning?: undefined } | { ids?: undefined; warning: string }> {
    if (!record.clearingUnlisted) return { ids: record.clearing ?? [] };
    try {
      return { ids: await this.#nodesWithKey(label) };
    } catch (e) {
      return {
        warning:
          `the nodes this job is still to be taken away from could not be listed ` +
          `(${messageOf(natsError(e, `listing the keys of ${label}`))}): none was tried; retry the apply`,
      };
    }
  }

  /** A gate for one call's writes (write-gate.ts): they stop once the broker stops answering. */
  #gate(): WriteGate {
    return new WriteGate({
      now: () => this.#d.clock.monotonicMs(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      giveUpMs: this.#d.giveUpMs ?? 10_000,
    });
  }

  /**
   * Runs `write` for each node, `concurrency` at once, through `gate`: a write the broker did not
   * answer is tried again once it answers, and none is started once it has stopped answering
   * (write-gate.ts), so `write` must be idempotent. A node whose write failed or was not tried
   * goes into `failures`; returns the other writes' outcomes and how many were not tried.
   */
  async #eachNode<T>(
    nodeIds: readonly string[],
    gate: WriteGate,
    failures: NodeFailure[],
    write: (nodeId: string) => Promise<T>,
  ): Promise<{ outcomes: T[]; notAttempted: number }> {
    const outcomes: T[] = [];
    let notAttempted = 0;
    await forEachBounded(nodeIds, this.#d.concurrency ?? 256, async (nodeId) => {
      const r = await writeThroughGate(
        gate,
        gatedWriteAttempts,
        () => write(nodeId),
        (e) => ({
          unavailable: natsError(e, `writing for ${nodeId}`) instanceof UnavailableError,
          reason: messageOf(e),
        }),
      );
      if (r.ok) outcomes.push(r.value);
      else if (r.tried) failures.push({ nodeId, reason: r.reason });
      else {
        notAttempted++;
        failures.push({
          nodeId,
          reason: `UNAVAILABLE: not tried, the broker stopped answering (${r.reason}); retry`,
        });
      }
    });
    return { outcomes, notAttempted };
  }

  async #nodesWithKey(label: string): Promise<string[]> {
    const suffix = keys.desired('x', label).slice(1);
    const out: string[] = [];
    for await (const k of await this.#d.desired.keys(`*${suffix}`))
      out.push(k.slice(0, k.length - suffix.length));
    return out;
  }
}

/** The version of a stored bundle; a value that is not a bundle counts as version 0. */
function storedVersion(e: KvEntry): number {
  const p = parseSignedBundle(e.value);
  return p.ok ? p.signed.bundle.version : 0;
}
