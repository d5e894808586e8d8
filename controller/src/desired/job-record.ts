/**
 * Job records in KV `lf_jobs` (key = the label's token). A record is the per-label version
 * counter (advanced with compare-and-set on the entry's revision, so two controllers never
 * hand out the same version) and remembers what the last apply targeted, so the next apply
 * or a delete knows which nodes to take the job away from. A delete keeps the record as a
 * tombstone (`deleted: true`): versions never restart, and no node sees a re-applied job as
 * "older than what it ran".
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
    isRecord(t) &&
    (t['kind'] === 'all' ||
      (t['kind'] === 'selector' && typeof t['selector'] === 'string') ||
      (t['kind'] === 'nodes' && Array.isArray(t['names'])));
  return ok ? (o as unknown as JobRecord) : undefined;
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
