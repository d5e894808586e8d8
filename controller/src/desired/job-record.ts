/**
 * Job records in KV `lf_jobs` (key = the label's token). A record is the per-label version
 * counter (advanced with compare-and-set on the entry's revision, so two controllers never
 * hand out the same version) and remembers what the last apply targeted, so the next apply
 * or a delete knows which nodes to take the job away from. A delete keeps the record as a
 * tombstone (`deleted: true`): versions never restart, and no node sees a re-applied job as
 * "older than what it ran".
 *
 * `clearing` names the nodes the label was taken away from whose key may still be there (a delete
 * the broker did not answer, or not tried: docs/fault-suite.md). The record is written with them
 * before the deletes are tried and written again without the ones deleted, so a retry of the
 * apply (even one that re-delivers the version) or of `jobs delete`, or the next apply, removes
 * what is left. Optional: records written before 2026-12-07 have none.
 *
 * Size: a record is one broker message, at most the server's max_payload (1 MiB by default; the
 * bucket allows 2 MiB). A node id costs 24 bytes in it, so a whole-fleet retarget of 20,000 nodes
 * to 20,000 others (target and `clearing` each 20,000 ids) is 0.96 MB, and 22,000 would not fit:
 * the write was refused and the apply failed. When `clearing` does not fit beside the target
 * (`fitRecord`), the record says `clearingUnlisted` instead of naming the nodes, and the apply or
 * delete finds them by listing the label's keys in `lf_desired` (what `jobs delete` always does).
 * A record that does not fit even without `clearing` (a target of over ~43,000 nodes) is refused
 * with a clear error before anything is written.
 */
import { InvalidArgumentError } from '@launchfleet/shared';
import { isRecord } from '@launchfleet/shared/messages';

/** What an apply targeted, as the API said it. */
export type TargetSpec =
  | { readonly kind: 'nodes'; readonly names: readonly string[] }
  | { readonly kind: 'selector'; readonly selector: string }
  | { readonly kind: 'all' };

export interface JobRecord {
  readonly v: 1;
  readonly label: string;
  readonly domain: string;
  readonly plist: string;
  /** The last version handed out for this label (monotonic). */
  readonly version: number;
  readonly target: TargetSpec;
  /** Node ids the current version was written to. */
  readonly nodeIds: readonly string[];
  readonly updatedAt: number;
  readonly updatedBy: string;
  readonly deleted: boolean;
  /** Nodes not targeted whose key for the label may still be there (see the header). */
  readonly clearing?: readonly string[];
  /**
   * Too many nodes to clear to name them here (the record would not fit in a broker message):
   * every node outside the target that holds a key for the label is to be cleared, found by
   * listing the keys. `clearing` is then left out.
   */
  readonly clearingUnlisted?: true;
}

/** NATS's default max_payload, the broker message limit when the server says nothing else. */
export const defaultMaxPayload = 1024 * 1024;
/** The `lf_jobs` bucket's value limit (start-controller.ts, rollout-runtime.ts). */
export const jobsMaxValueBytes = 2 * 1024 * 1024;
/** Room kept for a write's headers (the compare-and-set's expected revision). */
const headerRoom = 1024;

/** The largest record (its JSON bytes) a write can carry with the server's `maxPayload`. */
export function recordLimit(maxPayload: number | undefined): number {
  const payload = maxPayload !== undefined && maxPayload > 0 ? maxPayload : defaultMaxPayload;
  return Math.min(payload, jobsMaxValueBytes) - headerRoom;
}

/** The bytes `r` takes as stored (UTF-8 JSON). */
export function recordBytes(r: JobRecord): number {
  return Buffer.byteLength(JSON.stringify(r));
}

/**
 * `r` as it can be stored in `maxBytes`: itself when it fits; else, if it names nodes to clear,
 * with `clearingUnlisted` instead of the list; undefined when even that does not fit.
 */
export function fitRecord(r: JobRecord, maxBytes: number): JobRecord | undefined {
  if (recordBytes(r) <= maxBytes) return r;
  if (r.clearing === undefined) return undefined;
  const unlisted = withClearing(r, [], true);
  return recordBytes(unlisted) <= maxBytes ? unlisted : undefined;
}

/**
 * `r` as `fitRecord` makes it fit in `maxBytes` (default: for NATS's default max_payload); else a
 * clear error, which the caller throws before any write.
 */
export function fitOrRefuse(r: JobRecord, maxBytes = recordLimit(undefined)): JobRecord {
  const fitted = fitRecord(r, maxBytes);
  if (!fitted) throw new InvalidArgumentError(tooLargeMessage(r, maxBytes), 'target');
  return fitted;
}

/** Why a record does not fit, for the caller's error. */
function tooLargeMessage(r: JobRecord, maxBytes: number): string {
  const { clearing: _c, clearingUnlisted: _u, ...bare } = r;
  return (
    `the job record of ${r.label} would be ${recordBytes(bare)} bytes (${r.nodeIds.length} target nodes, ` +
    `${r.plist.length} bytes of plist), over the ${maxBytes} bytes a broker message may carry ` +
    `(NATS max_payload): nothing was written; target fewer nodes per label (split the fleet with ` +
    `selectors) or raise the server's max_payload`
  );
}

/** Reads a stored record; undefined if it is not one (never throws). */
export function parseJobRecord(text: string): JobRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(o) || o['v'] !== 1) return undefined;
  const t = o['target'];
  const ok =
    typeof o['label'] === 'string' &&
    typeof o['domain'] === 'string' &&
    typeof o['plist'] === 'string' &&
    typeof o['version'] === 'number' &&
    Array.isArray(o['nodeIds']) &&
    o['nodeIds'].every((x) => typeof x === 'string') &&
    typeof o['updatedAt'] === 'number' &&
    typeof o['updatedBy'] === 'string' &&
    typeof o['deleted'] === 'boolean' &&
    (o['clearing'] === undefined ||
      (Array.isArray(o['clearing']) && o['clearing'].every((x) => typeof x === 'string'))) &&
    (o['clearingUnlisted'] === undefined || o['clearingUnlisted'] === true) &&
    isRecord(t) &&
    (t['kind'] === 'all' ||
      (t['kind'] === 'selector' && typeof t['selector'] === 'string') ||
      (t['kind'] === 'nodes' && Array.isArray(t['names'])));
  return ok ? (o as unknown as JobRecord) : undefined;
}

/**
 * `r` with `clearing` set to `nodeIds` (left out when there are none); `unlisted`: with
 * `clearingUnlisted` instead (the nodes are found by listing keys, so none is named).
 */
export function withClearing(r: JobRecord, nodeIds: Iterable<string>, unlisted = false): JobRecord {
  const { clearing: _old, clearingUnlisted: _oldUnlisted, ...rest } = r;
  if (unlisted) return { ...rest, clearingUnlisted: true };
  const ids = [...new Set(nodeIds)].sort();
  return ids.length > 0 ? { ...rest, clearing: ids } : rest;
}

/** One line describing a target, for tables and audit entries. */
export function describeTarget(t: TargetSpec): string {
  switch (t.kind) {
    case 'all':
      return 'all';
    case 'selector':
      return `selector ${t.selector}`;
    case 'nodes':
      return `nodes ${t.names.slice(0, 5).join(',')}${t.names.length > 5 ? `,… (${t.names.length})` : ''}`;
    default: {
      const never: never = t;
      return never;
    }
  }
}
