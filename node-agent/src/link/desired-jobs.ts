/**
 * The verified desired jobs the reconciler drives the supervisor to, and their persistence: what
 * the watch delivered (bundles, removals, the desired-state revision, the applied versions that
 * seed its replay protection), restored from the state directory at start and saved after
 * every change. Each bundle's plist is checked once, on arrival, so a broken one is reported
 * once and the version before it keeps running.
 *
 * No supervisor here: reconciler.ts reads these entries on each pass and acts on them.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import { messageOf } from '@launchfleet/shared/errors';
import type { NodeEvent } from '@launchfleet/shared/messages';
import type { AppliedVersion, JobBundle, TrustStore } from '@launchfleet/shared/signing';
import type { Domain } from '../supervisor/domains/domain.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import type { BundleMeta } from './desired-watch.ts';
import type { DesiredStore, LoadedBundle } from './desired-store.ts';
import { plistDigest } from './managed-files.ts';

/** One verified desired job and what the agent made of its plist. */
export interface DesiredEntry {
  readonly bundle: JobBundle;
  readonly raw: string;
  readonly rawDigest: string;
  readonly acceptedAt: number;
  readonly plistDigest: string;
  /** Why the plist does not make a loadable job, if it does not. */
  readonly invalid?: string;
}

export interface DesiredJobsOptions {
  readonly store: DesiredStore;
  readonly loader: PlistLoader;
  readonly log: SupervisorLog;
  readonly wallMs: () => number;
  readonly emit: (e: Omit<NodeEvent, 'source'>) => void;
}

/** The plist of `d` as the spec a domain of `kind` would bootstrap, or why it is not one. */
export function parseDesired(
  loader: PlistLoader,
  d: DesiredEntry,
  kind: Domain['kind'],
  path: string,
): { ok: true; value: JobSpec } | { ok: false; error: string } {
  let result;
  try {
    result = loader(new TextEncoder().encode(d.bundle.plist), { path, domain: kind });
  } catch (e) {
    return { ok: false, error: `the plist could not be read: ${messageOf(e)}` };
  }
  if (!result.spec) {
    const errors = result.issues.filter((i) => i.severity === 'error');
    return {
      ok: false,
      error: errors.map((i) => `${i.keyPath || '(root)'}: ${i.message}`).join('; ') || 'no job in the plist',
    };
  }
  if (result.spec.label !== d.bundle.label)
    return {
      ok: false,
      error: `the plist's Label ${JSON.stringify(result.spec.label)} is not the bundle's ${JSON.stringify(d.bundle.label)}`,
    };
  return { ok: true, value: result.spec };
}

export class DesiredJobs {
  readonly #o: DesiredJobsOptions;
  readonly #desired = new Map<string, DesiredEntry>();
  #applied = new Map<string, AppliedVersion>();
  #revision = 0;
  #saving: Promise<void> = Promise.resolve();
  /** The last save failed: saved again on the next pass (the disk may have room again). */
  #unsaved = false;
  readonly #unheld = new Set<string>();

  constructor(o: DesiredJobsOptions) {
    this.#o = o;
  }

