/**
 * The job's standing sources, armed from load to removal whatever the job is doing:
 * StartInterval (one timer for the schedule's next slot; core/interval-schedule.ts decides what
 * each firing means), StartCalendarInterval (an entry in the domain's shared calendar
 * scheduler) and KeepAlive PathState watches. OtherJob* conditions are pushed by the domain
 * (JobRunner.otherJobsChanged), so they arm nothing here.
 */
import { messageOf } from '@launchfleet/shared/errors';
import type { TimerHandle } from '@launchfleet/shared/clock';
import type { Disposable } from '../../ports/file-system.ts';
import {
  intervalAfterSleep,
  intervalFired,
  intervalSchedule,
  nextDueMs,
  type IntervalSchedule,
} from '../core/interval-schedule.ts';
import type { StandingSourceKind } from '../core/job-effects.ts';
import { sameMap, type JobConditions } from './job-conditions.ts';
import type { TriggerTarget } from './trigger-target.ts';

export class StandingSources {
  readonly #t: TriggerTarget;
  readonly #conditions: JobConditions;
  #interval: { handle: TimerHandle; schedule: IntervalSchedule } | undefined;
  #calendar: (Disposable & { nextMs(): number | undefined }) | undefined;
  #pathState: Disposable[] = [];

  constructor(target: TriggerTarget, conditions: JobConditions) {
    this.#t = target;
    this.#conditions = conditions;
  }

  /** Monotonic time of the next StartInterval slot, while armed. */
  nextIntervalMono(): number | undefined {
    return this.#interval ? nextDueMs(this.#interval.schedule) : undefined;
  }

  /** Wall time of the next calendar firing, while armed. */
  nextCalendarWall(): number | undefined {
    return this.#calendar?.nextMs();
  }

  arm(kind: StandingSourceKind): void {
    const t = this.#t;
    switch (kind) {
      case 'interval':
        if (!this.#interval && t.spec.startInterval !== undefined && t.spec.startInterval > 0)
          this.#armInterval(intervalSchedule(t.ports.clock.monotonicMs(), t.spec.startInterval));
        return;
      case 'calendar':
        this.#calendar ??= t.domain.calendar.add(t.spec.startCalendarInterval, (dueWall) => {
          t.timerFired('calendar', dueWall === undefined ? 0 : Math.max(0, t.ports.clock.wallMs() - dueWall));
          t.send({ type: 'trigger', kind: 'calendar' });
        });
        return;
      case 'path-state':
        if (this.#pathState.length > 0) return;
        for (const p of t.spec.keepAlive.pathState.keys())
          this.#pathState.push(t.ports.fs.watch(p, () => this.#repollPathState()));
        return;
      case 'other-job':
        // Pushed by the domain through JobRunner.otherJobsChanged(); nothing to arm.
        return;
      default: {
        const never: never = kind;
        t.log('error', t.spec.label, `can't happen: standing source ${String(never)}`);
      }
    }
  }

  disarm(kind: StandingSourceKind): void {
    switch (kind) {
      case 'interval':
        this.#interval?.handle.cancel();
        this.#interval = undefined;
        return;
      case 'calendar':
        this.#calendar?.dispose();
        this.#calendar = undefined;
        return;
      case 'path-state':
        for (const w of this.#pathState) w.dispose();
        this.#pathState = [];
        return;
      case 'other-job':
        return;
      default: {
        const never: never = kind;
        this.#t.log('error', this.#t.spec.label, `can't happen: standing source ${String(never)}`);
      }
    }
  }

  disarmAll(): void {
    for (const k of ['interval', 'calendar', 'path-state'] as const) this.disarm(k);
  }

  /**
   * The agent detected sleep or a clock change of `deltaMs` (docs/launchd-semantics.md §7 D4,
   * the `coalesce` choice for StartInterval): slots missed while asleep fire once now.
   */
  clockJumped(deltaMs: number): void {
    const iv = this.#interval;
    if (!iv) return;
    const r = intervalAfterSleep(iv.schedule, this.#t.ports.clock.monotonicMs(), deltaMs);
    if (!r.fire) return;
    this.#armInterval(r.schedule);
    this.#t.send({ type: 'trigger', kind: 'interval' });
  }

  /** One timer for the schedule's next slot: an early firing re-arms for the rest, a late one fires its slot once. */
  #armInterval(schedule: IntervalSchedule): void {
    const t = this.#t;
    this.#interval?.handle.cancel();
    const delay = Math.max(0, nextDueMs(schedule) - t.ports.clock.monotonicMs());
    const handle = t.ports.scheduler.after(delay, () => {
      if (this.#interval?.handle !== handle) return; // cancelled or replaced
      const f = intervalFired(schedule, t.ports.clock.monotonicMs());
      this.#armInterval(f.schedule);
      if (!f.fire) return;
      if (f.coalesced > 0)
        t.log('debug', t.spec.label, `StartInterval: ${f.coalesced} slot(s) passed while late: fired once`);
      t.timerFired('interval', f.lagMs);
      t.send({ type: 'trigger', kind: 'interval' });
    });
    this.#interval = { handle, schedule };
  }

  #repollPathState(): void {
    const t = this.#t;
    this.#conditions.observe(t.observed()).then(
      (observed) => {
        if (t.removed() || sameMap(observed.pathExists, t.observed().pathExists)) return;
        t.send({ type: 'trigger', kind: 'path-state', observed });
      },
      (err: unknown) => t.log('warn', t.spec.label, `checking PathState failed: ${messageOf(err)}`),
    );
  }
}
