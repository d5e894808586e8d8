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
 */
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
    isRecord(t) &&
    (t['kind'] === 'all' ||
      (t['kind'] === 'selector' && typeof t['selector'] === 'string') ||
      (t['kind'] === 'nodes' && Array.isArray(t['names'])));
  return ok ? (o as unknown as JobRecord) : undefined;
}

/** `r` with `clearing` set to `nodeIds` (left out when there are none). */
export function withClearing(r: JobRecord, nodeIds: Iterable<string>): JobRecord {
  const { clearing: _old, ...rest } = r;
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
