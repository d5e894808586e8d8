/**
 * When an apply re-delivers the label's current version instead of taking a new one.
 *
 * An apply that partly failed (a stream leader lost, quorum gone: docs/fault-suite.md) is
 * retried by the user with the same plist and target. Taking a new version for the retry would
 * rewrite every node, though most already hold the content. Instead, when the request is the
 * same as the apply that made the label's current version, the retry signs that version again
 * with the same issue time and validity: Ed25519 is deterministic, so each node's bundle is
 * byte-identical to the one the first apply wrote (or would have written) there. Nodes that hold
 * it are left alone; nodes that missed it get it; an agent that saw it before sees an identical
 * re-delivery, which it accepts without doing anything (shared/src/signing/verify.ts).
 *
 * Only an apply's own version is re-delivered, and only while its bundles have most of their
 * validity left: a different plist, domain or target, a deleted job, or a version older than a
 * tenth of the validity takes a new version, as before. A node whose key holds a different
 * bundle at that version (signed by a rotated key, another validity, a rollout's or re-signer's
 * bundle) makes the apply take a new version after all (desired-state-service.ts).
 */
import type { JobRecord, TargetSpec } from '../job-record.ts';

export interface ApplyContent {
  readonly label: string;
  readonly domain: string;
  readonly plist: string;
  readonly target: TargetSpec;
  readonly nodeIds: readonly string[];
}

/** Whether `prev` is the version an apply of `next` re-delivers (at wall time `nowMs`). */
export function redeliverable(
  prev: JobRecord | undefined,
  next: ApplyContent,
  nowMs: number,
  validityMs: number,
): prev is JobRecord {
  if (!prev || prev.deleted) return false;
  if (prev.label !== next.label || prev.domain !== next.domain || prev.plist !== next.plist) return false;
  if (JSON.stringify(prev.target) !== JSON.stringify(next.target)) return false;
  if (!sameSet(prev.nodeIds, next.nodeIds)) return false;
  const age = nowMs - prev.updatedAt;
  return age >= 0 && age < validityMs / 10;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return s.size === b.length && b.every((x) => s.has(x));
}
