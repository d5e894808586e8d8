/**
 * The job's demand sources (launchd's `*_watch` / `*_ignore`): WatchPaths, QueueDirectories and
 * on-demand sockets, armed only while the job is idle. Each firing is one `trigger` event; the
 * machine decides what it means.
 */
import { messageOf } from '@launchfleet/shared/errors';
import type { Disposable } from '../../ports/file-system.ts';
import type { DemandSourceKind } from '../core/job-effects.ts';
import type { JobConditions } from './job-conditions.ts';
import type { TriggerTarget } from './trigger-target.ts';

export class DemandSources {
  readonly #t: TriggerTarget;
  readonly #conditions: JobConditions;
  /** The watches of each armed kind. Invariant: a kind is present iff it holds at least one watch. */
  readonly #armed = new Map<DemandSourceKind, Disposable[]>();

  constructor(target: TriggerTarget, conditions: JobConditions) {
    this.#t = target;
    this.#conditions = conditions;
  }

  /** The kinds armed now (print's `armed`). */
  armed(): DemandSourceKind[] {
    return [...this.#armed.keys()];
  }

  arm(kind: DemandSourceKind): void {
    const t = this.#t;
    if (this.#armed.has(kind) || t.removed()) return;
    const { fs } = t.ports;
    const ds: Disposable[] = [];
    switch (kind) {
      case 'watch-path':
        for (const p of t.spec.watchPaths)
          ds.push(fs.watch(p, () => t.send({ type: 'trigger', kind: 'watch-path' })));
        break;
      case 'queue-dir':
        if (t.spec.queueDirectories.length === 0) break;
        for (const p of t.spec.queueDirectories) ds.push(fs.watch(p, () => this.#relistQueues()));
        // The directory may already hold work: re-list now.
        this.#relistQueues();
        break;
      case 'socket':
        if (t.spec.sockets.length > 0 && t.domain.sockets)
          ds.push(t.domain.sockets.arm(t.spec, () => t.send({ type: 'trigger', kind: 'socket' })));
        break;
      default: {
        const never: never = kind;
        t.log('error', t.spec.label, `can't happen: demand source ${String(never)}`);
      }
    }
    if (ds.length > 0) this.#armed.set(kind, ds);
  }

  disarm(kind: DemandSourceKind): void {
    for (const d of this.#armed.get(kind) ?? []) d.dispose();
    this.#armed.delete(kind);
  }

  disarmAll(): void {
    for (const k of [...this.#armed.keys()]) this.disarm(k);
  }

  #relistQueues(): void {
    const t = this.#t;
    this.#conditions.queueNonEmpty().then(
      (nonEmpty) => {
        const observed = t.observed();
        if (t.removed() || nonEmpty === observed.queueNonEmpty) return;
        t.send({ type: 'trigger', kind: 'queue-dir', observed: { ...observed, queueNonEmpty: nonEmpty } });
      },
      (err: unknown) => t.log('warn', t.spec.label, `re-listing QueueDirectories failed: ${messageOf(err)}`),
    );
  }
}
