/**
 * Re-signs the desired state in `lf_desired` with the active job-signing key, without restarting
 * a job: `launchfleet-controller keys resign-jobs` and the second half of
 * `keys revoke-signing-key` (cli/keys-command.ts; procedure in ./README.md, "Key rotation").
 *
 * For each (label, old version) whose bundles another key signed (core/resign-plan.ts):
 *   1. take the label's next version with compare-and-set on its `lf_jobs` record (the record
 *      keeps its plist and target; only the counter moves, so `jobs apply` and rollouts never
 *      hand out the same number);
 *   2. record in `lf_versions` that the new number re-signs the old content (`sameAs`), so the
 *      rollout core sees a re-signed node as running the same content;
 *   3. write each node's new bundle with compare-and-set against the entry read: a key changed
 *      meanwhile (a newer apply, a rollout step) is left to whoever changed it.
 * Agents adopt a new version that carries the plist they run without restarting the job.
 *
 * Only content the controller handed out itself is re-signed (vouchedRecord): the same plist as
 * the job record's version, or as the version's `lf_versions` entry, for a node the job was
 * written to. A bundle someone else put into `lf_desired` with a leaked key is never laundered.
 *
 * What is not re-signed is returned with the reason, so the CLI can say which jobs still depend
 * on the old key and how to fix them: content not in the controller's records,
 * a label with a rollout in progress (its later steps would be superseded by the higher number),
 * a key written concurrently.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { type Clock, ConflictError, FailedPreconditionError, messageOf } from '@launchfleet/shared';
import { natsError } from '@launchfleet/shared/nats-errors';
import { desiredIndexSegment, keys } from '@launchfleet/shared/messages';
import {
  type SigningKey,
  encodeSignedBundle,
  parseSignedBundle,
  signBundle,
} from '@launchfleet/shared/signing';
import { forEachBounded } from '../desired/bounded-pool.ts';
import type { DesiredIndex } from '../desired/desired-index.ts';
import { type JobRecord, parseJobRecord } from '../desired/job-record.ts';
import type { JobVersions } from '../rollout/job-versions.ts';
import { isWrongRevision } from '../rollout/kv-cas.ts';
import { type ResignGroup, type StoredBundle, groupForResign, resignedBundle } from './core/resign-plan.ts';

export interface ResignDeps {
  readonly desired: KV;
  readonly index: DesiredIndex;
  readonly jobs: KV;
  readonly versions: JobVersions;
  readonly signingKey: SigningKey;
  readonly clock: Clock;
  /** Who re-signs (recorded on the job record and the version entries). */
  readonly by: string;
  /** Labels with a rollout in progress: left alone, reported. */
  readonly busyLabels?: ReadonlySet<string>;
  /** Re-sign only bundles these keys signed; default: every key but the active one. */
  readonly onlyKeys?: ReadonlySet<string>;
  /** Reads and writes in flight at once. Default 64. */
  readonly concurrency?: number;
}

/** One (label, old version) re-signed under a new version. */
export interface ResignedLabel {
  readonly label: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly fromKeys: readonly string[];
  readonly nodes: number;
}

/** A bundle left signed by the old key, and why. */
export interface LeftBundle {
  readonly nodeId: string;
  readonly label: string;
  readonly version: number;
  readonly keyId: string;
  readonly reason: string;
}

export interface ResignResult {
  /** Desired keys read (bundles; index entries not counted). */
  readonly scanned: number;
  readonly resigned: readonly ResignedLabel[];
  /** Bundles written in all. */
  readonly written: number;
  /** Keys changed by someone else meanwhile, to a version at least as high: nothing to do. */
  readonly superseded: number;
  readonly left: readonly LeftBundle[];
  /** Keys whose value is not a readable bundle (reported, never touched). */
  readonly unreadable: readonly string[];
}

const casAttempts = 8;

export async function resignDesiredState(d: ResignDeps): Promise<ResignResult> {
  const names: string[] = [];
  for await (const k of await d.desired.keys()) if (!k.endsWith(`.${desiredIndexSegment}`)) names.push(k);
  const stored: StoredBundle<KvEntry>[] = [];
  const unreadable: string[] = [];
  await forEachBounded(names, d.concurrency ?? 64, async (k) => {
    const e = await d.desired.get(k);
    if (!e || e.operation !== 'PUT') return;
    const p = parseSignedBundle(e.value);
    if (!p.ok || keys.desired(p.signed.bundle.nodeId, p.signed.bundle.label) !== k) {
      unreadable.push(k);
      return;
    }
    stored.push({ nodeId: p.signed.bundle.nodeId, bundle: p.signed.bundle, entry: e });
  });
  const groups = groupForResign(stored, d.signingKey.keyId, d.onlyKeys);
  const resigned: ResignedLabel[] = [];
  const left: LeftBundle[] = [];
  let written = 0;
  let superseded = 0;
  const leave = (g: ResignGroup<KvEntry>, reason: string, only?: StoredBundle<KvEntry>) => {
    for (const s of only ? [only] : g.items)
      left.push({
        nodeId: s.nodeId,
        label: g.label,
        version: g.fromVersion,
        keyId: s.bundle.keyId,
        reason,
      });
  };
  // Labels one after another (their versions are a sequence), nodes of a group in parallel.
  for (const g of groups) {
    if (d.busyLabels?.has(g.label)) {
      leave(g, 'a rollout of this job is in progress: run resign-jobs again when it has finished');
      continue;
    }
    let toVersion: number;
    let items: StoredBundle<KvEntry>[];
    try {
      const record = await vouchedRecord(d, g);
      // Sets: with Array.includes a 20,000-node group took 16 s of CPU before its first write
      // (2026-12-07, nice 19), with sets 20 ms.
      const ours = new Set(record.nodeIds);
      items = g.items.filter((s) => ours.has(s.nodeId));
      for (const s of g.items)
        if (!ours.has(s.nodeId)) leave(g, `${notOurs}: the job was never written to this node`, s);
      if (items.length === 0) continue;
      toVersion = await nextVersion(d, g);
    } catch (e) {
      leave(g, messageOf(e));
      continue;
    }
    const now = d.clock.wallMs();
    let n = 0;
    await forEachBounded(items, d.concurrency ?? 64, async (s) => {
      const value = encodeSignedBundle(
        signBundle(resignedBundle(s.bundle, toVersion, now, d.signingKey.keyId), d.signingKey),
      );
      try {
        const out = await writeResigned(d, s, value, toVersion);
        if (out === 'written') n++;
        else superseded++;
      } catch (e) {
        leave(g, messageOf(e), s);
      }
    });
    written += n;
    resigned.push({
      label: g.label,
      fromVersion: g.fromVersion,
      toVersion,
      fromKeys: [...new Set(items.map((s) => s.bundle.keyId))].sort(),
      nodes: n,
    });
  }
  return { scanned: stored.length + unreadable.length, resigned, written, superseded, left, unreadable };
}

