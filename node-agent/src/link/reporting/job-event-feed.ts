/**
 * Job events, agent side: a job's transitions (it appears, enters or leaves throttle or
 * crash-loop, fails to spawn, is disabled, runs a new managed version) become `job-state` events;
 * its repeats (runs, exits, failed exits) are counted and sent as one `job-activity` summary per
 * job per minute. What is sent and how many is the event policy's (../core/event-policy.ts: the
 * per-node bound and why); this module feeds it job statuses, runs its one timer and turns what
 * it gives into events in the outbox.
 */
import type { TimerHandle } from '@launchfleet/shared/clock';
import type { JobStateReport } from '@launchfleet/shared/job';
import { boundedDetail } from '@launchfleet/shared/messages';
import type { JobStatus } from '../../supervisor/job-status.ts';
import { lastExitStatus } from '../../supervisor/job-status.ts';
import {
  type EventPolicyConfig,
  EventPolicy,
  type PolicyOutput,
  defaultEventPolicy,
} from '../core/event-policy.ts';
import { eventDetail, jobFacts, jobState } from '../core/job-report.ts';
import type { EventOutbox } from './event-outbox.ts';
import type { ReporterStats, ReportingContext } from './reporting-context.ts';

/** What a job event says besides the policy's facts. */
interface JobEventMeta {
  readonly label: string;
  readonly domain: string;
  /** The job's typed state (a job-state event's `jobState`; its sub-state is the `reason`). */
  readonly state: JobStateReport;
  readonly detail: string;
}

export interface JobEventFeedOptions extends ReportingContext {
  readonly outbox: EventOutbox;
  /** The managed version a job runs (from the reconciler), for the events' `version`. */
  readonly managedVersion: (target: string, label: string) => number | undefined;
  /** Which job events are published and how many (../core/event-policy.ts). */
  readonly events?: Partial<EventPolicyConfig>;
  readonly stats: Pick<ReporterStats, 'jobStateCoalesced' | 'jobActivityEvents'>;
}

export class JobEventFeed {
  readonly #o: JobEventFeedOptions;
  readonly #policy: EventPolicy<JobEventMeta>;
  /** Jobs seen since the last rescan (to forget those gone). */
  readonly #seen = new Set<string>();
  #timer: TimerHandle | undefined;
  #wake: number | undefined;
  #stopped = false;

  constructor(o: JobEventFeedOptions) {
    this.#o = o;
    this.#policy = new EventPolicy({ ...defaultEventPolicy, ...o.events }, o.clock.monotonicMs());
  }

  /** A job's current status (pushed by the supervisor or found by a rescan). */
  observe(s: JobStatus): void {
    const key = `${s.domain}/${s.label}`;
    this.#seen.add(key);
    const version = this.#o.managedVersion(s.domain, s.label);
    const facts = jobFacts(s, version, lastExitStatus(s));
    const meta: JobEventMeta = {
      label: s.label,
      domain: s.domain,
      state: jobState(s),
      detail: eventDetail(s),
    };
    this.#queue(this.#policy.observe(key, meta, facts, this.#o.clock.monotonicMs()));
    this.#arm();
  }

  /** Every job there is now: observes each, and forgets the jobs no longer there. */
  rescan(statuses: Iterable<JobStatus>): void {
    const before = new Set(this.#seen);
    this.#seen.clear();
    for (const s of statuses) this.observe(s);
    for (const k of before) if (!this.#seen.has(k)) this.#policy.forget(k);
  }

  /**
   * The agent is stopping: no more timers, and a last chance for transitions still settling
   * (bounded by one short settle time); summaries of a window not over yet are not sent.
   */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#queue(this.#policy.due(this.#o.clock.monotonicMs() + defaultEventPolicy.settleMs));
  }

  /** Turns what the event policy gave into events in the outbox. */
  #queue(out: readonly PolicyOutput<JobEventMeta>[]): void {
    for (const o of out) {
      if (o.type === 'transition') {
        this.#o.stats.jobStateCoalesced += o.folded;
        this.#o.outbox.putJobState(o.key, {
          kind: 'job-state',
          label: o.meta.label,
          domain: o.meta.domain,
          reason: o.meta.state.subState,
          jobState: o.meta.state,
          detail: boundedDetail(o.meta.detail),
          ...(o.facts.version !== undefined && { version: o.facts.version }),
        });
      } else {
        this.#o.stats.jobActivityEvents++;
        const c = o.counts;
        const what = `${c.runs} runs, ${c.exits} exits (${c.failed} failed) in ${Math.round(o.windowMs / 1000)} s`;
        this.#o.outbox.emit(
          o.type === 'summary'
            ? {
                kind: 'job-activity',
                label: o.meta.label,
                domain: o.meta.domain,
                reason: o.facts.condition,
                detail: boundedDetail(
                  `${o.meta.domain}/${o.meta.label}: ${what}${o.facts.lastExit !== undefined ? `, last exit ${o.facts.lastExit}` : ''}, ${o.facts.condition}`,
                ),
                ...(o.facts.version !== undefined && { version: o.facts.version }),
                counts: { ...c, windowMs: Math.round(o.windowMs) },
              }
            : {
                kind: 'job-activity',
                reason: 'summary',
                detail: `${o.jobs} more jobs: ${what}`,
                counts: { ...c, windowMs: Math.round(o.windowMs) },
              },
        );
      }
    }
  }

  /** One timer, at the policy's next wake (re-armed when an earlier one is needed). */
  #arm(): void {
    if (this.#stopped) return;
    const wake = this.#policy.nextWake();
    if (wake === undefined || (this.#wake !== undefined && this.#wake <= wake)) return;
    this.#timer?.cancel();
    this.#wake = wake;
    this.#timer = this.#o.scheduler.after(Math.max(0, wake - this.#o.clock.monotonicMs()), () => {
      this.#timer = undefined;
      this.#wake = undefined;
      this.#queue(this.#policy.due(this.#o.clock.monotonicMs()));
      this.#arm();
    });
  }
}
