/**
 * Reporting, agent side: what the node tells the controller. This class wires the parts, each
 * in its own module under reporting/, and runs the periodic scan that feeds them:
 *
 * - reporting/job-event-feed.ts: a job's transitions become `job-state` events, its repeats one
 *   `job-activity` summary per job per minute (core/event-policy.ts).
 * - reporting/event-outbox.ts: events (`lf.events.<nodeId>.<kind>`) wait in a bounded outbox
 *   while the broker is away and leave only with the stream's ack (same message id on a retry).
 * - reporting/node-snapshot.ts and reporting/status-publisher.ts: the status snapshot
 *   (`lf_nodes`, `<nodeId>.status`) put when it changed and at least every `statusRefreshMs`;
 *   the inventory (`<nodeId>.inventory`).
 * - reporting/heartbeat.ts: heartbeats (`lf.hb.<nodeId>`) with a random spread.
 * - reporting/status-query.ts: the live status query (`lf.q.<nodeId>.status`).
 *
 *
 * Driven by changes, not by a rescan: the supervisor pushes every job status change
 * (`onJobStatus`, a job's `removed` status included), the domain manager says when a session's
 * domain appeared or went (DomainManager `onDomainsChanged`: the link's reconciler is told, the
 * user's name is looked up, the snapshot is put), the reconciler pokes after each pass (`poke`)
 * and the link when a counter changed. Each push schedules the snapshot; nothing is rebuilt
 * between pushes (the heartbeat puts it only when `statusRefreshMs` old: StatusPublisher
 * `refresh`).
 *
 * The scan, every `scanMs` (default 30 s, fleet-link-settings.ts `linkDefaults`; online or not),
 * is only a safety net for a change nobody pushed: it compares the live domains, observes every
 * job (forgetting those gone) and schedules the snapshot, which is put only if it differs. It
 * used to run every 2 s and was how changes were found; with 1,000 jobs that cost the idle agent
 * a full status pass every 2 s (test/bench/RESULTS.md, "reporter driven by changes").
 */
import { messageOf } from '@launchfleet/shared/errors';
import type { Scheduler, TimerHandle, Clock } from '@launchfleet/shared/clock';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { AgentCounters, NodeHealth, NodeStatus, NodeInventory } from '@launchfleet/shared/messages';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import type { UserDb } from '../ports/user-db.ts';
import type { EventPolicyConfig } from './core/event-policy.ts';
import { EventOutbox, type OutboxEvent } from './reporting/event-outbox.ts';
import { JobEventFeed } from './reporting/job-event-feed.ts';
import { nodeInventory, nodeSnapshot, UserNames, type ReconcilerView } from './reporting/node-snapshot.ts';
import { StatusPublisher } from './reporting/status-publisher.ts';
import { Heartbeat } from './reporting/heartbeat.ts';
import { StatusQuery } from './reporting/status-query.ts';
import type { ReporterStats, ReportingContext } from './reporting/reporting-context.ts';

export type { ReconcilerView } from './reporting/node-snapshot.ts';
export type { ReporterStats } from './reporting/reporting-context.ts';

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
  /** How a log line names the node's NATS credential (nats-edge.ts `credentialName`). */
  readonly credential?: () => string;
  /** Counters for the snapshot (refusals, drift). */
  readonly counters: () => AgentCounters;
  readonly heartbeatMs: number;
  /** Which job events are published and how many (core/event-policy.ts). */
  readonly events?: Partial<EventPolicyConfig>;
  readonly statusMinIntervalMs: number;
  readonly statusRefreshMs: number;
  /** The safety-net scan's period (changes are pushed; the scan catches one that was not). */
  readonly scanMs: number;
  readonly maxQueuedEvents: number;
  readonly random: () => number;
  /** The set of live domains changed (pushed by the domain manager, or seen by the scan). */
  readonly onDomainsChanged?: (targets: readonly string[]) => void;
}

