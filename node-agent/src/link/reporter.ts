/**
 * Reporting, agent side: the node's status snapshot in KV (`lf_nodes`, `<nodeId>.status`), its
 * inventory (`<nodeId>.inventory`), events (`lf.events.<nodeId>.<kind>`) and heartbeats
 * (`lf.hb.<nodeId>`).
 *
 * - A job's transitions (it appears, enters or leaves throttle or crash-loop, fails to spawn, is
 *   disabled, runs a new managed version) become `job-state` events; its repeats (runs, exits,
 *   failed exits) are counted and sent as one `job-activity` summary per job per minute
 *   (core/event-policy.ts: the per-node bound and why). Changes are pushed by the supervisor
 *   (`onJobStatus`) and also found by a periodic scan, so nothing depends on the hook being wired.
 * - Every other event goes to a bounded FIFO outbox. While the broker is away events wait
 *   there (job-state events as "latest per job", so they cannot grow with time); on overflow the
 *   oldest are dropped and counted. Nothing is published without the stream's ack: a failed
 *   publish stays at the head of the outbox and is retried after reconnecting, with the same
 *   message id, so an event whose ack was lost is not stored twice (core/event-ids.ts).
 * - The snapshot is put when it changed (at most once per `statusMinIntervalMs`) and at least
 *   every `statusRefreshMs`, so the KV entry's time says when the node was last seen even after
 *   a controller restart. It is small: one short entry per job, no history.
 * - Heartbeats every `heartbeatMs` plus up to 20 % random spread, so nodes that came up
 *   together do not beat in lock-step.
 */
import { randomBytes } from 'node:crypto';
import { messageOf } from '@launchfleet/shared/errors';
import type { Scheduler, TimerHandle, Clock } from '@launchfleet/shared/clock';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import {
  type AgentCounters,
  type JobDetail,
  type NodeEvent,
  type NodeStatus,
  boundedDetail,
  encodeHeartbeat,
  encodeNodeEvent,
  encodeNodeStatus,
  encodeNodeInventory,
  type NodeInventory,
  encodeEnvelope,
  keys,
  subjects,
} from '@launchfleet/shared/messages';
import { LOAD_FAILED, type JobStateReport } from '@launchfleet/shared/job';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import { lastExitStatus } from '../supervisor/job-status.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import type { UserDb } from '../ports/user-db.ts';
import { jitteredPeriod } from './core/backoff.ts';
import {
  type EventPolicyConfig,
  EventPolicy,
  type PolicyOutput,
  defaultEventPolicy,
} from './core/event-policy.ts';
import { eventDetail, jobDetail, jobFacts, jobState, nodeHealth } from './core/job-report.ts';
import { EventIds } from './core/event-ids.ts';

/** What the reporter needs from the reconciler. */
export interface ReconcilerView {
  managedVersion(target: string, label: string): number | undefined;
  failures(): readonly { target: string; label: string; version: number; reason: string }[];
  invalidJobs(): readonly { label: string; domain: string; version: number; reason: string }[];
  readonly revision: number;
}

export interface ReporterOptions {
  /** Known after enrolment (`setNodeId`); nothing is published before. */
  readonly nodeId?: string;
  readonly hostname: string;
  readonly agentVersion: string;
  /** Selector labels from the agent's config (`site=ams`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly domainManager: DomainManager;
  readonly reconciler: ReconcilerView;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: SupervisorLog;
  readonly users?: UserDb;
  /** Counters for the snapshot (refusals, drift). */
  readonly counters: () => AgentCounters;
  readonly heartbeatMs: number;
  /** Which job events are published and how many (core/event-policy.ts). */
  readonly events?: Partial<EventPolicyConfig>;
  readonly statusMinIntervalMs: number;
  readonly statusRefreshMs: number;
  readonly scanMs: number;
  readonly maxQueuedEvents: number;
  readonly random: () => number;
  /** The set of live domains changed (seen by the periodic scan). */
  readonly onDomainsChanged?: (targets: readonly string[]) => void;
}