const notOurs =
  "not in the controller's records (lf_jobs, lf_versions), so not re-signed (a bundle written past the controller, e.g. with a leaked key); if the job is yours, apply it again";

/**
 * The label's job record, if the group's content is what the controller itself handed out for
 * that version: the record's own (version, domain, plist), or the version's entry in
 * `lf_versions` (rollouts, earlier re-signs). A re-sign must never launder a bundle someone
 * else wrote into `lf_desired` and signed with a leaked key.
 */
async function vouchedRecord(d: ResignDeps, g: ResignGroup<KvEntry>): Promise<JobRecord> {
  const e = await d.jobs.get(keys.job(g.label));
  const record = e && e.operation === 'PUT' ? parseJobRecord(e.string()) : undefined;
  if (!record) throw new FailedPreconditionError(`no job record: ${notOurs}`);
  if (record.deleted)
    throw new FailedPreconditionError('the job is deleted: delete it again to remove the leftover key');
  const same = (x: { domain: string; plist: string }) => x.domain === g.domain && x.plist === g.plist;
  if (g.fromVersion === record.version && same(record)) return record;
  if (g.fromVersion <= record.version) {
    const v = await d.versions.get(g.label, g.fromVersion);
    if (v && same(v)) return record;
  }
  throw new FailedPreconditionError(notOurs);
}

/** Advances the label's record by one version (nothing else changes) and records what it carries. */
async function nextVersion(d: ResignDeps, g: ResignGroup<KvEntry>): Promise<number> {
  const k = keys.job(g.label);
  for (let attempt = 0; attempt < casAttempts; attempt++) {
    const e = await d.jobs.get(k);
    const prev = e && e.operation === 'PUT' ? parseJobRecord(e.string()) : undefined;
    if (!e || !prev) throw new FailedPreconditionError(`no job record: ${notOurs}`);
    if (prev.deleted)
      throw new FailedPreconditionError('the job is deleted: delete it again to remove the leftover key');
    const now = d.clock.wallMs();
    const record: JobRecord = { ...prev, version: prev.version + 1, updatedAt: now, updatedBy: d.by };
    try {
      await d.jobs.update(k, JSON.stringify(record), e.revision);
    } catch (err) {
      if (isWrongRevision(err)) continue;
      throw natsError(err, `writing the job record of ${g.label}`);
    }
    await d.versions.remember({
      label: g.label,
      domain: g.domain,
      plist: g.plist,
      version: record.version,
      sameAs: await d.versions.contentOf(g.label, g.fromVersion),
      createdAt: now,
      createdBy: d.by,
    });
    return record.version;
  }
  throw new ConflictError(`job ${g.label} is being changed concurrently; run resign-jobs again`);
}

/** Replaces the node's bundle unless someone changed the key since it was read. */
async function writeResigned(
  d: ResignDeps,
  s: StoredBundle<KvEntry>,
  value: string,
  toVersion: number,
): Promise<'written' | 'superseded'> {
  let entry: KvEntry | null = s.entry;
  for (let attempt = 0; attempt < casAttempts; attempt++) {
    try {
      await d.index.writeKey(s.nodeId, s.bundle.label, value, entry);
      return 'written';
    } catch (err) {
      if (!isWrongRevision(err)) throw natsError(err, `writing ${keys.desired(s.nodeId, s.bundle.label)}`);
    }
    entry = await d.desired.get(keys.desired(s.nodeId, s.bundle.label));
    if (!entry || entry.operation !== 'PUT') return 'superseded'; // taken away meanwhile
    const p = parseSignedBundle(entry.value);
    if (p.ok && (p.signed.bundle.version >= toVersion || p.signed.bundle.keyId === d.signingKey.keyId))
      return 'superseded';
    if (!p.ok || p.signed.bundle.version !== s.bundle.version)
      throw new ConflictError('changed while re-signing: run resign-jobs again');
    // The same bundle under a new revision (re-written as it was): try again at that revision.
  }
  throw new ConflictError('being written concurrently: run resign-jobs again');
}
