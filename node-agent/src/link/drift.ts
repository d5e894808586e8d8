/**
 * Drift detection for managed jobs. Drift is anything that makes the system differ from the
 * verified desired state behind the reconciler's back:
 *
 * - `plist-changed`: a managed plist was edited, replaced or deleted on disk. Detected by a
 *   watch (FileSystemPort.watch) on each managed domain directory, confirmed by digest.
 * - `job-unloaded`: a managed job was booted out by hand. Detected by the runner's removal
 *   (`whenRemoved`) of a job the reconciler still wants, confirmed by the level check.
 * - `job-disabled`: a managed job was disabled by hand (override); seen by the level check.
 *
 * This module only *notices* (it asks the reconciler for a pass) and counts; the reconciler's
 * level-based plan decides whether something really drifted and repairs it. A periodic pass
 * (`resyncMs`) covers anything a watch missed (inotify drops events on overflow).
 */
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import type { Disposable, FileSystemPort } from '../ports/file-system.ts';
import type { JobRunner } from '../supervisor/job-runner.ts';
import type { DriftKind } from './core/reconcile-plan.ts';

export interface DriftDetectorOptions {
  readonly fs: FileSystemPort;
  readonly scheduler: Scheduler;
  /** Level check period; 0 disables. */
  readonly resyncMs: number;
  /** Something may have drifted: run a reconcile pass. */
  readonly onSuspect: (why: string) => void;
}

export class DriftDetector {
  readonly #o: DriftDetectorOptions;
  readonly #watches = new Map<string, Disposable>();
  readonly #runners = new WeakSet<JobRunner>();
  readonly #counts = new Map<DriftKind, number>();
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(o: DriftDetectorOptions) {
    this.#o = o;
  }

  /** Starts the periodic level check. */
  start(): void {
    this.#arm();
  }

  /** Keeps one directory watch per managed domain directory in `dirs` (and only those). */
  watchDirs(dirs: Iterable<string>): void {
    if (this.#stopped) return;
    const want = new Set(dirs);
    for (const [d, w] of this.#watches)
      if (!want.has(d)) {
        w.dispose();
        this.#watches.delete(d);
      }
    for (const d of want)
      if (!this.#watches.has(d))
        this.#watches.set(
          d,
          this.#o.fs.watch(d, () => this.#o.onSuspect(`managed directory changed: ${d}`)),
        );
  }

  /** Asks for a pass when this runner (a job the reconciler loaded) is removed from its domain. */
  watchRunner(r: JobRunner): void {
    if (this.#runners.has(r)) return;
    this.#runners.add(r);
    void r.whenRemoved().then(() => {
      if (!this.#stopped) this.#o.onSuspect(`job removed: ${r.label}`);
    });
  }

  /** Counts one repaired drift. */
  count(kind: DriftKind): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
  }

  /** Drift repaired so far, by kind. */
  counts(): Record<DriftKind, number> {
    return {
      'plist-changed': this.#counts.get('plist-changed') ?? 0,
      'job-unloaded': this.#counts.get('job-unloaded') ?? 0,
      'job-disabled': this.#counts.get('job-disabled') ?? 0,
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    for (const w of this.#watches.values()) w.dispose();
    this.#watches.clear();
  }

  #arm(): void {
    if (this.#stopped || this.#o.resyncMs <= 0) return;
    this.#timer = this.#o.scheduler.after(this.#o.resyncMs, () => {
      this.#o.onSuspect('periodic level check');
      this.#arm();
    });
  }
}
