/**
 * Detects sleep/wake and wall-clock changes with one coarse timer for the whole agent: every
 * `periodMs` it compares how far the wall clock moved with how far the monotonic clock moved
 * (the monotonic clock does not count suspend). A difference beyond `toleranceMs` is a jump;
 * `onJump(deltaMs, sleptMs)` gets the wall clock's extra movement (positive: forward or slept)
 * and how much of it was sleep. With a boot clock (`Clock.bootMs`, counts suspend) the two are
 * told apart: slept = boot - monotonic, and a wall-clock step is no sleep (a StartInterval job
 * must not run for it: launchd's interval timers are relative). Without one every forward
 * jump counts as sleep, as before.
 */
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/clock';

export class ClockJumpDetector {
  private timer: TimerHandle | undefined;
  private lastWall = 0;
  private lastMono = 0;
  private lastBoot: number | undefined;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly onJump: (deltaMs: number, sleptMs: number) => void;
  private readonly periodMs: number;
  private readonly toleranceMs: number;

  constructor(
    clock: Clock,
    scheduler: Scheduler,
    onJump: (deltaMs: number, sleptMs: number) => void,
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
    this.lastBoot = this.bootNow();
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
    const boot = this.bootNow();
    const delta = wall - this.lastWall - (mono - this.lastMono);
    const slept =
      boot === undefined || this.lastBoot === undefined
        ? Math.max(0, delta)
        : Math.max(0, boot - this.lastBoot - (mono - this.lastMono));
    this.lastWall = wall;
    this.lastMono = mono;
    this.lastBoot = boot;
    if (Math.abs(delta) > this.toleranceMs) {
      this.onJump(delta, slept > this.toleranceMs ? slept : 0);
      return delta;
    }
    return 0;
  }

  private bootNow(): number | undefined {
    const b = this.clock.bootMs?.();
    return b !== undefined && Number.isFinite(b) ? b : undefined;
  }

  private arm(): void {
    this.timer = this.scheduler.after(this.periodMs, () => {
      this.check();
      this.arm();
    });
  }
}
