/**
 * The respawn throttle and crash-loop accounting (docs/launchd-semantics.md §2.3, §7 D2, D3).
 *
 * launchd's throttle bounds SPAWN-TO-SPAWN spacing in whole seconds: with `td` the truncated
 * seconds since the previous spawn and T the interval, a start inside the window is deferred by
 * `T - td` seconds counted from the attempt. So a 1 s run respawns 10 s after its spawn, a 0.3 s
 * run about 10.3 s after it (td truncates to 0), and a run of T seconds or more respawns at once.
 * inetdCompatibility jobs are exempt.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { MachineConfig } from './machine-config.ts';
import type { JobState } from './job-state.ts';

/** The throttle interval in force for the job's next start, in whole seconds (print's `minimum runtime`). */
export function effectiveThrottleSec(spec: JobSpec, state: JobState, config: MachineConfig): number {
  if (spec.inetdCompatibility !== undefined) return 0;
  let base = spec.throttleInterval ?? config.defaultThrottleIntervalSec;
  if (base < 0) base = config.defaultThrottleIntervalSec; // 842 ignores negative values
  if (base === 0 && config.zeroThrottle === 'ignore') base = config.defaultThrottleIntervalSec; // D2
  return base + backoffExtraSec(base, state.successiveCrashes, config);
}

/**
 * D3, modern launchd (reverse-engineered, unverified): after `graceCrashes` successive crashes the
 * interval doubles per crash, `base << (crashes - grace)`, capped. Returns the seconds to add to base.
 */
export function backoffExtraSec(baseSec: number, successiveCrashes: number, config: MachineConfig): number {
  const b = config.backoff;
  if (!b.enabled || baseSec <= 0 || successiveCrashes <= b.graceCrashes) return 0;
  const shift = Math.min(successiveCrashes - b.graceCrashes, 30);
  const grown = Math.min(b.capSec, baseSec * 2 ** shift);
  return Math.max(0, grown - baseSec);
}

/**
 * Milliseconds to defer a start requested at `nowMs`, given the previous spawn (monotonic ms) and
 * the interval in seconds; 0 means start now. Integer truncation as core.c:4403-4418.
 */
export function throttleDelayMs(
  lastSpawnAtMs: number | undefined,
  nowMs: number,
  intervalSec: number,
): number {
  if (lastSpawnAtMs === undefined || intervalSec <= 0) return 0;
  const td = Math.floor((nowMs - lastSpawnAtMs) / 1000);
  return td < intervalSec ? (intervalSec - td) * 1000 : 0;
}

/** How a run ended, as the crash accounting needs it. */
export interface RunOutcome {
  /** Wall-clock length of the run on the monotonic clock. */
  readonly ranMs: number;
  /** Exit 0 (or, for a job stopped by us, any end we asked for). */
  readonly clean: boolean;
  /** We stopped it: its death says nothing about the job's health. */
  readonly stoppedByUs: boolean;
  /** KeepAlive=true: even a clean exit is respawned, so a short clean run is part of a restart loop. */
  readonly respawnsAlways: boolean;
}

/** The crash-tracking fields after one run. */
export interface CrashTracking {
  readonly successiveCrashes: number;
  readonly shortRuns: number;
  readonly crashLooping?: { readonly sinceMs: number; readonly count: number };
}

/**
 * Updates successive crashes and crash-loop detection after a run. A run is "short" when it lasted
 * less than max(crashLoop.minRunSec, the throttle interval) and either failed or belongs to a
 * KeepAlive=true job; `threshold` consecutive short runs that we did not cause mark the job crash-looping (since the end of the run that crossed the threshold);
 * a run that lasts, or a stop by us, clears the streak.
 */
export function trackRun(
  prev: Pick<JobState, 'successiveCrashes' | 'shortRuns' | 'crashLooping'>,
  run: RunOutcome,
  throttleSec: number,
  nowMs: number,
  config: MachineConfig,
): CrashTracking {
  if (run.stoppedByUs) {
    // Our own stop is neither a crash nor a lasting run: leave the counters as they were.
    return pick(prev);
  }
  const successiveCrashes = run.clean ? 0 : prev.successiveCrashes + 1;
  const minMs = Math.max(config.crashLoop.minRunSec, throttleSec) * 1000;
  if (run.ranMs >= minMs) return { successiveCrashes, shortRuns: 0 };
  // A short clean run of an on-demand job (a StartInterval job that does its work in 1 s) is no loop.
  if (run.clean && !run.respawnsAlways) return { successiveCrashes, shortRuns: 0 };
  const shortRuns = prev.shortRuns + 1;
  if (shortRuns < config.crashLoop.threshold) return { successiveCrashes, shortRuns };
  return {
    successiveCrashes,
    shortRuns,
    crashLooping: { sinceMs: prev.crashLooping?.sinceMs ?? nowMs, count: shortRuns },
  };
}

function pick(p: Pick<JobState, 'successiveCrashes' | 'shortRuns' | 'crashLooping'>): CrashTracking {
  return p.crashLooping
    ? { successiveCrashes: p.successiveCrashes, shortRuns: p.shortRuns, crashLooping: p.crashLooping }
    : { successiveCrashes: p.successiveCrashes, shortRuns: p.shortRuns };
}
