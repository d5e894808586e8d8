/**
 * Applies a rollout's `set-desired` actions: one signed bundle per node in `lf_desired`
 * (`<nodeId>.<labelToken>`), written with compare-and-set and never over a bundle of a higher
 * version (as desired/desired-state-service.ts does for `jobs apply`).
 *
 * `ensure` is idempotent by level: it reads the node's key first and writes nothing when the
 * key already carries the wanted content (this is how a restarted driver repairs a write lost
 * between "state stored" and "action applied" without ever writing a node twice).
 *
 * - Forward (rollout, converge): the bundle number IS the content version allocated when the
 *   rollout was created.
 * - Rollback: the old content under a new, higher number (job-versions.ts), allocated once per
 *   rollout and content version and shared by every node set back to it.
 * - `null`: the node had no version before: the key is deleted (the agent unloads the job).
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { type Clock, ConflictError, FailedPreconditionError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import {
  type SigningKey,
  encodeSignedBundle,
  parseSignedBundle,
  signBundle,
} from '@launchfleet/shared/signing';
import type { RolloutSpec, SetReason, Version } from './core/index.ts';
import type { JobVersion, JobVersions } from './job-versions.ts';
import type { DesiredIndex } from '../desired/desired-index.ts';
import { isWrongRevision } from './kv-cas.ts';

/** What a node's desired key holds, in content terms. */
export interface DesiredSlot {
  /** The content version (a string, as the core speaks), or null when the key is absent/deleted. */
  readonly content: Version;
  /** The bundle number stored; 0 when none. */
  readonly bundleVersion: number;
  /** The KV revision of the entry (put or delete); 0 when the key never existed. */
  readonly revision: number;
}

export type EnsureOutcome = 'written' | 'removed' | 'already' | 'superseded';

export interface RolloutApplierDeps {
  readonly desired: KV;
  /** Every write of a node's key goes through it (desired/desired-index.ts). */
  readonly index: DesiredIndex;
  readonly versions: JobVersions;
  readonly signingKey: () => SigningKey;
  readonly clock: Clock;
  /** Validity of the bundles signed; default 30 days. */
  readonly validityMs?: number;
  /** Who signs (recorded on rollback version entries). */
  readonly by: string;
}

const casAttempts = 8;

export class RolloutApplier {
  readonly #d: RolloutApplierDeps;
  /** Rollback numbers already allocated: `<rolloutId>/<content>` -> version entry. */
  readonly #rollbackVersions = new Map<string, Promise<JobVersion>>();
  /** Bundle writes and deletes done (metrics, tests). */
  writes = 0;

  constructor(d: RolloutApplierDeps) {
    this.#d = d;
  }

  /** The node's desired slot for the label. */
  async slot(nodeId: string, label: string): Promise<DesiredSlot> {
    const e = await this.#d.desired.get(keys.desired(nodeId, label));
    return this.#slotOf(label, e);
  }

  async #slotOf(label: string, e: KvEntry | null): Promise<DesiredSlot> {
    if (!e) return { content: null, bundleVersion: 0, revision: 0 };
    if (e.operation !== 'PUT') return { content: null, bundleVersion: 0, revision: e.revision };
    const p = parseSignedBundle(e.value);
    if (!p.ok) return { content: null, bundleVersion: 0, revision: e.revision };
    const b = p.signed.bundle;
    // A bundle written by `jobs apply` before any rollout: remember its plist, so a rollback can re-sign it.
    const known = await this.#d.versions.remember({
      label: b.label,
      domain: b.domain,
      plist: b.plist,
      version: b.version,
      createdAt: b.issuedAt,
      createdBy: 'observed',
    });
    return { content: String(known.sameAs), bundleVersion: b.version, revision: e.revision };
  }

  /** Makes the node's key carry `version` (content) for the rollout's label. */
  async ensure(
    spec: RolloutSpec,
    nodeId: string,
    version: Version,
    reason: SetReason,
  ): Promise<EnsureOutcome> {
    const key = keys.desired(nodeId, spec.label);
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const e = await this.#d.desired.get(key);
      const slot = await this.#slotOf(spec.label, e);
      if (slot.content === version) return 'already';
      const live = e !== null && e.operation === 'PUT';
      try {
        if (version === null) {
          if (!live) return 'already';
          await this.#d.index.deleteKey(nodeId, spec.label, e);
          this.writes++;
          return 'removed';
        }
        const entry = await this.#bundleFor(spec, Number(version), reason);
        if (slot.bundleVersion > entry.version) return 'superseded';
        const now = this.#d.clock.wallMs();
        const key0 = this.#d.signingKey();
        const signed = signBundle(
          {
            label: spec.label,
            domain: entry.domain,
            plist: entry.plist,
            version: entry.version,
            issuedAt: now,
            expiresAt: now + (this.#d.validityMs ?? 30 * 24 * 3600_000),
            keyId: key0.keyId,
            nodeId,
          },
          key0,
        );
        await this.#d.index.writeKey(nodeId, spec.label, encodeSignedBundle(signed), e);
        this.writes++;
        return 'written';
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
    }
    throw new ConflictError(`${key} is being written concurrently`);
  }

  /** The version entry to sign for `content`: itself going forward, a fresh re-sign going back. */
  async #bundleFor(spec: RolloutSpec, content: number, reason: SetReason): Promise<JobVersion> {
    const base = await this.#d.versions.get(spec.label, content);
    if (!base)
      throw new FailedPreconditionError(
        `${spec.label} version ${content} has no recorded plist (lf_versions); it cannot be signed again`,
      );
    if (reason !== 'rollback') return base;
    const k = `${spec.rolloutId}/${content}`;
    let p = this.#rollbackVersions.get(k);
    if (!p) {
      p = this.#d.versions.allocate({
        label: spec.label,
        domain: base.domain,
        plist: base.plist,
        sameAs: base.sameAs,
        target: { kind: 'nodes', names: [...spec.targetNodes] },
        nodeIds: [],
        at: this.#d.clock.wallMs(),
        by: this.#d.by,
      });
      this.#rollbackVersions.set(k, p);
      p.catch(() => this.#rollbackVersions.delete(k));
    }
    return p;
  }
}
