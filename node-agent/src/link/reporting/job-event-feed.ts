/**
 * Job events, agent side: a job's transitions (it appears, enters or leaves throttle or
 * crash-loop, fails to spawn, is disabled, runs a new managed version) become `job-state` events;
 * its repeats (runs, exits, failed exits) are counted and sent as one `job-activity` summary per
 * job per minute. What is sent and how many is the event policy's (../core/event-policy.ts: the
 * per-node bound and why); this module feeds it job statuses, runs its one timer and turns what
 * it gives into events in the outbox.
 *
 * A managed job loaded or updated is one event, not two: the reconciler's `job-loaded` waits here
 * (`announce`) for the job's version transition, which the policy sends a settle time later, and
 * goes out carrying that transition's state (`jobState`, the state's detail) in place of a
 * separate `job-state` event, when that state is fine (running, waiting, exited: the policy's
 * "ok"; a version that settles throttled, crash-looping, failing to spawn or disabled still gets
 * its `job-state` event, after the `job-loaded`). Per node and per apply that is one stored event and one delivery
 * fewer (the broker's cost of an apply is per message: docs/fleet-at-scale.md). A `job-loaded`
 * whose transition does not come within `announceHoldMs` (the job never showed up in the
 * supervisor, or its transition waits for a token) goes out alone, as before.
 *
 * The same for the watch's `bundle-accepted` (`acceptBundle`): a bundle whose job loads is said by
 * the job's `job-loaded` (which names the version accepted), so it is not sent on its own; one not
 * loaded within `announceHoldMs` (a per-user job with no session yet) goes out alone, and any other
 * event of that label (a `load-failed`, say) sends it first, so the order stays the order of things.
 * An update is then one event per node instead of three (bundle-accepted, job-loaded, job-state).
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
import type { EventOutbox, OutboxEvent } from './event-outbox.ts';
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
  readonly stats: Pick<
    ReporterStats,
    'jobStateCoalesced' | 'jobActivityEvents' | 'jobLoadedFolded' | 'bundleAcceptedFolded'
  >;
  /** How long a `job-loaded` waits for its version transition. Default 3 settle times. */
  readonly announceHoldMs?: number;
}

/** A `job-loaded` waiting for its job's version transition. */
interface Held {
  readonly event: OutboxEvent;
  readonly version: number;
  /** Monotonic ms after which it goes out alone. */
  readonly until: number;
}

export class JobEventFeed {
  readonly #o: JobEventFeedOptions;
  readonly #policy: EventPolicy<JobEventMeta>;
  /** Jobs seen since the last rescan (to forget those gone). */
  readonly #seen = new Set<string>();
  /** `job-loaded` events waiting for their transition, per job (`<domain>/<label>`). */
  readonly #held = new Map<string, Held>();
  /** `bundle-accepted` events waiting for their job's `job-loaded`, per label. */
  readonly #accepted = new Map<string, Held>();
  readonly #holdMs: number;
  #timer: TimerHandle | undefined;
  #wake: number | undefined;
  #stopped = false;

  constructor(o: JobEventFeedOptions) {
    this.#o = o;
    const policy = { ...defaultEventPolicy, ...o.events };
    this.#policy = new EventPolicy(policy, o.clock.monotonicMs());
    this.#holdMs = o.announceHoldMs ?? 3 * policy.settleMs;
  }

  /**
   * A managed job was loaded or updated (the reconciler's `job-loaded`, with its version): held
   * until the job's transition for that version, then sent once with the state it settled in.
   */
  announce(e: OutboxEvent): void {
    const accepted = e.label === undefined ? undefined : this.#accepted.get(e.label);
    if (accepted !== undefined && e.label !== undefined) {
      this.#accepted.delete(e.label);
      if (accepted.version === e.version) this.#o.stats.bundleAcceptedFolded++;
      else this.#o.outbox.emit(accepted.event);
    }
    if (e.version === undefined || e.label === undefined || e.domain === undefined || this.#stopped) {
      this.#o.outbox.emit(e);
      return;
    }
    const key = `${e.domain}/${e.label}`;
    const before = this.#held.get(key);
    if (before !== undefined) this.#o.outbox.emit(before.event);
    this.#held.set(key, { event: e, version: e.version, until: this.#o.clock.monotonicMs() + this.#holdMs });
    this.#arm();
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

  /**
   * A job left its domain (its `removed` status, pushed): forgotten now, as a rescan that no
   * longer finds it would (the policy keeps a job with a pending transition or counts to send).
   */
  forget(domain: string, label: string): void {
    const key = `${domain}/${label}`;
    this.#seen.delete(key);
    this.#policy.forget(key);
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
    this.#releaseHeld(Number.POSITIVE_INFINITY);
  }

  /**
   * The watch accepted a bundle (`bundle-accepted`, with its version): held until the job's
   * `job-loaded` says the same, or `announceHoldMs`.
   */
  acceptBundle(e: OutboxEvent): void {
    if (e.version === undefined || e.label === undefined || this.#stopped) {
      this.#o.outbox.emit(e);
      return;
    }
    this.otherEvent(e.label);
    this.#accepted.set(e.label, {
      event: e,
      version: e.version,
      until: this.#o.clock.monotonicMs() + this.#holdMs,
    });
    this.#arm();
  }

  /** Another event of `label` is about to be queued: a held `bundle-accepted` goes first. */
  otherEvent(label: string): void {
    const a = this.#accepted.get(label);
    if (a === undefined) return;
    this.#accepted.delete(label);
    this.#o.outbox.emit(a.event);
  }

  /** Sends alone the held events whose wait is over at `now` (acceptances before loads). */
  #releaseHeld(now: number): void {
    for (const held of [this.#accepted, this.#held])
      for (const [key, h] of held) {
        if (h.until > now) continue;
        held.delete(key);
        this.#o.outbox.emit(h.event);
      }
  }

  /** Turns what the event policy gave into events in the outbox. */
  #queue(out: readonly PolicyOutput<JobEventMeta>[]): void {
    for (const o of out) {
      if (o.type === 'transition') {
        this.#o.stats.jobStateCoalesced += o.folded;
        const held = this.#held.get(o.key);
        if (held !== undefined && held.version === o.facts.version && o.facts.condition !== 'ok') {
          // The new version settled in trouble (throttled, crash-looping, ...): that stays a
          // job-state event of its own, as every problem is; the load goes out first.
          this.#held.delete(o.key);
          this.#o.outbox.emit(held.event);
        } else if (held !== undefined && held.version === o.facts.version) {
          // One event: the load, with the state the job settled in. (A transition of another
          // version leaves the held event waiting for its own.)
          this.#held.delete(o.key);
          this.#o.stats.jobLoadedFolded++;
          this.#o.outbox.emit({
            ...held.event,
            jobState: o.meta.state,
            detail: boundedDetail(
              held.event.detail === undefined ? o.meta.detail : `${held.event.detail}; ${o.meta.detail}`,
            ),
          });
          continue;
        }
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
    let wake = this.#policy.nextWake();
    for (const held of [this.#held, this.#accepted])
      for (const h of held.values()) if (wake === undefined || h.until < wake) wake = h.until;
    if (wake === undefined || (this.#wake !== undefined && this.#wake <= wake)) return;
    this.#timer?.cancel();
    this.#wake = wake;
    this.#timer = this.#o.scheduler.after(Math.max(0, wake - this.#o.clock.monotonicMs()), () => {
      this.#timer = undefined;
      this.#wake = undefined;
      const now = this.#o.clock.monotonicMs();
      this.#queue(this.#policy.due(now));
      this.#releaseHeld(now);
      this.#arm();
    });
  }
}
