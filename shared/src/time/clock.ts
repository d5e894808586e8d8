/**
 * Time as an injected dependency. The pure cores never read the clock; the runtimes that
 * interpret their effects do, through this interface, so tests can drive time by hand.
 *
 * Two clocks, as launchd keeps them (docs/launchd-semantics.md §8):
 * - `monotonicMs()` for the throttle, ExitTimeOut and StartInterval: never jumps, does not
 *   count time the machine slept.
 * - `wallMs()` for StartCalendarInterval (local wall time) and timestamps shown to people.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock with an arbitrary origin. */
  monotonicMs(): number;
  /** Milliseconds since the Unix epoch (wall clock; may jump). */
  wallMs(): number;
  /**
   * Milliseconds on a clock that keeps counting while the machine sleeps and never jumps
   * (Linux CLOCK_BOOTTIME), where there is one. With it a clock-jump detector tells sleep (this
   * clock moved further than the monotonic one) from a wall-clock step (the wall clock moved
   * further than this one): StartInterval coalesces after sleep only (docs/launchd-semantics.md §8).
   */
  bootMs?(): number;
}

/** A cancellable one-shot timer handle. */
export interface TimerHandle {
  cancel(): void;
}

/** Schedules callbacks on the monotonic clock. Real: setTimeout. Fake: advanced by tests. */
export interface Scheduler {
  /** Calls `fn` once after `ms` milliseconds of monotonic time. */
  after(ms: number, fn: () => void): TimerHandle;
}

/** The process's real clock. */
export const systemClock: Clock = {
  monotonicMs: () => performance.now() + performance.timeOrigin - startOffset,
  wallMs: () => Date.now(),
};
// Anchor the monotonic origin at load so values are small and positive.
const startOffset = performance.timeOrigin;

/**
 * The longest delay one Node timer holds (2^31 - 1 ms, ~24.8 days). A longer one fires after
 * 1 ms instead, with a TimeoutOverflowWarning: a reconciler that asks to run again in 30 days
 * (finished-rollout retention) then ran every millisecond.
 */
export const maxTimerDelayMs = 2 ** 31 - 1;

/**
 * Real scheduler over setTimeout; timers do not keep the process alive on their own. A delay
 * beyond `maxTimerDelayMs` waits in steps of at most that, on the monotonic clock.
 */
export const systemScheduler: Scheduler = {
  after(ms, fn) {
    const delay = Math.max(0, ms);
    if (delay <= maxTimerDelayMs) {
      const t = setTimeout(fn, delay);
      t.unref();
      return { cancel: () => clearTimeout(t) };
    }
    const dueAt = performance.now() + delay;
    let t: ReturnType<typeof setTimeout>;
    const step = (): void => {
      const left = Math.max(0, dueAt - performance.now());
      t = setTimeout(left > maxTimerDelayMs ? step : fn, Math.min(left, maxTimerDelayMs));
      t.unref();
    };
    step();
    return { cancel: () => clearTimeout(t) };
  },
};
