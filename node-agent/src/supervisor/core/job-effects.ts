/**
 * What the machine asks the runtime to do. The runtime (`../job-runner.ts`) is the only code that
 * carries them out through the ports, with the trigger adapters of `../triggers/` for the sources
 * (demand-sources.ts, standing-sources.ts); the machine itself does nothing. Sections (§) are those of
 * docs/launchd-semantics.md.
 */
import type { ImmediateReason } from './job-state.ts';
import type { TimerId } from './job-events.ts';

/** Demand sources armed only while the job waits with no process (§2.1 `job_watch`/`job_ignore`). */
export type DemandSourceKind =
  /** WatchPaths watches (armed only while not running, as in 10.6 launchd). */
  | 'watch-path'
  /** QueueDirectories watches (re-list on change). */
  | 'queue-dir'
  /** Listening sockets of on-demand jobs (socket activation: `../sockets/`, armed by demand-sources.ts). */
  | 'socket';

/** Sources that run from load to removal whatever the state ("Timers always run"; conditions are always observed). */
export type StandingSourceKind = 'interval' | 'calendar' | 'path-state' | 'other-job';

export type JobEffect =
  /** Start the job's process. The runtime builds the SpawnRequest from the JobSpec. */
  | { readonly type: 'spawn'; readonly reason: ImmediateReason }
  /** kill(pid, signal). */
  | { readonly type: 'signal'; readonly pid: number; readonly signal: string }
  /** kill(-pgid, signal): the job's process group after the main process exited (§2.4 step 2). */
  | { readonly type: 'signal-group'; readonly pgid: number; readonly signal: string }
  | { readonly type: 'start-timer'; readonly timer: TimerId; readonly ms: number }
  | { readonly type: 'cancel-timer'; readonly timer: TimerId }
  /** Arm (job_watch) or disarm (job_ignore) on-demand sources. */
  | { readonly type: 'arm-demand'; readonly sources: readonly DemandSourceKind[] }
  | { readonly type: 'disarm-demand'; readonly sources: readonly DemandSourceKind[] }
  /** Start or stop the standing sources (at load and at removal). */
  | { readonly type: 'arm-standing'; readonly sources: readonly StandingSourceKind[] }
  | { readonly type: 'disarm-standing'; readonly sources: readonly StandingSourceKind[] }
  /** Write the job's status record (crash counters survive an agent restart if the runtime keeps them). */
  | { readonly type: 'persist-status' }
  /** Tell observers (print, metrics, the controller link, other jobs' OtherJob* conditions) the state changed. */
  | { readonly type: 'emit-status' }
  /** Drop the job from its domain. Terminal. */
  | { readonly type: 'remove-job'; readonly why: string }
  /** A log line. `can't happen` cells log at `error` instead of throwing (s6). */
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string };

export type JobEffectType = JobEffect['type'];
