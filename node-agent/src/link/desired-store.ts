/**
 * The last verified desired state, persisted in the state directory so that an agent that
 * starts while NATS is unreachable keeps running what it last verified:
 *
 * ```
 * <stateDir>/desired.json   { v: 1, revision, jobs: [{ raw, acceptedAt }], applied: {label: AppliedVersion} }   0600
 * ```
 * Each entry is the signed bundle exactly as it came off the wire. At start every entry is
 * verified again (signature, node, label) against the persisted trust store, *as of the time it
 * was accepted* (`acceptedAt`): expiry bounds when a bundle may be accepted, not how long a
 * verified job may run offline. A tampered entry is dropped and reported. `applied` keeps the
 * version history per label, including labels since removed, so a replay of an old bundle is
 * still refused after a restart.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRecord } from '@launchfleet/shared/messages';
import {
  type AppliedVersion,
  type JobBundle,
  type TrustStore,
  verifyBundle,
} from '@launchfleet/shared/signing';
import type { FileSystemPort } from '../ports/file-system.ts';
import { rawDigestOf } from './desired-watch.ts';

/** One persisted, verified bundle. */
export interface StoredBundle {
  readonly raw: string;
  /** Wall ms when the agent accepted it. */
  readonly acceptedAt: number;
}

/** A bundle re-verified from the store. */
export interface LoadedBundle extends StoredBundle {
  readonly bundle: JobBundle;
  readonly rawDigest: string;
}

/** What `load` returns. */
export interface DesiredStoreContent {
  readonly bundles: LoadedBundle[];
  readonly applied: Map<string, AppliedVersion>;
  readonly revision: number;
  /** Entries dropped because they no longer verify (with why). */
  readonly dropped: { readonly label?: string; readonly reason: string; readonly detail: string }[];
}

export const desiredStateFile = 'desired.json';

/** Caps what a corrupt or hostile file can make us hold. */
const maxFileBytes = 64 * 1024 * 1024;

export class DesiredStore {
  readonly #path: string;
  readonly #fs: FileSystemPort;

  constructor(stateDir: string, fs: FileSystemPort) {
    this.#path = join(stateDir, desiredStateFile);
    this.#fs = fs;
  }

  get path(): string {
    return this.#path;
  }

  /** Reads and re-verifies the stored state; a missing or unreadable file is an empty state. */
  async load(trust: TrustStore | undefined, nodeId: string): Promise<DesiredStoreContent> {
    const empty: DesiredStoreContent = { bundles: [], applied: new Map(), revision: 0, dropped: [] };
    let text: string;
    try {
      const buf = await readFile(this.#path);
      if (buf.byteLength > maxFileBytes)
        return { ...empty, dropped: [{ reason: 'oversized', detail: `${this.#path} is too large` }] };
      text = buf.toString('utf8');
    } catch {
      return empty;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return { ...empty, dropped: [{ reason: 'malformed', detail: `${this.#path} is not JSON` }] };
    }
    if (!isRecord(doc) || doc['v'] !== 1 || !Array.isArray(doc['jobs']))
      return { ...empty, dropped: [{ reason: 'malformed', detail: `${this.#path} is not a v1 state file` }] };
    const applied = new Map<string, AppliedVersion>();
    if (isRecord(doc['applied']))
      for (const [label, a] of Object.entries(doc['applied'])) {
        if (!isRecord(a) || typeof a['version'] !== 'number' || typeof a['digest'] !== 'string') continue;
        const sup = Array.isArray(a['superseded'])
          ? a['superseded'].filter((x): x is string => typeof x === 'string').slice(-16)
          : [];
        applied.set(label, { version: a['version'], digest: a['digest'], superseded: sup });
      }
    const bundles: LoadedBundle[] = [];
    const dropped: DesiredStoreContent['dropped'][number][] = [];
    for (const j of doc['jobs'] as unknown[]) {
      if (!isRecord(j) || typeof j['raw'] !== 'string' || typeof j['acceptedAt'] !== 'number') {
        dropped.push({ reason: 'malformed', detail: 'a stored entry has no raw bundle' });
        continue;
      }
      if (trust === undefined) {
        const l = unverifiedLabel(j['raw']);
        dropped.push({
          ...(l !== undefined && { label: l }),
          reason: 'unknown-key',
          detail: 'no trust store to verify stored bundles',
        });
        continue;
      }
      const r = verifyBundle(j['raw'], trust, { now: j['acceptedAt'], nodeId });
      if (!r.ok) {
        dropped.push({
          ...(r.label !== undefined && { label: r.label }),
          reason: r.reason,
          detail: `stored bundle: ${r.detail}`,
        });
        continue;
      }
      bundles.push({
        raw: j['raw'],
        acceptedAt: j['acceptedAt'],
        bundle: r.bundle,
        rawDigest: rawDigestOf(j['raw']),
      });
    }
    const revision = typeof doc['revision'] === 'number' ? doc['revision'] : 0;
    return { bundles, applied, revision, dropped };
  }

  /** Replaces the stored state atomically (0600: it names every job this node runs). */
  async save(
    bundles: Iterable<StoredBundle>,
    applied: ReadonlyMap<string, AppliedVersion>,
    revision: number,
  ): Promise<void> {
    const doc = {
      v: 1,
      revision,
      jobs: [...bundles].map((b) => ({ raw: b.raw, acceptedAt: b.acceptedAt })),
      applied: Object.fromEntries(applied),
    };
    await this.#fs.writeFileAtomic(this.#path, JSON.stringify(doc), 0o600);
  }
}

/**
 * The label a stored bundle names, read without verifying it: only to say which job a dropped
 * entry was (and to take that job again once the desired state delivers it verified).
 */
function unverifiedLabel(raw: string): string | undefined {
  try {
    const doc: unknown = JSON.parse(raw);
    const b = isRecord(doc) ? doc['bundle'] : undefined;
    const l = isRecord(b) ? b['label'] : undefined;
    return typeof l === 'string' && l.length <= 255 ? l : undefined;
  } catch {
    return undefined;
  }
}
