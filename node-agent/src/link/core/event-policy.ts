/**
 * Which job events a node publishes (pure; the reporter owns the one timer, at `nextWake()`).
 *
 * A bad job on every node must not flood the bus: a job that crash-loops under a 10 s throttle
 * restarts 6 times a minute, and 10,000 nodes publishing every restart is 1,000 events a second
 * that say nothing new. So a job's events are its *transitions*, and its repeats are counted:
 *
 * ```
 *  observe(job facts) ──▶ condition or version changed? ──yes──▶ transition, sent after a settle
 *        │                  (ok / throttled / crash-looping /      window (the latest state in it)
 *        │                   spawn-failed / disabled; a new         when the node's token bucket
 *        │                   managed version; first sight)          has a token, else later
 *        └──no──▶ counted: runs, exits, failed exits ──▶ every summaryMs, one `job-activity`
 *                                                         summary per job that had any (at most
 *                                                         maxSummaries, then one for the rest)
 * ```
 *
 * "ok" covers running and not running (waiting, scheduled, stopping): a periodic job's runs and a
 * daemon's restarts are activity, not news. Entering or leaving throttle or crash-loop, a spawn
 * failure, disabling, a version change and the job's first appearance are transitions.
 *
 * The bound, per node: transitions at most `burst` at once and one per `refillMs` after that;
 * summaries at most `maxSummaries + 1` per `summaryMs`. With the defaults (burst 20, one per 3 s,
 * 20 summaries a minute) that is at most about 41 job events a minute per node, and a
 * crash-looping job costs one transition when it starts looping and one summary a minute.
 * Transitions held back by the bucket are not lost: the latest per job is sent when a token
 * comes (older ones of the same job are folded into it and counted).
 */

/** What decides a job's events. */
export type JobCondition = 'ok' | 'throttled' | 'crash-looping' | 'spawn-failed' | 'disabled';

/** One observation of a job, reduced to what the policy needs. */
export interface JobFacts {
  readonly condition: JobCondition;
  /** The managed (desired-state) version, if the job is managed. */
  readonly version: number | undefined;
  readonly pid: number | undefined;
  /** The last exit as launchctl's Status column says it (`0`, `1`, `-9`), if it ever exited. */
  readonly lastExit: number | undefined;
}

/** Repeats counted over one summary window. */
export interface ActivityCounts {
  readonly runs: number;
  readonly exits: number;
  /** Exits with a non-zero status or by a signal. */
  readonly failed: number;
}

export interface EventPolicyConfig {
  /** A transition is sent this long after it began (the latest state by then). Default 1 s. */
  readonly settleMs: number;
  /** Transitions the node may send at once. */
  readonly burst: number;
  /** One more transition token per this many ms. */
  readonly refillMs: number;
  /** Summary window. */
  readonly summaryMs: number;
  /** Summaries per window; the rest of the jobs with activity are counted in one more. */
  readonly maxSummaries: number;
}

export const defaultEventPolicy: EventPolicyConfig = {
  settleMs: 1000,
  burst: 20,
  refillMs: 3000,
  summaryMs: 60_000,
  maxSummaries: 20,
};

/** What the policy asks the reporter to publish. */
export type PolicyOutput<M> =
  | {
      readonly type: 'transition';
      readonly key: string;
      readonly meta: M;
      readonly facts: JobFacts;
      readonly folded: number;
    }
  | {
      readonly type: 'summary';
      readonly key: string;
      readonly meta: M;
      readonly facts: JobFacts;
      readonly counts: ActivityCounts;
      readonly windowMs: number;
    }
  | {
      readonly type: 'summary-rest';
      readonly jobs: number;
      readonly counts: ActivityCounts;
      readonly windowMs: number;
    };

interface Slot<M> {
  meta: M;
  /** The last observation. */
  last: JobFacts;
  /** What the last sent (or pending) transition said. */
  reported: { condition: JobCondition; version: number | undefined } | undefined;
  /** A transition waiting for its settle time and a token. */
  pendingSince: number | undefined;
  /** Transitions folded into the pending one. */
  folded: number;
  runs: number;
  exits: number;
  failed: number;
}

export class EventPolicy<M> {
  readonly #c: EventPolicyConfig;
  readonly #slots = new Map<string, Slot<M>>();
  /** Keys with a pending transition (what `due` and `nextWake` look at, besides the window). */
  readonly #pending = new Set<string>();
  #tokens: number;
  #tokensAt: number;
  #windowStart: number | undefined;
  /** Transitions folded into a later one of the same job (metrics). */
  folded = 0;

  constructor(c: EventPolicyConfig = defaultEventPolicy, now = 0) {
    this.#c = c;
    this.#tokens = c.burst;
    this.#tokensAt = now;
  }

