import type { Clock, Scheduler, TimerHandle } from '../time/clock.ts';

/**
 * A clock and scheduler driven by the test: `advance(ms)` moves both clocks and fires due
 * timers in order. `jumpWall(ms)` moves only the wall clock (a clock change, or sleep, since
 * the monotonic clock does not count sleep).
 */
export class FakeClock implements Clock, Scheduler {
  private mono: number;
  private wall: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(wallStartMs = Date.UTC(2026, 0, 5, 12, 0, 0), monoStartMs = 1_000_000) {
    this.wall = wallStartMs;
    this.mono = monoStartMs;
  }

  monotonicMs(): number {
    return this.mono;
  }
  wallMs(): number {
    return this.wall;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const t = { at: this.mono + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }

  /** Moves both clocks forward by `ms`, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.wall += due.at - this.mono;
      this.mono = due.at;
      due.cancelled = true;
      due.fn();
    }
    this.wall += target - this.mono;
    this.mono = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  /** Moves only the wall clock (sleep/wake or a clock change). */
  jumpWall(ms: number): void {
    this.wall += ms;
  }

  /** Number of timers still pending (for assertions). */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
