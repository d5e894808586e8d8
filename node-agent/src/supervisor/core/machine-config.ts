/**
 * The supervisor's choices where launchd versions disagree (docs/launchd-semantics.md §7), and
 * its tunables. Every field names the disagreement it settles. `machineConfig('842')` gives
 * launchd-842 fidelity (the default, as the agent config's `flavor`), `machineConfig('modern')`
 * the behaviour measured on current macOS.
 */

/** What a ThrottleInterval of 0 means (§7 D2). */
export type ZeroThrottlePolicy =
  /** 842: honoured, no throttle at all. */
  | 'honour'
  /** Modern: "You're not that important. Ignoring." The default interval applies. */
  | 'ignore';

/** What happens to a start_pending trigger (interval, calendar, watch path) that fires during a run (§7 D4). */
export type TriggerWhileRunningPolicy =
  /** 842: start_pending survives the run, so exactly one re-run follows the exit. */
  | 'queue-one'
  /** Modern man page: the firing is missed. */
  | 'drop';

/** StartInterval firings that fell while the machine slept (§7 D4). */
export type IntervalDuringSleepPolicy =
  /** 842 man page: missed firings are coalesced into one at wake. */
  | 'coalesce'
  /** Modern man page: they are missed; the next firing keeps its spacing in awake time. */
  | 'miss';

/**
 * A StandardOut/ErrorPath that cannot be opened (§7 D11). The real spawner takes it as its
 * `stdioOpenFailure` option (the same two values); the composition root passes this field there.
 */
export type StdioOpenFailurePolicy =
  /** 842: log a warning and exec with the stream left on /dev/null. */
  | 'warn'
  /** Modern: refuse to spawn; the job records 78 (EX_CONFIG). */
  | 'refuse';

/**
 * What `launchctl list` shows in the Status column of a RUNNING job (docs/launchd-semantics.md §2.4). A job
 * that is not running shows its last exit status (the code, or minus the signal), 0 before any exit, in both:
 * launchd keeps last_exit_status from load (842 job_export always exports it).
 */
export type ListStatusWhileRunning =
  /** 842 (launchctl.c print_jobs): `-` while a PID is shown. */
  | 'dash'
  /** Modern launchctl: the last exit status beside the PID (0 before any exit). */
  | 'last-status';

export interface MachineConfig {
  /** ThrottleInterval when the plist has none (launchd: 10 s). */
  readonly defaultThrottleIntervalSec: number;
  readonly zeroThrottle: ZeroThrottlePolicy;
  /** ExitTimeOut when the plist has none (§7 D1: 842 20 s, modern prints 5 s). */
  readonly defaultExitTimeOutSec: number;
  /** LAUNCHD_SIGKILL_TIMER: how long after SIGKILL a process may take to be reaped before its exit is simulated. */
  readonly killGraceMs: number;
  /**
   * Modern exponential backoff after successive crashes (§2.3, §7 D3), off by default (842 retries forever
   * at throttle pace): interval = base << (crashes - grace), capped.
   */
  readonly backoff: { readonly enabled: boolean; readonly graceCrashes: number; readonly capSec: number };
  /**
   * Crash-loop detection (ours, not launchd's): `threshold` consecutive runs each shorter than
   * `minRunSec` (or than the throttle interval when that is longer) mark the job crash-looping; a run
   * that lasts clears it.
   */
  readonly crashLoop: { readonly threshold: number; readonly minRunSec: number };
  readonly triggerWhileRunning: TriggerWhileRunningPolicy;
  readonly intervalDuringSleep: IntervalDuringSleepPolicy;
  readonly stdioOpenFailure: StdioOpenFailurePolicy;
  /**
   * The status recorded when the job's UserName/GroupName does not exist (§2.3): 842 has the child
   * `_exit(ESRCH)` = 3; modern launchd records 78 (EX_CONFIG) and `job state = spawn failed`.
   */
  readonly credentialFailureStatus: number;
  /** `launchctl list`'s Status column beside a PID (842 `-`, modern the last status). */
  readonly listStatusWhileRunning: ListStatusWhileRunning;
  /** Calendar quirk §7 D19: the Weekday search ignores Month (842). */
  readonly weekdayIgnoresMonth: boolean;
  /** Entries kept in each job's event history. */
  readonly historyLimit: number;
}

/** The choices for one launchd flavour, with optional overrides. */
export function machineConfig(
  flavor: '842' | 'modern' = '842',
  overrides: Partial<MachineConfig> = {},
): MachineConfig {
  const base: MachineConfig =
    flavor === '842'
      ? {
          defaultThrottleIntervalSec: 10,
          zeroThrottle: 'honour',
          defaultExitTimeOutSec: 20,
          killGraceMs: 4000,
          backoff: { enabled: false, graceCrashes: 3, capSec: 1200 },
          crashLoop: { threshold: 5, minRunSec: 10 },
          triggerWhileRunning: 'queue-one',
          intervalDuringSleep: 'coalesce',
          stdioOpenFailure: 'warn',
          credentialFailureStatus: 3,
          listStatusWhileRunning: 'dash',
          weekdayIgnoresMonth: true,
          historyLimit: 20,
        }
      : {
          defaultThrottleIntervalSec: 10,
          zeroThrottle: 'ignore',
          defaultExitTimeOutSec: 5,
          killGraceMs: 4000,
          backoff: { enabled: false, graceCrashes: 3, capSec: 1200 },
          crashLoop: { threshold: 5, minRunSec: 10 },
          triggerWhileRunning: 'drop',
          intervalDuringSleep: 'miss',
          stdioOpenFailure: 'refuse',
          credentialFailureStatus: 78,
          listStatusWhileRunning: 'last-status',
          weekdayIgnoresMonth: true,
          historyLimit: 20,
        };
  return { ...base, ...overrides };
}