export class Reporter {
  readonly #o: ReporterOptions;
  #nodeId: string;
  readonly stats: ReporterStats = {
    eventsPublished: 0,
    eventsDropped: 0,
    jobStateEvents: 0,
    jobStateCoalesced: 0,
    jobLoadedFolded: 0,
    bundleAcceptedFolded: 0,
    jobActivityEvents: 0,
    statusPuts: 0,
    heartbeats: 0,
    queriesRefused: 0,
  };
  readonly #outbox: EventOutbox;
  readonly #jobEvents: JobEventFeed;
  readonly #status: StatusPublisher;
  readonly #heartbeat: Heartbeat;
  readonly #query: StatusQuery;
  readonly #userNames: UserNames;
  #scanTimer: TimerHandle | undefined;
  /** The live domains last seen (undefined before start). */
  #domainsKey: string | undefined;
  #unsubscribeDomains: (() => void) | undefined;
  #lastHealth: NodeHealth | undefined;
  #stopped = false;

  constructor(o: ReporterOptions) {
    this.#o = o;
    this.#nodeId = o.nodeId ?? '';
    const ctx: ReportingContext = {
      nodeId: () => this.#nodeId,
      ...(o.credential && { credential: o.credential }),
      clock: o.clock,
      scheduler: o.scheduler,
      log: o.log,
    };
    const stats = this.stats;
    this.#userNames = new UserNames(o.users);
    this.#outbox = new EventOutbox({ ...ctx, maxQueuedEvents: o.maxQueuedEvents, stats });
    this.#jobEvents = new JobEventFeed({
      ...ctx,
      outbox: this.#outbox,
      managedVersion: (target, label) => o.reconciler.managedVersion(target, label),
      ...(o.events !== undefined && { events: o.events }),
      stats,
    });
    this.#status = new StatusPublisher({
      ...ctx,
      statusMinIntervalMs: o.statusMinIntervalMs,
      statusRefreshMs: o.statusRefreshMs,
      snapshot: () => this.snapshot(),
      inventory: () => this.inventory(),
      stats,
    });
    this.#heartbeat = new Heartbeat({
      ...ctx,
      heartbeatMs: o.heartbeatMs,
      random: o.random,
      // The health of the last snapshot built: every change builds one within
      // statusMinIntervalMs, so a beat need not build a thousand jobs' snapshot again.
      health: () => this.#lastHealth ?? this.snapshot().health,
      // The status put doubles as "last seen" in KV; refresh it when due.
      onBeat: () => {
        void this.#status.refresh();
        void this.#status.putInventory();
      },
      stats,
    });
    this.#query = new StatusQuery({
      ...ctx,
      snapshot: () => this.snapshot(),
      emit: (e) => this.emit(e),
      stats,
    });
  }

  /** Sets the node id once enrolment gave one. */
  setNodeId(nodeId: string): void {
    this.#nodeId = nodeId;
  }

  /**
   * Listens for domains coming and going, looks up the users of those live now, and starts the
   * safety-net scan (works offline too: it keeps the outbox current).
   */
  start(): void {
    if (this.#stopped || this.#domainsKey !== undefined) return;
    this.#domainsKey = this.#targets().join(' ');
    this.#unsubscribeDomains = this.#o.domainManager.onDomainsChanged(() => this.#domainsMaybeChanged());
    this.#refreshUserNames();
    this.#armScan();
  }

  /** A new connection: publish what waited, put status and inventory, start heartbeats and queries. */
  attach(nc: NatsConnection, nodes: KV): void {
    this.#query.attach(nc);
    this.#outbox.attach(nc);
    this.#status.attach(nodes);
    this.#outbox.flush();
    this.#heartbeat.attach(nc);
  }

  /** The connection is gone: keep collecting, publish nothing. */
  detach(): void {
    this.#outbox.detach();
    this.#heartbeat.detach();
    this.#status.detach();
    this.#query.detach();
  }

  /**
   * Queues an event (bounded; oldest dropped first). A managed job's `job-loaded` first waits
   * for the job's settled state and goes out with it, and says its `bundle-accepted` too
   * (reporting/job-event-feed.ts).
   */
  emit(e: OutboxEvent): void {
    if (e.kind === 'bundle-accepted') {
      this.#jobEvents.acceptBundle(e);
      return;
    }
    if (e.kind !== 'job-loaded') {
      if (e.label !== undefined) this.#jobEvents.otherEvent(e.label);
      this.#outbox.emit(e);
      return;
    }
    this.#jobEvents.announce(e);
    // The supervisor may have pushed the job's status before the reconciler recorded its
    // version: look again, so that the pending transition says the version just loaded.
    if (this.#stopped || e.domain === undefined || e.label === undefined) return;
    const d = this.#o.domainManager.domain(e.domain);
    const status = d.ok ? d.value.runner(e.label)?.status() : undefined;
    if (status !== undefined) this.#jobEvents.observe(status);
  }

  /** The supervisor reports a job status (DomainManager `onStatus`). */
  onJobStatus(s: JobStatus): void {
    if (this.#stopped) return;
    this.#jobEvents.observe(s);
    // Gone: forgotten now, not at the next scan (a job loaded again is new again).
    if (s.subState === 'removed') this.#jobEvents.forget(s.domain, s.label);
    this.#status.schedule(false);
  }

  /** Something other than a job changed (a reconcile pass, a counter): put the snapshot soon if it differs. */
  poke(): void {
    this.#status.schedule(false);
  }

  /** Events waiting to be published. */
  get queued(): number {
    return this.#outbox.queued;
  }

  /** The current status snapshot. */
  snapshot(): NodeStatus {
    const snap = nodeSnapshot({
      nodeId: this.#nodeId,
      agentVersion: this.#o.agentVersion,
      domainManager: this.#o.domainManager,
      reconciler: this.#o.reconciler,
      userNames: this.#userNames,
      counters: this.#o.counters,
    });
    this.#lastHealth = snap.health;
    return snap;
  }

  /** The inventory record. */
  inventory(): NodeInventory {
    return nodeInventory({
      nodeId: this.#nodeId,
      hostname: this.#o.hostname,
      agentVersion: this.#o.agentVersion,
      labels: this.#o.labels,
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribeDomains?.();
    this.#scanTimer?.cancel();
    this.#status.stop();
    this.#heartbeat.stop();
    this.#outbox.stop();
    // Last chance for transitions still settling (job-event-feed.ts).
    this.#jobEvents.stop();
    // Bounded: a slow broker cannot hold up the agent's shutdown.
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.#outbox.flushNow(),
      new Promise<void>((resolve) => (timer = this.#o.scheduler.after(2000, resolve))),
    ]);
    timer?.cancel();
    this.detach();
  }

  // ---- domains, and the safety-net scan --------------------------------------------------

  #targets(): string[] {
    return this.#o.domainManager.domains().map((d) => d.target);
  }

  /** Pushed by the domain manager, and checked by the scan: tells `onDomainsChanged` once per change. */
  #domainsMaybeChanged(): void {
    if (this.#stopped) return;
    const targets = this.#targets();
    const key = targets.join(' ');
    if (key === this.#domainsKey) return;
    this.#domainsKey = key;
    this.#o.onDomainsChanged?.(targets);
    this.#refreshUserNames();
    this.#status.schedule(false);
  }

  /** Looks up the users of live domains not known yet; the snapshot names them once known. */
  #refreshUserNames(): void {
    void this.#userNames
      .refresh(this.#o.domainManager)
      .then((found) => {
        if (found) this.#status.schedule(false);
      })
      .catch((e: unknown) => this.#o.log('warn', 'link', `user name lookup failed: ${messageOf(e)}`));
  }

  #scan(): void {
    this.#domainsMaybeChanged();
    this.#jobEvents.rescan(this.#o.domainManager.domains().flatMap((d) => d.statuses()));
    this.#status.schedule(false);
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
}