/** Reporter counters (metrics, tests). */
export interface ReporterStats {
  eventsPublished: number;
  eventsDropped: number;
  /** Job-state (transition) events queued for publishing. */
  jobStateEvents: number;
  /** Job changes folded into a later transition of the same job. */
  jobStateCoalesced: number;
  /** Job-activity summaries queued for publishing. */
  jobActivityEvents: number;
  statusPuts: number;
  heartbeats: number;
  queriesRefused: number;
}

/** What a job event says besides the policy's facts. */
interface JobEventMeta {
  readonly label: string;
  readonly domain: string;
  /** The job's typed state (a job-state event's `jobState`; its sub-state is the `reason`). */
  readonly state: JobStateReport;
  readonly detail: string;
}

interface Session {
  readonly nc: NatsConnection;
  readonly nodes: KV;
  readonly sub: Subscription | undefined;
}

const maxQueryBytes = 64 * 1024;
/** Jobs in one snapshot: beyond this, problem jobs first, the rest summarised by count. */
const maxSnapshotJobs = 2000;

export class Reporter {
  readonly #o: ReporterOptions;
  #nodeId: string;
  readonly #policy: EventPolicy<JobEventMeta>;
  /** Jobs seen by the last scan (to forget those gone). */
  readonly #seen = new Set<string>();
  readonly #fifo: Omit<NodeEvent, 'source'>[] = [];
  readonly #jobState = new Map<string, Omit<NodeEvent, 'source'>>();
  readonly stats: ReporterStats = {
    eventsPublished: 0,
    eventsDropped: 0,
    jobStateEvents: 0,
    jobStateCoalesced: 0,
    jobActivityEvents: 0,
    statusPuts: 0,
    heartbeats: 0,
    queriesRefused: 0,
  };
  #session: Session | undefined;
  #flushing = false;
  /** Consecutive failed publishes of the event at the head of the outbox. */
  #headFailures = 0;
  #retryTimer: TimerHandle | undefined;
  #policyTimer: TimerHandle | undefined;
  #policyWake: number | undefined;
  #scanTimer: TimerHandle | undefined;
  #hbTimer: TimerHandle | undefined;
  #statusTimer: TimerHandle | undefined;
  #lastStatusJson = '';
  #lastStatusPut = -Infinity;
  #statusInFlight = false;
  /** A snapshot was asked for while a put was in flight. */
  #statusPending = false;
  #lastInventoryJson = '';
  #hbSeq = 0;
  #userNames = new Map<number, string>();
  #domainsKey = '';
  #stopped = false;
  /** Each event's JetStream message id, the same on every attempt (core/event-ids.ts). */
  readonly #eventIds = new EventIds(randomBytes(6).toString('hex'));

  constructor(o: ReporterOptions) {
    this.#o = o;
    this.#nodeId = o.nodeId ?? '';
    this.#policy = new EventPolicy({ ...defaultEventPolicy, ...o.events }, o.clock.monotonicMs());
  }

  /** Sets the node id once enrolment gave one. */
  setNodeId(nodeId: string): void {
    this.#nodeId = nodeId;
  }

  /** Starts the periodic scan (works offline too: it keeps the outbox current). */
  start(): void {
    this.#armScan();
  }

  /** A new connection: publish what waited, put status and inventory, start heartbeats and queries. */
  attach(nc: NatsConnection, nodes: KV): void {
    let sub: Subscription | undefined;
    try {
      sub = nc.subscribe(subjects.queriesOf(this.#nodeId), {
        callback: (err, m) => {
          if (err) return;
          this.#onQuery(m.subject, m.data, (d) => m.respond(d));
        },
      });
    } catch (e) {
      this.#o.log('warn', 'link', `cannot subscribe to queries: ${messageOf(e)}`);
    }
    this.#session = { nc, nodes, sub };
    this.#lastStatusJson = '';
    this.#lastInventoryJson = '';
    void this.#putInventory();
    this.#scheduleStatus(true);
    this.#flush();
    this.#armHeartbeat(0);
  }

