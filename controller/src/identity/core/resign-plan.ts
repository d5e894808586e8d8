/**
 * Which stored bundles a re-sign must replace, and with what (controller/src/identity/README.md,
 * "Key rotation" and "Revoking a leaked job-signing key"). Pure: the effects are in
 * ../job-resigner.ts.
 *
 * A bundle is re-signed when another key than the active one signed it (or, when the caller
 * names keys, one of those keys). Agents only take a HIGHER version of a label, so a re-signed
 * bundle is the same label, domain and plist under a new version number of the label; the
 * agent sees that the plist is the one it runs and adopts the version without restarting the
 * job (node-agent/src/link/core/reconcile-plan.ts, `adopt`). Nodes holding the same version of a
 * label hold the same content, so one new number is taken per (label, old version) group.
 */
import type { JobBundle } from '@launchfleet/shared/signing';

/** One stored bundle as read from `lf_desired`. */
export interface StoredBundle<E> {
  readonly nodeId: string;
  readonly bundle: JobBundle;
  /** The KV entry it was read from (the write is a compare-and-set against it). */
  readonly entry: E;
}

/** Bundles of one label and version, re-signed together under one new version. */
export interface ResignGroup<E> {
  readonly label: string;
  readonly fromVersion: number;
  readonly domain: string;
  readonly plist: string;
  readonly items: readonly StoredBundle<E>[];
}

/** Whether `b` must be re-signed: signed by another key than `activeKeyId` (or by one of `only`). */
export function needsResign(b: JobBundle, activeKeyId: string, only?: ReadonlySet<string>): boolean {
  if (b.keyId === activeKeyId) return false;
  return only === undefined || only.has(b.keyId);
}

/** Groups the bundles to re-sign by label and version, sorted by label then version. */
export function groupForResign<E>(
  stored: Iterable<StoredBundle<E>>,
  activeKeyId: string,
  only?: ReadonlySet<string>,
): ResignGroup<E>[] {
  const groups = new Map<string, { label: string; fromVersion: number; items: StoredBundle<E>[] }>();
  for (const s of stored) {
    if (!needsResign(s.bundle, activeKeyId, only)) continue;
    const k = `${s.bundle.label}\u0000${s.bundle.version}`;
    let g = groups.get(k);
    if (!g) {
      g = { label: s.bundle.label, fromVersion: s.bundle.version, items: [] };
      groups.set(k, g);
    }
    g.items.push(s);
  }
  return [...groups.values()]
    .map((g) => {
      const first = g.items[0] as StoredBundle<E>;
      g.items.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
      return { ...g, domain: first.bundle.domain, plist: first.bundle.plist };
    })
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.fromVersion - b.fromVersion));
}

/**
 * The bundle that replaces `old`: the same label, domain, plist and node under `version`,
 * issued `now` and valid as long as the old one was (at least a minute), signed by `keyId`.
 */
export function resignedBundle(old: JobBundle, version: number, now: number, keyId: string): JobBundle {
  const validity = Math.max(60_000, old.expiresAt - old.issuedAt);
  return {
    label: old.label,
    domain: old.domain,
    plist: old.plist,
    nodeId: old.nodeId,
    version,
    issuedAt: now,
    expiresAt: now + validity,
    keyId,
  };
}
