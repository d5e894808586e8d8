/**
 * Facts a job runner reports to observers (metrics, the controller link) at the moment they
 * happen. The status snapshot (`job-status.ts`) shows where a job is; these say what happened
 * in between two looks at it, so counters count events instead of being recomputed from state.
 * Observers must be cheap and must not throw: they run inside the runner's event loop.
 */
import type { ExitResult, ExitStatus, ImmediateReason } from './core/job-state.ts';

export type JobRunnerEvent =
  /**
   * A run ended: a reaped process, a simulated exit after SIGKILL, or a spawn that failed before
   * exec (result `spawn-failed`; `status` then holds the code launchd records). Exactly one per
   * increment of the job's `runs`, reported before the effects of that step run.
   */
  | {
      readonly type: 'exited';
      readonly status: ExitStatus;
      /** How this run ended, in the fleet's vocabulary (crash, stopped by us, spawn-failed, ...). */
      readonly result: ExitResult;
    }
  /** The spawner reported the exec; `latencyMs` runs from the machine's spawn decision to it. */
  | { readonly type: 'spawned'; readonly reason: ImmediateReason | undefined; readonly latencyMs: number }
  /** A StartInterval or StartCalendarInterval firing was delivered `lagMs` after its scheduled time. */
  | { readonly type: 'timer-fired'; readonly source: 'interval' | 'calendar'; readonly lagMs: number }
  /** The job left its domain (bootout finished, LaunchOnlyOnce done, teardown). Its last event. */
  | { readonly type: 'removed'; readonly why: string };

/** An observer of every job of every domain: (domain target, label, event). */
export type JobEventListener = (domain: string, label: string, event: JobRunnerEvent) => void;