  /** A job was observed at `now` (monotonic ms). Returns what to publish now. */
  observe(key: string, meta: M, facts: JobFacts, now: number): PolicyOutput<M>[] {
    let s = this.#slots.get(key);
    if (s === undefined) {
      s = {
        meta,
        last: facts,
        reported: undefined,
        pendingSince: now,
        folded: 0,
        runs: 0,
        exits: 0,
        failed: 0,
      };
      this.#slots.set(key, s);
      this.#pending.add(key);
      if (facts.pid !== undefined) s.runs++;
      this.#windowStart ??= now;
      return this.due(now);
    }
    s.meta = meta;
    const prev = s.last;
    s.last = facts;
    if (prev.pid !== undefined && facts.pid !== prev.pid) {
      s.exits++;
      if (facts.lastExit !== undefined && facts.lastExit !== 0) s.failed++;
    }
    if (facts.pid !== undefined && facts.pid !== prev.pid) s.runs++;
    if (s.runs + s.exits > 0) this.#windowStart ??= now;
    const r = s.reported;
    const changed = r === undefined || r.condition !== facts.condition || r.version !== facts.version;
    if (changed && s.pendingSince === undefined) {
      s.pendingSince = now;
      this.#pending.add(key);
    } else if (changed) {
      // Another change before the pending one went out: the pending one will say the latest.
    } else if (s.pendingSince !== undefined && r !== undefined) {
      // Back to what was last reported before the pending transition was sent: nothing to say.
      s.pendingSince = undefined;
      this.#pending.delete(key);
      s.folded++;
      this.folded++;
    } else return [];
    return this.due(now);
  }

  /** Transitions whose settle time has passed (while tokens last) and due summaries. */
  due(now: number): PolicyOutput<M>[] {
    const out: PolicyOutput<M>[] = [];
    this.#refill(now);
    if (this.#pending.size > 0 && this.#tokens >= 1) {
      const ready: [string, Slot<M>][] = [];
      for (const key of this.#pending) {
        const s = this.#slots.get(key);
        if (s?.pendingSince !== undefined && now - s.pendingSince >= this.#c.settleMs) ready.push([key, s]);
      }
      ready.sort((a, b) => (a[1].pendingSince ?? 0) - (b[1].pendingSince ?? 0));
      for (const [key, s] of ready) {
        if (this.#tokens < 1) break;
        this.#tokens--;
        out.push({ type: 'transition', key, meta: s.meta, facts: s.last, folded: s.folded });
        s.reported = { condition: s.last.condition, version: s.last.version };
        s.pendingSince = undefined;
        this.#pending.delete(key);
        s.folded = 0;
      }
    }
    if (this.#windowStart !== undefined && now - this.#windowStart >= this.#c.summaryMs) {
      const windowMs = now - this.#windowStart;
      const active = [...this.#slots.entries()]
        .filter(([, s]) => s.runs + s.exits > 0)
        .sort((a, b) => b[1].failed - a[1].failed || b[1].exits - a[1].exits);
      const rest = { jobs: 0, runs: 0, exits: 0, failed: 0 };
      for (const [i, [key, s]] of active.entries()) {
        const counts = { runs: s.runs, exits: s.exits, failed: s.failed };
        if (i < this.#c.maxSummaries)
          out.push({ type: 'summary', key, meta: s.meta, facts: s.last, counts, windowMs });
        else {
          rest.jobs++;
          rest.runs += s.runs;
          rest.exits += s.exits;
          rest.failed += s.failed;
        }
        s.runs = 0;
        s.exits = 0;
        s.failed = 0;
      }
      if (rest.jobs > 0)
        out.push({
          type: 'summary-rest',
          jobs: rest.jobs,
          counts: { runs: rest.runs, exits: rest.exits, failed: rest.failed },
          windowMs,
        });
      // Windows follow each other while jobs are busy; the next one starts at the next activity
      // after a quiet one.
      this.#windowStart = active.length > 0 ? now : undefined;
    }
    return out;
  }

  /** When `due` next has something to give, if anything is waiting. */
  nextWake(): number | undefined {
    let min: number | undefined;
    const at = (t: number): void => {
      if (min === undefined || t < min) min = t;
    };
    let pending = false;
    for (const key of this.#pending) {
      const s = this.#slots.get(key);
      if (s?.pendingSince === undefined) continue;
      pending = true;
      at(s.pendingSince + this.#c.settleMs);
    }
    // Without a token, the next one comes at the next refill.
    if (pending && this.#tokens < 1 && min !== undefined)
      min = Math.max(min, this.#tokensAt + this.#c.refillMs * (1 - this.#tokens));
    if (this.#windowStart !== undefined) at(this.#windowStart + this.#c.summaryMs);
    return min;
  }

  /** Forgets a job that is gone (its counts go out with the next summary only if it had any). */
  forget(key: string): void {
    const s = this.#slots.get(key);
    if (s !== undefined && s.pendingSince === undefined && s.runs + s.exits === 0) this.#slots.delete(key);
  }

  /** Jobs tracked. */
  get size(): number {
    return this.#slots.size;
  }

  #refill(now: number): void {
    const gained = (now - this.#tokensAt) / this.#c.refillMs;
    if (gained <= 0) return;
    this.#tokens = Math.min(this.#c.burst, this.#tokens + gained);
    this.#tokensAt = now;
  }
}
