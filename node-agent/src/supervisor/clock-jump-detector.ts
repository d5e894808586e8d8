/**
 * Detects sleep/wake and wall-clock changes with one coarse timer for the whole agent: every
 * `periodMs` it compares how far the wall clock moved with how far the monotonic clock moved
 * (the monotonic clock does not count suspend). A difference beyond `toleranceMs` is a jump;
 * `onJump(deltaMs)` gets the wall clock's extra movement (positive: forward or slept).
 */
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/time/clock';

export class ClockJumpDetector {
  private timer: TimerHandle | undefined;
  private lastWall = 0;
  private lastMono = 0;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly onJump: (deltaMs: number) => void;
  private readonly periodMs: number;
  private readonly toleranceMs: number;

  constructor(
    clock: Clock,
    scheduler: Scheduler,
    onJump: (deltaMs: number) => void,
    opts: { periodMs?: number; toleranceMs?: number } = {},
  ) {
    this.clock = clock;
    this.scheduler = scheduler;
    this.onJump = onJump;
    this.periodMs = opts.periodMs ?? 30_000;
    this.toleranceMs = opts.toleranceMs ?? 2_000;
  }

  start(): void {
    this.lastWall = this.clock.wallMs();
    this.lastMono = this.clock.monotonicMs();
    this.arm();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Compares the clocks now (also called by the timer). Returns the detected jump, or 0. */
  check(): number {
    const wall = this.clock.wallMs();
    const mono = this.clock.monotonicMs();
    const delta = wall - this.lastWall - (mono - this.lastMono);
    this.lastWall = wall;
    this.lastMono = mono;
    if (Math.abs(delta) > this.toleranceMs) {
      this.onJump(delta);
      return delta;
    }
    return 0;
  }

  private arm(): void {
    this.timer = this.scheduler.after(this.periodMs, () => {
      this.check();
      this.arm();
    });
  }
}
