/**
 * What a normalised job implies at load time (docs/launchd-semantics.md §2.2), in one place so the supervisor
 * and `print`-style reports read the plist the same way:
 * - RunAtLoad, and the mere presence of KeepAlive.SuccessfulExit or KeepAlive.Crashed, set
 *   `start_pending` at import (core.c:2508-2516, 7573-7582; E6);
 * - KeepAlive=true (or OnDemand=false) makes `job_keepalive` true on every dispatch;
 * - AfterInitialDemand (`needs_kickoff`) is checked first and holds all of the above until a
 *   genuine demand (behaviour 13);
 * - Disabled (as written; the override database may say otherwise, §2.6) loads nothing.
 */
import type { JobSpec } from './job-spec.ts';

export interface LoadImplications {
  /** start_pending is set at import. */
  readonly startPendingAtLoad: boolean;
  /** The job is restarted after every exit (KeepAlive=true / OnDemand=false). */
  readonly keepAliveAlways: boolean;
  /** AfterInitialDemand: nothing starts the job before a socket, Mach message or kickstart. */
  readonly heldUntilDemand: boolean;
  /** The job will be started at load without any outside event (ignoring the override database). */
  readonly startsAtLoad: boolean;
}

export function loadImplications(spec: JobSpec): LoadImplications {
  const k = spec.keepAlive;
  const startPendingAtLoad = spec.runAtLoad || k.successfulExit !== undefined || k.crashed !== undefined;
  const heldUntilDemand = k.afterInitialDemand;
  return {
    startPendingAtLoad,
    keepAliveAlways: k.always,
    heldUntilDemand,
    startsAtLoad: !spec.disabled && !heldUntilDemand && (startPendingAtLoad || k.always),
  };
}
