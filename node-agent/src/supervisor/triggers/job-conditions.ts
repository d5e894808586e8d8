/**
 * Reads the KeepAlive facts the machine cannot see (docs/launchd-semantics.md "KeepAlive"):
 * does each PathState path exist, does a QueueDirectory hold an entry (re-listed, never
 * counted), is each OtherJob* label loaded / running in the domain. The runner reads them at
 * load and after each exit; the trigger adapters when a watch fires.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { FileSystemPort } from '../../ports/file-system.ts';
import type { ObservedConditions } from '../core/job-state.ts';
import type { RunnerDomain } from '../runner-ports.ts';

export class JobConditions {
  readonly #spec: JobSpec;
  readonly #fs: FileSystemPort;
  readonly #otherJob: RunnerDomain['otherJob'];

  constructor(spec: JobSpec, fs: FileSystemPort, otherJob: RunnerDomain['otherJob']) {
    this.#spec = spec;
    this.#fs = fs;
    this.#otherJob = otherJob;
  }

  /** Every condition, read now, over `base` (the conditions the machine last saw). */
  async observe(base: ObservedConditions): Promise<ObservedConditions> {
    const pathExists = new Map<string, boolean>();
    for (const p of this.#spec.keepAlive.pathState.keys())
      pathExists.set(p, await this.#fs.exists(p).catch(() => false));
    const queueNonEmpty = await this.queueNonEmpty();
    return this.otherJobs({ ...base, pathExists, queueNonEmpty });
  }

  /** Does any QueueDirectory hold an entry? An unreadable directory counts as empty. */
  async queueNonEmpty(): Promise<boolean> {
    const r = await Promise.all(
      this.#spec.queueDirectories.map((d) => this.#fs.dirHasEntries(d).catch(() => false)),
    );
    return r.some(Boolean);
  }

  /** OtherJobEnabled / OtherJobActive, read from the domain now, over `base`. */
  otherJobs(base: ObservedConditions): ObservedConditions {
    const ka = this.#spec.keepAlive;
    const loaded = new Map<string, boolean>();
    const active = new Map<string, boolean>();
    for (const l of new Set([...ka.otherJobEnabled.keys(), ...ka.otherJobActive.keys()])) {
      const o = this.#otherJob(l);
      loaded.set(l, o.loaded);
      active.set(l, o.active);
    }
    return { ...base, otherJobLoaded: loaded, otherJobActive: active };
  }
}

export function sameMap<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