  /** Loads the last verified state from the state directory (at start, before any network). */
  async restore(trust: TrustStore | undefined, nodeId: string): Promise<void> {
    const c = await this.#o.store.load(trust, nodeId);
    this.#applied = c.applied;
    this.#revision = c.revision;
    for (const d of c.dropped) {
      this.#o.log(
        'warn',
        'link',
        `stored desired state: dropped ${d.label ?? 'an entry'}: ${d.reason}: ${d.detail}`,
      );
      this.#o.emit({
        kind: 'bundle-refused',
        reason: d.reason,
        detail: d.detail,
        ...(d.label !== undefined && { label: d.label }),
      });
    }
    for (const b of c.bundles) this.#setDesired(b);
    for (const d of c.dropped)
      if (d.label !== undefined && !this.#desired.has(d.label)) this.#unheld.add(d.label);
    this.#o.log(
      'info',
      'link',
      `restored ${c.bundles.length} verified desired jobs (revision ${c.revision})`,
    );
  }

  /** Applied versions per label (seeds the watch's replay protection). */
  get applied(): ReadonlyMap<string, AppliedVersion> {
    return this.#applied;
  }

  /**
   * Labels whose stored bundle was dropped at restore (it did not verify, or there was no trust
   * store to verify it with): their applied version is known but not held, so the desired
   * state delivering that same version, verified, is taken again rather than ignored as a
   * re-delivery. A removed job is not here: its bundle is gone, not unheld.
   */
  get unheld(): ReadonlySet<string> {
    return this.#unheld;
  }

  /** Wire digests of the bundles in force, per label (seeds the watch's re-delivery check). */
  appliedRaw(): Map<string, string> {
    return new Map([...this.#desired].map(([l, d]) => [l, d.rawDigest]));
  }

  /** The highest desired-state revision taken into account. */
  get revision(): number {
    return this.#revision;
  }

  /** A verified, new bundle from the watch: held and saved. */
  accept(bundle: JobBundle, meta: BundleMeta): void {
    const prev = this.#applied.get(bundle.label);
    const superseded =
      prev && prev.digest !== meta.digest
        ? [...(prev.superseded ?? []), prev.digest].slice(-16)
        : (prev?.superseded ?? []);
    this.#applied.set(bundle.label, { version: bundle.version, digest: meta.digest, superseded });
    this.#unheld.delete(bundle.label);
    this.#revision = Math.max(this.#revision, meta.revision);
    this.#setDesired({ bundle, raw: meta.raw, rawDigest: meta.rawDigest, acceptedAt: this.#o.wallMs() });
    this.#persist();
  }

  /** The controller removed a label's desired state. True when it was held (and the removal saved). */
  remove(label: string, revision: number): boolean {
    this.#revision = Math.max(this.#revision, revision);
    this.#unheld.delete(label); // removed now: its last bundle put again is a replay
    if (!this.#desired.delete(label)) return false;
    this.#persist();
    return true;
  }

  get(label: string): DesiredEntry | undefined {
    return this.#desired.get(label);
  }

  has(label: string): boolean {
    return this.#desired.has(label);
  }

  values(): IterableIterator<DesiredEntry> {
    return this.#desired.values();
  }

  /** Labels the controller wants but whose plist cannot be loaded, with why. */
  invalidJobs(): { label: string; domain: string; version: number; reason: string }[] {
    return [...this.#desired.values()]
      .filter((d) => d.invalid !== undefined)
      .map((d) => ({
        label: d.bundle.label,
        domain: d.bundle.domain,
        version: d.bundle.version,
        reason: 'invalid-plist',
      }));
  }

  /** Desired jobs (label -> version). */
  desiredVersions(): Map<string, number> {
    return new Map([...this.#desired].map(([l, d]) => [l, d.bundle.version]));
  }

  /** Saves again if the last save failed (called on each pass). */
  persistIfUnsaved(): void {
    if (this.#unsaved) this.#persist();
  }

  /** Resolves when the saves asked for so far are done (or failed). */
  saved(): Promise<void> {
    return this.#saving;
  }

  #setDesired(b: LoadedBundle | (Omit<LoadedBundle, 'bundle'> & { bundle: JobBundle })): void {
    const kind =
      b.bundle.domain === 'system' ? 'system' : b.bundle.domain.startsWith('gui/') ? 'gui' : 'user';
    const entry: DesiredEntry = {
      bundle: b.bundle,
      raw: b.raw,
      rawDigest: b.rawDigest,
      acceptedAt: b.acceptedAt,
      plistDigest: plistDigest(b.bundle.plist),
    };
    // Checked once on arrival, so a broken bundle is reported once and the old version keeps running.
    const parsed = parseDesired(this.#o.loader, entry, kind, `${b.bundle.label}.plist`);
    const invalid = parsed.ok ? undefined : parsed.error;
    this.#desired.set(b.bundle.label, invalid === undefined ? entry : { ...entry, invalid });
    if (invalid !== undefined) {
      this.#o.log('warn', b.bundle.label, `version ${b.bundle.version} cannot be loaded: ${invalid}`);
      this.#o.emit({
        kind: 'load-failed',
        label: b.bundle.label,
        domain: b.bundle.domain,
        version: b.bundle.version,
        reason: 'invalid-plist',
        detail: invalid,
      });
    }
  }

  #persist(): void {
    const bundles = [...this.#desired.values()].map((d) => ({ raw: d.raw, acceptedAt: d.acceptedAt }));
    const applied = new Map(this.#applied);
    const revision = this.#revision;
    const retry = this.#unsaved;
    this.#saving = this.#saving
      .then(() => this.#o.store.save(bundles, applied, revision))
      .then(() => {
        if (this.#unsaved)
          this.#o.log('info', 'link', `desired state persisted again (${this.#o.store.path})`);
        this.#unsaved = false;
      })
      .catch((e: unknown) => {
        this.#unsaved = true;
        // Once per outage at error level; the retries (one per pass) at debug.
        this.#o.log(
          retry ? 'debug' : 'error',
          'link',
          `cannot persist the desired state to ${this.#o.store.path} (kept in memory, retried on each pass): ${messageOf(e)}`,
        );
      });
  }
}
