/**
 * Bundle versions of a label, and what each one carries (KV `lf_versions`, key
 * `<labelToken>.<version>`).
 *
 * The rollout core speaks of "versions" as strings naming job CONTENT: the plist of one apply.
 * Agents speak of bundle version NUMBERS, which only ever go up (an agent refuses a bundle older
 * than what it runs). A rollback must therefore put the old plist back under a NEW, higher
 * number: "signed as before" means the same plist and domain, a fresh signature, a fresh
 * issue/expiry and a higher bundle version. Each version entry records `sameAs`, the content
 * version it re-signs (itself for a fresh apply), so an agent reporting bundle 7 that re-signs
 * content 3 is seen by the core as running "3".
 *
 * Numbers come from the label's job record in `lf_jobs` (compare-and-set, shared with
 * `jobs apply`), so a rollout and an apply never hand out the same number. Entries are
 * immutable once written (create only), so they are cached forever.
 */
import type { KV } from '@nats-io/kv';
import { ConflictError, FailedPreconditionError } from '@launchfleet/shared';
import { natsError } from '@launchfleet/shared/nats-errors';
import { isRecord, keys } from '@launchfleet/shared/messages';
import { type TargetSpec, fitOrRefuse, parseJobRecord, withClearing } from '../desired/job-record.ts';
import { isWrongRevision } from './kv-cas.ts';

/** One bundle version of a label. */
export interface JobVersion {
  readonly v: 1;
  readonly label: string;
  readonly domain: string;
  readonly plist: string;
  /** The bundle version number. */
  readonly version: number;
  /** The content version this one re-signs; equal to `version` for a fresh plist. */
  readonly sameAs: number;
  readonly createdAt: number;
  readonly createdBy: string;
}

const casAttempts = 8;

function parseJobVersion(text: string): JobVersion | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    !isRecord(o) ||
    o['v'] !== 1 ||
    typeof o['label'] !== 'string' ||
    typeof o['domain'] !== 'string' ||
    typeof o['plist'] !== 'string' ||
    typeof o['version'] !== 'number' ||
    typeof o['sameAs'] !== 'number'
  )
    return undefined;
  return o as unknown as JobVersion;
}

export class JobVersions {
  readonly #versions: KV;
  readonly #jobs: KV;
  readonly #cache = new Map<string, JobVersion>();
  readonly #maxRecordBytes: (() => number) | undefined;

  /**
   * `maxRecordBytes`: the largest job record a write may carry (DesiredStateDeps.maxRecordBytes);
   * default: for NATS's default max_payload.
   */
  constructor(versions: KV, jobs: KV, maxRecordBytes?: () => number) {
    this.#versions = versions;
    this.#jobs = jobs;
    this.#maxRecordBytes = maxRecordBytes;
  }

  /** The entry of one bundle version, if recorded. */
  async get(label: string, version: number): Promise<JobVersion | undefined> {
    const k = keys.version(label, version);
    const hit = this.#cache.get(k);
    if (hit) return hit;
    const e = await this.#versions.get(k);
    if (!e || e.operation !== 'PUT') return undefined;
    const v = parseJobVersion(e.string());
    if (v) this.#cache.set(k, v);
    return v;
  }

  /**
   * Records a version seen in the wild (a bundle written by `jobs apply` before any rollout),
   * from the signed bundle's own plist. A no-op when the entry exists.
   */
  async remember(v: Omit<JobVersion, 'v' | 'sameAs'> & { sameAs?: number }): Promise<JobVersion> {
    const existing = await this.get(v.label, v.version);
    if (existing) return existing;
    const entry: JobVersion = { v: 1, ...v, sameAs: v.sameAs ?? v.version };
    try {
      await this.#versions.create(keys.version(v.label, v.version), JSON.stringify(entry));
    } catch (e) {
      // Someone recorded it first: theirs is the same content (version numbers are never shared).
      const again = await this.get(v.label, v.version);
      if (again) return again;
      throw natsError(e, `recording ${v.label} version ${v.version}`);
    }
    this.#cache.set(keys.version(v.label, v.version), entry);
    return entry;
  }

  /**
   * Takes the next bundle number of the label (compare-and-set on its `lf_jobs` record) and
   * records that it carries `plist`. `sameAs` says which content it re-signs (rollback); left
   * out, the new number is new content.
   */
  async allocate(o: {
    label: string;
    domain: string;
    plist: string;
    sameAs?: number;
    target: TargetSpec;
    nodeIds: readonly string[];
    at: number;
    by: string;
  }): Promise<JobVersion> {
    const k = keys.job(o.label);
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const e = await this.#jobs.get(k);
      const live = e !== null && e.operation === 'PUT';
      const prev = live ? parseJobRecord(e.string()) : undefined;
      if (live && !prev)
        throw new FailedPreconditionError(`job record of ${o.label} is unreadable; repair lf_jobs/${k}`);
      const version = (prev?.version ?? 0) + 1;
      // The record keeps the union of the nodes ever written, so a later `jobs apply` or
      // `jobs delete` knows every node that may hold the label.
      const nodeIds = [...new Set([...(prev?.nodeIds ?? []), ...o.nodeIds])];
      // And the nodes an apply or delete could not take it away from yet (job-record.ts).
      const written = new Set(nodeIds);
      const whole = withClearing(
        {
          v: 1,
          label: o.label,
          domain: o.domain,
          plist: o.plist,
          version,
          target: o.target,
          nodeIds,
          updatedAt: o.at,
          updatedBy: o.by,
          deleted: false,
        },
        (prev?.clearing ?? []).filter((id) => !written.has(id)),
        prev?.clearingUnlisted === true,
      );
      // Too many nodes to clear to name: `clearingUnlisted` (job-record.ts); too many targeted: refused.
      const record = fitOrRefuse(whole, this.#maxRecordBytes?.());
      try {
        if (live) await this.#jobs.update(k, JSON.stringify(record), e.revision);
        else await this.#jobs.create(k, JSON.stringify(record));
      } catch (err) {
        if (isWrongRevision(err)) continue;
        throw natsError(err, `writing the job record of ${o.label}`);
      }
      return this.remember({
        label: o.label,
        domain: o.domain,
        plist: o.plist,
        version,
        sameAs: o.sameAs ?? version,
        createdAt: o.at,
        createdBy: o.by,
      });
    }
    throw new ConflictError(`job ${o.label} is being changed concurrently; retry`);
  }

  /** The content version a bundle number carries (itself when unknown). */
  async contentOf(label: string, version: number): Promise<number> {
    return (await this.get(label, version))?.sameAs ?? version;
  }
}
