/**
 * A Scheduler over a FakeClock whose timers fire early or late by scripted amounts, as real
 * timers do on a loaded machine (setTimeout may fire a millisecond early against
 * performance.now(), and any amount late). Each `after(ms)` takes the next offset from the
 * script (negative: early), cycling; the clock itself stays exact. An early firing comes at most
 * half the asked delay early (a timer is never early by its whole length, and a re-armed
 * remainder converges). Property tests use it to check that no timer path acts on a firing
 * before its due time or fires one slot twice.
 */
import type { FakeClock } from '@launchfleet/shared/testing';
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';

export class JitteredScheduler implements Scheduler {
  private i = 0;
  /** Timers armed, with the delay asked for and the offset applied. */
  readonly armed: { ms: number; offsetMs: number }[] = [];
  private readonly clock: FakeClock;
  private readonly offsets: readonly number[];

  constructor(clock: FakeClock, offsets: readonly number[]) {
    this.clock = clock;
    this.offsets = offsets.length > 0 ? offsets : [0];
  }

  after(ms: number, fn: () => void): TimerHandle {
    const scripted = this.offsets[this.i++ % this.offsets.length] ?? 0;
    const offsetMs = scripted < 0 ? -Math.min(-scripted, Math.floor(ms / 2)) : scripted;
    this.armed.push({ ms, offsetMs });
    return this.clock.after(Math.max(0, ms + offsetMs), fn);
  }
}
