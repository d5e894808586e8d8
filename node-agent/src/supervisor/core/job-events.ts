/**
 * Everything that can happen to a job, as input to the machine (`step`). The runtime turns port
 * callbacks (process exits, timers, watches) and control requests (bootstrap, kickstart...) into
 * these; the machine never learns about the world any other way. Sections (§) are those of
 * docs/launchd-semantics.md.
 */
import type { ObservedConditions } from './job-state.ts';

/** The kinds of demand sources and timers that can fire (§2.2). */
export type TriggerKind =
  /** StartInterval: a start_pending source. */
  | 'interval'
  /** StartCalendarInterval: a start_pending source (already coalesced by the runtime). */
  | 'calendar'
  /** WatchPaths: a start_pending source. */
  | 'watch-path'
  /** QueueDirectories changed: a condition; the event carries the re-listed state. */
  | 'queue-dir'
  /** A readable listening socket: a kickstart source (socket activation hook). */
  | 'socket'
  /** KeepAlive.PathState changed: a condition. */
  | 'path-state'
  /** OtherJobEnabled/OtherJobActive changed: a condition. */
  | 'other-job'
  /** StartOnMount: a start_pending source. */
  | 'mount';

/** Timers the machine asks for (at most one is armed at a time: they belong to exclusive sub-states). */
export type TimerId =
  /** Releases a spawn-scheduled job (the throttle). */
  | 'throttle'
  /** ExitTimeOut after SIGTERM: escalate to SIGKILL. */
  | 'exit-timeout'
  /** Grace after SIGKILL: simulate the exit (LAUNCHD_SIGKILL_TIMER). */
  | 'kill-grace';

export type JobEvent =
  /** The job was bootstrapped into its domain. `disabled` is the override database's verdict. */
  | { readonly type: 'load'; readonly disabled: boolean; readonly observed?: ObservedConditions }
  /** bootout / unload / remove / domain teardown: stop if running, then remove. */
  | { readonly type: 'unload' }
  /** kickstart (modern) or start (legacy, `kill` false): run now regardless of KeepAlive, subject to the throttle. */
  | { readonly type: 'kickstart'; readonly kill: boolean }
  /** Legacy `launchctl stop`: SIGTERM, then SIGKILL after ExitTimeOut; KeepAlive re-evaluated after the exit. */
  | { readonly type: 'stop' }
  /** `launchctl kill <sig>`: a plain kill(2); not marked as our stop, so SIGSEGV sent this way is a crash. */
  | { readonly type: 'kill-signal'; readonly signal: string }
  /** A demand source or timer fired. Condition kinds carry the freshly observed snapshot. */
  | { readonly type: 'trigger'; readonly kind: TriggerKind; readonly observed?: ObservedConditions }
  /** The observed KeepAlive facts changed (path appeared, other job loaded...). */
  | { readonly type: 'condition-changed'; readonly observed: ObservedConditions }
  /**
   * The spawn effect produced a running program; `adopted`: instead of a new process, the one the
   * previous agent left running for this job (a detach) was taken over (docs/upgrades.md).
   */
  | { readonly type: 'spawned'; readonly pid: number; readonly adopted?: boolean }
  /** The spawn effect failed before exec (bad user, missing program, unopenable stdout...). */
  | {
      readonly type: 'spawn-failed';
      readonly stage: string;
      readonly errno: string;
      readonly exitStatus: number;
      readonly message: string;
    }
  /**
   * The process was reaped. Exactly one of `code`/`signal`, or neither for an adopted process
   * (not our child: it is gone, its wait status went to init). `observed` is the snapshot the runtime
   * re-read after the exit (PathState stat, QueueDirectories re-list), as launchd re-checks them.
   */
  | {
      readonly type: 'exited';
      readonly pid: number;
      readonly code: number | null;
      readonly signal: string | null;
      readonly observed?: ObservedConditions;
    }
  /** A timer the machine started has fired. */
  | { readonly type: 'timer-fired'; readonly timer: TimerId }
  /** The override database changed for this label (§2.6). */
  | { readonly type: 'enable' }
  | { readonly type: 'disable' };

export type JobEventType = JobEvent['type'];