  /** The connection is gone: keep collecting, publish nothing. */
  detach(): void {
    const s = this.#session;
    this.#session = undefined;
    this.#hbTimer?.cancel();
    this.#statusTimer?.cancel();
    try {
      s?.sub?.unsubscribe();
    } catch {
      // the connection is closed already
    }
  }

  /** Queues an event (bounded; oldest dropped first). */
  emit(e: Omit<NodeEvent, 'source'>): void {
    if (this.#fifo.length >= this.#o.maxQueuedEvents) {
      this.#fifo.shift();
      this.stats.eventsDropped++;
    }
    this.#fifo.push({ ...e, ...(e.detail !== undefined && { detail: boundedDetail(e.detail) }) });
    this.#flush();
  }

  /** The supervisor reports a job status (DomainManager `onStatus`). */
  onJobStatus(s: JobStatus): void {
    if (this.#stopped) return;
    this.#observeJob(s);
    this.#scheduleStatus(false);
  }

  /** Something other than a job changed (a reconcile pass): refresh the snapshot soon. */
  poke(): void {
    this.#scheduleStatus(false);
  }

  /** Events waiting to be published. */
  get queued(): number {
    return this.#fifo.length + this.#jobState.size;
  }

  /** The current status snapshot. */
  snapshot(): NodeStatus {
    const statuses = this.#o.domainManager.domains().flatMap((d) => d.statuses());
    const jobs: Record<string, JobStateReport> = {};
    const versions: Record<string, string> = {};
    const details: Record<string, JobDetail> = {};
    // System jobs first, then per-user domains; a label already reported keeps its first entry.
    let n = 0;
    for (const s of statuses) {
      if (s.label in jobs) continue;
      if (n++ >= maxSnapshotJobs) break;
      const managedVersion = this.#o.reconciler.managedVersion(s.domain, s.label);
      jobs[s.label] = jobState(s);
      if (managedVersion !== undefined) versions[s.label] = String(managedVersion);
      const last = lastExitStatus(s);
      const d = jobDetail(s, {
        ...(last !== undefined && { lastExitStatus: last }),
        ...(managedVersion !== undefined && { managedVersion }),
      });
      details[s.label] =
        d.crashLoopingSince !== undefined
          ? { ...d, crashLoopingSince: Math.floor(d.crashLoopingSince / 1000) * 1000 }
          : d;
    }
    let loadFailures = 0;
    for (const f of [
      ...this.#o.reconciler.failures(),
      ...this.#o.reconciler.invalidJobs().map((i) => ({ ...i, target: i.domain })),
    ]) {
      loadFailures++;
      const prev = details[f.label];
      details[f.label] = {
        ...(prev ?? { domain: f.target }),
        loadFailed: true,
        reason: f.reason.slice(0, 64),
      };
      jobs[f.label] ??= LOAD_FAILED;
    }
    const domains = this.#o.domainManager.domains().map((d) => d.target);
    const users = [
      ...new Set(
        this.#o.domainManager
          .domains()
          .filter((d) => d.kind !== 'system')
          .map((d) => this.#userNames.get(d.uid) ?? String(d.uid)),
      ),
    ];
    return {
      nodeId: this.#nodeId,
      health: nodeHealth(jobs, details, loadFailures),
      jobs,
      versions,
      details,
      counters: this.#o.counters(),
      agentVersion: this.#o.agentVersion,
      domains,
      users,
      desiredRevision: this.#o.reconciler.revision,
    };
  }

  /** The inventory record. */
  inventory(): NodeInventory {
    const os = process.platform === 'darwin' ? 'macos' : process.platform;
    return {
      nodeId: this.#nodeId,
      hostname: this.#o.hostname,
      labels: { ...this.#o.labels, os, arch: process.arch, agentVersion: this.#o.agentVersion },
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#scanTimer?.cancel();
    this.#policyTimer?.cancel();
    this.#retryTimer?.cancel();
    // Last chance for transitions still settling (bounded by one short flush); summaries of a
    // window not over yet are not sent.
    this.#publish(this.#policy.due(this.#o.clock.monotonicMs() + defaultEventPolicy.settleMs));
    // Bounded: a slow broker cannot hold up the agent's shutdown.
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.#flushNow(),
      new Promise<void>((resolve) => (timer = this.#o.scheduler.after(2000, resolve))),
    ]);
    timer?.cancel();
    this.detach();
  }

  // ---- job state events -------------------------------------------------------------------

  #observeJob(s: JobStatus): void {
    const key = `${s.domain}/${s.label}`;
    this.#seen.add(key);
    const version = this.#o.reconciler.managedVersion(s.domain, s.label);
    const facts = jobFacts(s, version, lastExitStatus(s));
    const meta: JobEventMeta = {
      label: s.label,
      domain: s.domain,
      state: jobState(s),
      detail: eventDetail(s),
    };
    this.#publish(this.#policy.observe(key, meta, facts, this.#o.clock.monotonicMs()));
    this.#armPolicy();
  }

  /** Turns what the event policy gave into events in the outbox. */
  #publish(out: readonly PolicyOutput<JobEventMeta>[]): void {
    for (const o of out) {
      if (o.type === 'transition') {
        this.stats.jobStateCoalesced += o.folded;
        this.#queueJobState(o.key, {
          kind: 'job-state',
          label: o.meta.label,
          domain: o.meta.domain,
          reason: o.meta.state.subState,
          jobState: o.meta.state,
          detail: boundedDetail(o.meta.detail),
          ...(o.facts.version !== undefined && { version: o.facts.version }),
        });
      } else {
        this.stats.jobActivityEvents++;
        const c = o.counts;
        const what = `${c.runs} runs, ${c.exits} exits (${c.failed} failed) in ${Math.round(o.windowMs / 1000)} s`;
        this.emit(
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

  #queueJobState(key: string, ev: Omit<NodeEvent, 'source'>): void {
    this.stats.jobStateEvents++;
    this.#jobState.delete(key); // re-insert: the map keeps arrival order
    this.#jobState.set(key, ev);
    this.#flush();
  }

  /** One timer, at the policy's next wake (re-armed when an earlier one is needed). */
  #armPolicy(): void {
    if (this.#stopped) return;
    const wake = this.#policy.nextWake();
    if (wake === undefined || (this.#policyWake !== undefined && this.#policyWake <= wake)) return;
    this.#policyTimer?.cancel();
    this.#policyWake = wake;
    this.#policyTimer = this.#o.scheduler.after(Math.max(0, wake - this.#o.clock.monotonicMs()), () => {
      this.#policyTimer = undefined;
      this.#policyWake = undefined;
      this.#publish(this.#policy.due(this.#o.clock.monotonicMs()));
      this.#armPolicy();
    });
  }

  #scan(): void {
    const targets = this.#o.domainManager.domains().map((d) => d.target);
    const domainsKey = targets.join(' ');
    if (domainsKey !== this.#domainsKey) {
      const first = this.#domainsKey === '';
      this.#domainsKey = domainsKey;
      if (!first) this.#o.onDomainsChanged?.(targets);
    }
    const before = new Set(this.#seen);
    this.#seen.clear();
    for (const d of this.#o.domainManager.domains()) for (const s of d.statuses()) this.#observeJob(s);
    for (const k of before) if (!this.#seen.has(k)) this.#policy.forget(k);
    void this.#refreshUserNames();
    this.#scheduleStatus(false);
  }

  #armScan(): void {
    if (this.#stopped) return;
    this.#scanTimer = this.#o.scheduler.after(this.#o.scanMs, () => {
      try {
        this.#scan();
      } catch (e) {
        this.#o.log('error', 'link', `status scan failed: ${messageOf(e)}`);
      }
      this.#armScan();
    });
  }

  async #refreshUserNames(): Promise<void> {
    const users = this.#o.users;
    if (!users) return;
    for (const d of this.#o.domainManager.domains()) {
      if (d.kind === 'system' || this.#userNames.has(d.uid)) continue;
      const u = await users.userById(d.uid).catch(() => undefined);
      if (u) this.#userNames.set(d.uid, u.name);
    }
  }

  // ---- publishing ------------------------------------------------------------------------

  #flush(): void {
    if (this.#flushing || !this.#session) return;
    void this.#flushNow();
  }

  async #flushNow(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        const s = this.#session;
        if (!s) return;
        let ev: Omit<NodeEvent, 'source'> | undefined;
        let jsKey: string | undefined;
        if (this.#fifo.length > 0) ev = this.#fifo[0];
        else {
          const first = this.#jobState.entries().next();
          if (first.done === true) return;
          [jsKey, ev] = first.value;
        }
        if (ev === undefined) return;
        try {
          const full: NodeEvent = { ...ev, source: this.#nodeId };
          await jetstream(s.nc).publish(
            subjects.event(this.#nodeId, ev.kind),
            encodeNodeEvent(full, this.#o.clock.wallMs()),
            // A retry after a lost ack carries the same id: the stream stores the event once.
            { timeout: 5000, msgID: this.#eventIds.of(this.#nodeId, ev) },
          );
        } catch (e) {
          // Keep it at the head and retry soon. An event the broker keeps refusing while the
          // connection is fine (it cannot be a connectivity problem) is dropped after 3 tries so
          // it cannot block the others. No answer at all (a timeout) is not a refusal: on a link
          // that died silently the connection still looks open until its pings fail, and the
          // event must wait for the next connection (docs/fault-suite.md).
          const unanswered = e instanceof Error && e.name === 'TimeoutError';
          if (!s.nc.isClosed() && !unanswered && ++this.#headFailures >= 3) {
            this.#o.log('warn', 'link', `event dropped after 3 failed publishes: ${messageOf(e)}`);
            this.stats.eventsDropped++;
            this.#dropHead(jsKey, ev);
            continue;
          }
          this.#o.log('debug', 'link', `event publish failed (kept for retry): ${messageOf(e)}`);
          this.#armRetry();
          return;
        }
        this.stats.eventsPublished++;
        this.#headFailures = 0;
        this.#dropHead(jsKey, ev);
      }
    } finally {
      this.#flushing = false;
    }
  }

  #dropHead(jsKey: string | undefined, ev: Omit<NodeEvent, 'source'>): void {
    this.#headFailures = 0;
    if (jsKey === undefined) {
      // emit() may have dropped the head meanwhile (overflow): shift only the event we sent.
      if (this.#fifo[0] === ev) this.#fifo.shift();
    } else if (this.#jobState.get(jsKey) === ev) this.#jobState.delete(jsKey);
  }

  #armRetry(): void {
    if (this.#retryTimer || this.#stopped) return;
    this.#retryTimer = this.#o.scheduler.after(1000, () => {
      this.#retryTimer = undefined;
      this.#flush();
    });
  }

  // ---- status, inventory, heartbeat -------------------------------------------------------

  #scheduleStatus(force: boolean): void {
    if (!this.#session || this.#stopped) return;
    if (force) this.#lastStatusPut = -Infinity;
    if (this.#statusTimer !== undefined) return;
    const now = this.#o.clock.monotonicMs();
    const wait = Math.max(0, this.#lastStatusPut + this.#o.statusMinIntervalMs - now);
    this.#statusTimer = this.#o.scheduler.after(wait, () => {
      this.#statusTimer = undefined;
      void this.#putStatus();
    });
  }

  async #putStatus(): Promise<void> {
    const s = this.#session;
    if (!s) return;
    if (this.#statusInFlight) {
      // A change while the last put is on its way: put again once it is done. Dropping it left
      // the controller without the change until the next scan, heartbeat or level check
      // (test/src/integration/link-status-in-flight.test.ts).
      this.#statusPending = true;
      return;
    }
    const snap = this.snapshot();
    const json = JSON.stringify(snap);
    const now = this.#o.clock.monotonicMs();
    if (json === this.#lastStatusJson && now - this.#lastStatusPut < this.#o.statusRefreshMs) return;
    this.#statusInFlight = true;
    try {
      await s.nodes.put(keys.nodeStatus(this.#nodeId), encodeNodeStatus(snap, this.#o.clock.wallMs()));
      this.#lastStatusJson = json;
      this.#lastStatusPut = now;
      this.stats.statusPuts++;
    } catch (e) {
      this.#o.log('debug', 'link', `status put failed: ${messageOf(e)}`);
    } finally {
      this.#statusInFlight = false;
      if (this.#statusPending) {
        this.#statusPending = false;
        this.#scheduleStatus(false);
      }
    }
  }

  async #putInventory(): Promise<void> {
    const s = this.#session;
    if (!s) return;
    const inv = this.inventory();
    const json = JSON.stringify(inv);
    if (json === this.#lastInventoryJson) return;
    try {
      await s.nodes.put(keys.nodeInventory(this.#nodeId), encodeNodeInventory(inv, this.#o.clock.wallMs()));
      this.#lastInventoryJson = json;
    } catch (e) {
      this.#o.log('debug', 'link', `inventory put failed: ${messageOf(e)}`);
    }
  }

  #armHeartbeat(delayMs: number): void {
    if (this.#stopped || !this.#session) return;
    this.#hbTimer?.cancel();
    this.#hbTimer = this.#o.scheduler.after(delayMs, () => {
      const s = this.#session;
      if (!s) return;
      try {
        const snap = this.snapshot();
        s.nc.publish(
          subjects.heartbeat(this.#nodeId),
          encodeHeartbeat(
            {
              nodeId: this.#nodeId,
              seq: this.#hbSeq++,
              health: snap.health,
              intervalMs: this.#o.heartbeatMs,
            },
            this.#o.clock.wallMs(),
          ),
        );
        this.stats.heartbeats++;
      } catch (e) {
        this.#o.log('debug', 'link', `heartbeat failed: ${messageOf(e)}`);
      }
      // The status put doubles as "last seen" in KV; refresh it when due.
      void this.#putStatus();
      void this.#putInventory();
      this.#armHeartbeat(jitteredPeriod(this.#o.heartbeatMs, 0.2, this.#o.random()));
    });
  }

  // ---- live queries ----------------------------------------------------------------------

  #onQuery(subject: string, data: Uint8Array, respond: (d: Uint8Array) => boolean): void {
    const prefix = `lf.q.${this.#nodeId}.`;
    const query = subject.startsWith(prefix) ? subject.slice(prefix.length) : '';
    if (query === 'renew') return; // credential-renewal.ts answers it
    const now = this.#o.clock.wallMs();
    const refuse = (reason: string, detail: string): void => {
      this.stats.queriesRefused++;
      this.#o.log('warn', 'link', `query ${query.slice(0, 64)} refused: ${reason}: ${detail}`);
      this.emit({
        kind: 'message-refused',
        reason,
        detail: boundedDetail(`query ${query.slice(0, 64)}: ${detail}`),
      });
      try {
        respond(encodeEnvelope('node.error', now, { error: reason, detail }));
      } catch {
        // no reply subject, or the connection is gone
      }
    };
    if (data.byteLength > maxQueryBytes)
      return refuse('oversized', `${data.byteLength} bytes > ${maxQueryBytes}`);
    if (query !== 'status') return refuse('unknown-query', 'this agent answers: status');
    try {
      respond(encodeNodeStatus(this.snapshot(), now));
    } catch (e) {
      this.#o.log('warn', 'link', `query reply failed: ${messageOf(e)}`);
    }
  }
}
