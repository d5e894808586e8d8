/**
 * The agent's fleet link: enrolment, the NATS connection (full-jitter reconnect), the
 * watch -> verify -> reconcile loop, drift repair, status/events/heartbeats. The agent's
 * main calls `startFleetLink` when `config.controller` is set, after its DomainManager started.
 *
 * ```
 *  start ─▶ stored identity? ──no──▶ enrol (bootstrap token, retried with backoff)
 *             │yes                        │
 *             ▼                           ▼
 *   restore last verified desired state (state dir; re-verified) ─▶ reconcile (works offline)
 *             │
 *             ▼
 *   ┌─▶ connect as the node ──fail──▶ wait fullJitter(attempt) ──┐
 *   │        │ok                                                  │
 *   │        ▼                                                    │
 *   │   session: desired watch (verify gate) ─▶ reconciler        │
 *   │            reporter.attach (status, inventory, events, hb)  │
 *   │        │ connection lost                                    │
 *   └────────┴────────────────────────────────────────────────────┘
 * ```
 * Jobs never depend on the link: losing NATS changes nothing the supervisor runs.
 *
 * Over 400 lines, and not for a good reason: `startFleetLink` is one closure whose steps
 * (enrolment, the session, the loop, credential renewal, the status answer) share a dozen
 * mutable variables (state, identity, trust, nc, watch, lostBroker, lameDuck, renewed ...).
 * The loop's pacing is already a pure core (core/link-loop.ts) and the parts it wires are their
 * own modules (reconciler, reporter, desired watch, drift, renewal). What is left to do (issue
 * 15): the connection state as one value beside its I/O, then enrolment and the session as
 * functions of it, not closures over it.
 */
import { hostname as osHostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import {
  FailedPreconditionError,
  type LaunchfleetError,
  TimeoutError,
  messageOf,
} from '@launchfleet/shared/errors';
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import { systemScheduler } from '@launchfleet/shared/clock';
import { buckets } from '@launchfleet/shared/messages';
import type { Inventory } from '@launchfleet/shared/messages';
import type { NodeEventKind } from '@launchfleet/shared/messages';
import { type TrustStore, loadTrustStoreFile } from '@launchfleet/shared/signing';
import type { AgentConfig } from '../config/agent-config.ts';
import type { FileSystemPort } from '../ports/file-system.ts';
import type { UserDb } from '../ports/user-db.ts';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import { modelPlistLoader } from '../supervisor/domains/model-plist-loader.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import type { EventPolicyConfig } from './core/event-policy.ts';
import { type BackoffPolicy, defaultBackoff } from './core/backoff.ts';
import { type LinkPacing, type LinkPassOutcome, initialLinkLoop, nextLinkWait } from './core/link-loop.ts';
import type { ReconcileAction } from './core/reconcile-plan.ts';
import { type CredentialsStatus, CredentialRenewal } from './credential-renewal.ts';
import { writeFileAtomic } from '../adapters/atomic-write.ts';
import { type NodeIdentity, loadIdentity, readCredsParts } from './credentials.ts';
import { DesiredStore } from './desired-store.ts';
import { DesiredWatch } from './desired-watch.ts';
import { DriftDetector } from './drift.ts';
import { enroll } from './enroll.ts';
import { type LinkFailure, enrolmentError, linkFailure, linkFailureLine } from './link-failure.ts';
import { ManagedFiles } from './managed-files.ts';
import { connectAsNode } from './node-connection.ts';
import { Reconciler } from './reconciler.ts';
import { Reporter, type ReporterStats } from './reporter.ts';

/** Tunables of the link; every field has a production default. */
export interface FleetLinkSettings {
  /** The bootstrap (enroll) user's credentials; default: read from `enrollCredsFile`, else from the token file. */
  readonly enrollCreds?: Uint8Array;
  readonly enrollCredsFile?: string;
  /** Key ids the first trust store must be signed by. */
  readonly pinnedKeyIds?: readonly string[];
  /** Selector labels reported in the inventory (`site=ams`). */
  readonly labels?: Readonly<Record<string, string>>;
  readonly hostname?: string;
  readonly agentVersion?: string;
  /** Heartbeat period (plus up to 20 % jitter). Default 10 s. */
  readonly heartbeatMs?: number;
  /**
   * Which job events are published and how many (link/core/event-policy.ts): transitions after a
   * settle time under a per-node token bucket, repeats in a summary per job per minute.
   */
  readonly events?: Partial<EventPolicyConfig>;
  /** Minimum time between status puts. Default 1 s. */
  readonly statusMinIntervalMs?: number;
  /** Status put even when unchanged (KV "last seen"). Default 60 s. */
  readonly statusRefreshMs?: number;
  /** Periodic job-state scan (when the supervisor's onStatus is not wired). Default 2 s. */
  readonly scanMs?: number;
  /** Periodic level check of desired vs. observed (drift safety net). Default 30 s. */
  readonly resyncMs?: number;
  /** Reconnect (and enrolment retry) backoff. Default 1 s base, 30 s cap, full jitter. */
  readonly backoff?: BackoffPolicy;
  /**
   * After an established connection is lost, the first reconnect waits a uniformly random time
   * in [0, reconnectSpreadMs). A broker restart drops every agent at the same instant; with the
   * backoff alone most of them come back within its first 1-2 s windows, a herd that overloaded
   * a 2-core broker at 5,000 agents (test/bench/FLEET-RESULTS.md). Spread over 30 s, 10,000
   * agents arrive at ~330/s (ANCHORS F.7). Jobs keep running meanwhile; only reporting and new
   * desired state wait. Default: the backoff's cap (30 s).
   */
  readonly reconnectSpreadMs?: number;
  /**
   * The same first wait when the server announced lame-duck mode before it closed the
   * connection (a rolling restart or an upgrade, `nats-server --signal ldm`): the server itself
   * spreads its closes over its lame-duck duration, so the agent reconnects to another server
   * almost at once instead of waiting out the whole spread. Default 1 s.
   */
  readonly lameDuckSpreadMs?: number;
  /** Connect timeout. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Events kept while offline (oldest dropped first). Default 1000. */
  readonly maxQueuedEvents?: number;
  /** Tolerated clock skew for bundle validity windows. Default 60 s. */
  readonly maxSkewMs?: number;
  /**
   * Safety-net re-read of the trust store, which the node follows by a core subscription
   * (no consumer) and so cannot replay what was published while it was away. Default 5 min.
   */
  readonly trustRefreshMs?: number;
}

export interface FleetLinkOptions {
  /** The agent config; `controller` must be set. */
  readonly config: Pick<AgentConfig, 'controller'>;
  readonly stateDir: string;
  /** Started (its system domain exists). */
  readonly domainManager: DomainManager;
  readonly fs: FileSystemPort;
  readonly clock: Clock;
  readonly scheduler?: Scheduler;
  readonly log: SupervisorLog;
  readonly users?: UserDb;
  readonly loader?: PlistLoader;
  readonly settings?: FleetLinkSettings;
  /** Uniform [0, 1) randomness (backoff, heartbeat spread). Default Math.random. */
  readonly random?: () => number;
  /** After each reconcile pass (tests). */
  readonly onPass?: (actions: readonly ReconcileAction[]) => void;
}

/** Where the link is. */
export type LinkState = 'enrolling' | 'connecting' | 'connected' | 'waiting' | 'stopped';

/** What metrics and `status` read. */
export interface FleetLinkStatus {
  readonly state: LinkState;
  readonly nodeId: string | undefined;
  readonly connected: boolean;
  /** Highest `lf_desired` revision applied. */
  readonly desiredRevision: number;
  /** Bundles refused, by reason. */
  readonly refusals: Readonly<Record<string, number>>;
  /** Drift repaired, by kind. */
  readonly drift: Readonly<Record<string, number>>;
  /** Successful (re)connections. */
  readonly connects: number;
  /** Failed connection attempts. */
  readonly connectFailures: number;
  readonly lastError: string | undefined;
  readonly reconcilePasses: number;
  readonly eventsQueued: number;
  readonly reporter: Readonly<ReporterStats>;
  /** The node's NATS credentials: expiry, renewal (credential-renewal.ts). */
  readonly credentials: CredentialsStatus | undefined;
}

/** The running link. */
export interface FleetLink {
  stop(): Promise<void>;
  status(): FleetLinkStatus;
  /** Wire into DomainManager `onStatus` for immediate job-state events. */
  onJobStatus(s: JobStatus): void;
  /** Resolves when no reconcile pass is running or requested (tests). */
  idle(): Promise<void>;
  /** The enrolled identity, once known. */
  readonly identity: NodeIdentity | undefined;
}

const defaults = {
  heartbeatMs: 10_000,
  statusMinIntervalMs: 1000,
  statusRefreshMs: 60_000,
  scanMs: 2000,
  resyncMs: 30_000,
  connectTimeoutMs: 5000,
  maxQueuedEvents: 1000,
} as const;

/** The longest a session set-up may take, however many were given up before it. */
const maxSetupMs = 120_000;

/** Starts the fleet link. Resolves once the last verified state has been handed to the reconciler. */
export async function startFleetLink(o: FleetLinkOptions): Promise<FleetLink> {
  const controller = o.config.controller;
  if (!controller) throw new Error('startFleetLink: config.controller is not set');
  const set = o.settings ?? {};
  const scheduler = o.scheduler ?? systemScheduler;
  const random = o.random ?? Math.random;
  const backoff = set.backoff ?? defaultBackoff;
  const reconnectSpreadMs = Math.max(0, set.reconnectSpreadMs ?? backoff.capMs);
  const lameDuckSpreadMs = Math.max(0, set.lameDuckSpreadMs ?? 1000);
  /** The last session ended because its connection closed (not a watch failure, not stop()). */
  let lostBroker = false;
  /** The last session's server announced lame-duck mode (it closes its clients spread over time). */
  let lameDuck = false;
  /** Session set-ups given up in a row (each doubles the next one's bound). */
  let setupTimeouts = 0;
  const log = o.log;
  const files = new ManagedFiles(o.stateDir, o.fs);
  const store = new DesiredStore(o.stateDir, o.fs);
  const refusals = new Map<string, number>();
  let state: LinkState = 'connecting';
  let identity: NodeIdentity | undefined;
  let trust: TrustStore | undefined;
  /** The trust store writes in flight, chained (see onTrust). */
  let trustWrites: Promise<void> = Promise.resolve();
  let nc: NatsConnection | undefined;
  let watch: DesiredWatch | undefined;
  let stopped = false;
  let connects = 0;
  let connectFailures = 0;
  let lastError: string | undefined;
  let wake: (() => void) | undefined;

  const hostname = set.hostname ?? osHostname();
  const agentVersion = set.agentVersion ?? packageVersion();
  const counters = () => ({ signatureRefusals: Object.fromEntries(refusals), drift: drift.counts() });
  const drift = new DriftDetector({
    fs: o.fs,
    scheduler,
    resyncMs: set.resyncMs ?? defaults.resyncMs,
    onSuspect: (why) => reconciler.requestPass(why),
  });
  const reconciler: Reconciler = new Reconciler({
    domainManager: o.domainManager,
    files,
    store,
    drift,
    loader: o.loader ?? modelPlistLoader(),
    log,
    wallMs: () => o.clock.wallMs(),
    monotonicMs: () => o.clock.monotonicMs(),
    scheduler,
    emit: (e) => reporter.emit(e),
    onPass: (actions) => {
      reporter.poke();
      o.onPass?.(actions);
    },
  });
  const reporter = new Reporter({
    hostname,
    agentVersion,
    labels: set.labels ?? {},
    domainManager: o.domainManager,
    reconciler,
    clock: o.clock,
    scheduler,
    log,
    ...(o.users && { users: o.users }),
    counters,
    heartbeatMs: set.heartbeatMs ?? defaults.heartbeatMs,
    ...(set.events && { events: set.events }),
    statusMinIntervalMs: set.statusMinIntervalMs ?? defaults.statusMinIntervalMs,
    statusRefreshMs: set.statusRefreshMs ?? defaults.statusRefreshMs,
    scanMs: set.scanMs ?? defaults.scanMs,
    maxQueuedEvents: set.maxQueuedEvents ?? defaults.maxQueuedEvents,
    random,
    // A session opened or closed: gui/* and user/* jobs follow it.
    onDomainsChanged: () => reconciler.requestPass('domains changed'),
  });

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = scheduler.after(ms, () => {
        wake = undefined;
        resolve();
      });
      wake = () => {
        t.cancel();
        wake = undefined;
        resolve();
      };
    });

  const loadTrust = async (): Promise<void> => {
    if (!identity) return;
    const r = await loadTrustStoreFile(
      identity.trustStorePath,
      set.pinnedKeyIds ? { pinnedKeyIds: set.pinnedKeyIds } : {},
    );
    if (r.ok) trust = r.store;
    else log('warn', 'link', `stored trust store refused: ${r.reason}: ${r.detail}`);
  };

  // ---- credentials: renewed before they expire (credential-renewal.ts) ------------------------
  let renewal: CredentialRenewal | undefined;
  /** Renewed credentials are on disk: reconnect with them now, without the spread. */
  let renewed = false;
  const startRenewal = async (id: NodeIdentity): Promise<void> => {
    renewal?.stop();
    renewal = new CredentialRenewal({
      identity: id,
      clock: o.clock,
      scheduler,
      random,
      log,
      onRenewed: () => {
        renewed = true;
        void nc?.close().catch(() => undefined);
      },
    });
    await renewal.start();
  };

  // ---- start: identity and the last verified state (no network needed) ---------------------
  identity = await loadIdentity(o.stateDir);
  if (identity) {
    await startRenewal(identity);
    reporter.setNodeId(identity.nodeId);
    await loadTrust();
    await reconciler.restore(trust, identity.nodeId);
  }
  drift.start();
  reporter.start();
  reconciler.requestPass('agent start');

  // ---- the connection loop -------------------------------------------------------------------
  /** The last enrolment attempt never reached the controller (not a refusal). */
  let lastEnrolUnreachable = false;
  /** Why the last enrolment attempt failed, classified (link-failure.ts). */
  let lastEnrolError: LaunchfleetError | undefined;
  /** An enrolment that cannot start: a person must give the agent what it needs. */
  const cannotEnrol = (why: string): false => {
    lastError = why;
    lastEnrolError = new FailedPreconditionError(why);
    return false;
  };
  const enrollOnce = async (again?: NodeIdentity): Promise<boolean> => {
    lastEnrolUnreachable = false;
    state = 'enrolling';
    const tokenFile = controller.bootstrapTokenFile;
    if (!tokenFile) return cannotEnrol('not enrolled and no controller.bootstrapTokenFile configured');
    let tokenText: string;
    try {
      tokenText = await readFile(tokenFile, 'utf8');
    } catch (e) {
      return cannotEnrol(`cannot read the bootstrap token file: ${messageOf(e)}`);
    }
    const token =
      tokenText
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.startsWith('lfbt_')) ?? '';
    let creds = set.enrollCreds;
    if (!creds && set.enrollCredsFile)
      creds = new Uint8Array(await readFile(set.enrollCredsFile).catch(() => Buffer.alloc(0)));
    if (!creds && tokenText.includes('-----BEGIN NATS USER JWT-----'))
      creds = new TextEncoder().encode(tokenText.slice(tokenText.indexOf('-----BEGIN NATS USER JWT-----')));
    if (!creds || creds.byteLength === 0)
      return cannotEnrol(
        'no enrolment credentials (settings.enrollCreds, enrollCredsFile, or a creds block in the token file)',
      );
    const r = await enroll({
      servers: [...controller.natsUrls],
      enrollCreds: creds,
      token,
      stateDir: o.stateDir,
      hostname,
      inventory: enrollInventory(set.labels ?? {}, agentVersion),
      ...(set.pinnedKeyIds && { pinnedKeyIds: set.pinnedKeyIds }),
      timeoutMs: set.connectTimeoutMs ?? defaults.connectTimeoutMs,
      now: () => o.clock.wallMs(),
      ...(again && { reenroll: { nodeId: again.nodeId, seed: (await readCredsParts(again))?.seed ?? '' } }),
    });
    lastEnrolUnreachable = !r.ok && r.error.kind === 'unreachable';
    if (!r.ok) {
      lastError = `enrolment failed: ${r.error.kind}: ${r.error.reason}: ${r.error.detail}`;
      lastEnrolError = enrolmentError(r.error, lastError);
      // Unreachable, or a controller too busy to answer (a fleet enrolling at once): retried with
      // backoff, not an error to page anyone about. A refused token or a bad reply is.
      const busy =
        r.error.kind === 'refused' && r.error.reason === 'internal' && r.error.detail.startsWith('busy');
      log(
        r.error.kind === 'unreachable' ? 'info' : busy ? 'warn' : 'error',
        'link',
        `${lastError}${busy ? ' (will retry)' : ''}`,
      );
      return false;
    }
    identity = r.value;
    await startRenewal(identity);
    log('info', 'link', `enrolled as ${identity.nodeId}`);
    reporter.setNodeId(identity.nodeId);
    await loadTrust();
    return true;
  };

  const session = async (id: NodeIdentity): Promise<void> => {
    state = 'connecting';
    lostBroker = false;
    const conn = await connectAsNode(id, {
      servers: [...controller.natsUrls],
      reconnect: false,
      maxReconnectAttempts: 0,
      timeoutMs: set.connectTimeoutMs ?? defaults.connectTimeoutMs,
      // A link that dies silently is noticed within three heartbeat periods (a ping per period,
      // closed at the second unanswered one): 30 s by default, inside the default offline
      // threshold of 90 s, instead of the client's 4 to 6 minutes (docs/fault-suite.md).
      pingIntervalMs: set.heartbeatMs ?? defaults.heartbeatMs,
    }).catch((e: unknown) => {
      // Which step failed is what an admin (and a benchmark's tally) needs: nats.js says only
      // "timeout" for a connect and for a request alike.
      throw new Error(`connect: ${messageOf(e)}`, { cause: e });
    });
    nc = conn;
    lameDuck = false;
    void (async () => {
      for await (const st of conn.status())
        if (st.type === 'ldm' && !lameDuck) {
          lameDuck = true;
          log(
            'info',
            'link',
            `${conn.getServer()} entered lame-duck mode; reconnecting elsewhere when it closes`,
          );
        }
    })().catch(() => undefined);
    const startedAt = o.clock.monotonicMs();
    try {
      // stop() ran while this connection was being made: it closed nothing, so close it here,
      // or the session would live on and stop() would wait for it forever.
      if (stopped) return;
      // A node whose stored store would not load (lost or damaged file) takes the published one,
      // as it did at enrolment: signed by a key the store itself lists (or a pinned key).
      if (!trust) log('warn', 'link', 'no usable trust store here: taking the one the controllers publish');
      const w = new DesiredWatch({
        nc: conn,
        nodeId: id.nodeId,
        trust,
        ...(set.pinnedKeyIds && { pinnedKeyIds: set.pinnedKeyIds }),
        clock: o.clock,
        applied: reconciler.applied,
        appliedRaw: reconciler.appliedRaw(),
        unheld: reconciler.unheld,
        ...(set.maxSkewMs !== undefined && { maxSkewMs: set.maxSkewMs }),
        ...(set.trustRefreshMs !== undefined && { trustRefreshMs: set.trustRefreshMs }),
        scheduler,
        log: (level, msg) => log(level, 'link', msg),
        onBundle: (b, meta) => reconciler.accept(b, meta),
        onRemoved: (label, revision) => reconciler.remove(label, revision),
        onTrust: (store, raw) => {
          trust = store;
          // One write after another, so the file ends with the last store accepted: revoking the
          // only trusted key publishes two stores at once (the first signed by the key it revokes,
          // which does not load on its own), and the second must be what a restart reads.
          trustWrites = trustWrites
            .then(() => writeFileAtomic(id.trustStorePath, raw, 0o600))
            .catch((e: unknown) => log('error', 'link', `cannot persist the trust store: ${messageOf(e)}`));
        },
        publish: (e) => reporter.emit(e),
        onEvent: (kind: NodeEventKind, reason: string, label?: string) => {
          if (kind === 'bundle-refused') refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
          if (kind.endsWith('-refused')) log('warn', label ?? 'link', `${kind}: ${reason}`);
        },
      });
      // The set-up (trust read, desired-state consumer, status bucket) is bounded: on a broker too
      // busy to answer, a set-up that waits for ever holds a connection and a half-made consumer
      // while the agent's retries add more (seen with 10,000 agents started at once). Closing the
      // connection fails whatever is still pending, and the finally below cleans up.
      // The bound doubles with each set-up given up in a row (up to 2 min): on a broker working
      // through a backlog (10,000 agents after a restart), abandoning set-ups at a fixed bound
      // throws away the work queued for them and queues it again, and nobody finishes.
      const setupMs = Math.min(
        maxSetupMs,
        3 * (set.connectTimeoutMs ?? defaults.connectTimeoutMs) * 2 ** setupTimeouts,
      );
      let setupTimer: TimerHandle | undefined;
      const nodes = await Promise.race([
        (async () => {
          await w.start();
          watch = w;
          return new Kvm(conn).open(buckets.nodes);
        })(),
        new Promise<never>((_, reject) => {
          setupTimer = scheduler.after(setupMs, () => {
            setupTimeouts++;
            reject(new TimeoutError(`session set-up took longer than ${setupMs} ms`, setupMs));
            void conn.close().catch(() => undefined);
          });
        }),
      ])
        .catch((e: unknown) => {
          const m = messageOf(e);
          throw m.startsWith('session set-up') ? e : new Error(`session set-up: ${m}`, { cause: e });
        })
        .finally(() => setupTimer?.cancel());
      setupTimeouts = 0;
      connects++;
      state = 'connected';
      lastError = undefined;
      log('info', 'link', `connected to ${conn.getServer()} as ${id.nodeId}`);
      reporter.attach(conn, nodes);
      renewal?.attach(conn);
      await Promise.race([conn.closed(), w.ended()]);
      lostBroker = conn.isClosed();
      // A watch that ended on an open connection would leave the node deaf: start over.
      if (!conn.isClosed()) log('warn', 'link', 'the desired-state watch ended; reconnecting');
    } finally {
      renewal?.detach();
      reporter.detach();
      await watch?.stop().catch(() => undefined);
      watch = undefined;
      nc = undefined;
      await conn.close().catch(() => undefined);
      if (!stopped)
        log('warn', 'link', `disconnected after ${Math.round((o.clock.monotonicMs() - startedAt) / 1000)} s`);
    }
  };

  // The loop's pacing is decided by core/link-loop.ts from how each pass ended; here is the I/O.
  const pacing: LinkPacing = { backoff, reconnectSpreadMs, lameDuckSpreadMs };
  const loop = async (): Promise<void> => {
    let pace = initialLinkLoop;
    let failure: LinkFailure | undefined;
    while (!stopped) {
      let outcome: LinkPassOutcome;
      try {
        if (!identity && !(await enrollOnce()))
          throw lastEnrolError ?? new Error(lastError ?? 'enrolment failed');
        const id = identity;
        if (id && renewal?.expired())
          await renewal.reenrol(
            controller.bootstrapTokenFile,
            async () =>
              (await enrollOnce(id)) ? 'enrolled' : lastEnrolUnreachable ? 'unreachable' : 'refused',
            () => lastError ?? '?',
          );
        if (!identity) outcome = { kind: 'no-identity' };
        else {
          const before = connects;
          await session(identity);
          const connected = connects > before;
          const wasRenewed = renewed;
          // A renewal that closed a session is used up once a session connected with it.
          if (connected) renewed = false;
          outcome = { kind: 'session-ended', connected, lostBroker, lameDuck, renewed: wasRenewed };
        }
      } catch (e) {
        connectFailures++;
        lastError = messageOf(e);
        // Classified once, here where the loop catches it (link-failure.ts): credentials NATS
        // refuses need a person and are not retried quickly; the rest back off.
        failure = linkFailure(e);
        outcome = failure.kind === 'authorization' ? { kind: 'refused' } : { kind: 'failed' };
      }
      if (stopped) break;
      const next = nextLinkWait(pace, outcome, pacing, random);
      pace = next.state;
      if (failure) {
        const { level, line } = linkFailureLine(failure, lastError ?? '', next.wait.ms);
        log(level, 'link', line);
        failure = undefined;
      }
      if (next.wait.kind === 'none') continue;
      state = 'waiting';
      await sleep(next.wait.ms);
    }
  };
  const looping = loop().catch((e: unknown) => log('error', 'link', `link loop ended: ${messageOf(e)}`));

  return {
    get identity() {
      return identity;
    },
    onJobStatus: (s) => {
      reporter.onJobStatus(s);
      // A managed job disabled by hand is drift: repair now rather than at the next level check.
      if (s.disabled && reconciler.managedVersion(s.domain, s.label) !== undefined)
        reconciler.requestPass(`${s.domain}/${s.label} disabled`);
    },
    idle: () => reconciler.idle(),
    status: () => ({
      state,
      nodeId: identity?.nodeId,
      connected: state === 'connected',
      desiredRevision: reconciler.revision,
      refusals: Object.fromEntries(refusals),
      drift: drift.counts(),
      connects,
      connectFailures,
      lastError,
      reconcilePasses: reconciler.passes,
      eventsQueued: reporter.queued,
      reporter: { ...reporter.stats },
      credentials: renewal?.status(),
    }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      wake?.();
      renewal?.stop();
      drift.stop();
      await reconciler.stop();
      await reporter.stop();
      await nc?.close().catch(() => undefined);
      await looping;
      await trustWrites;
      state = 'stopped';
    },
  };
}

/** The inventory sent at enrolment (flat strings). */
function enrollInventory(labels: Readonly<Record<string, string>>, agentVersion: string): Inventory {
  const os = process.platform === 'darwin' ? 'macos' : process.platform;
  return { ...labels, os, arch: process.arch, agentVersion };
}

/** node-agent's package version (dist/link/ -> ../../package.json). */
function packageVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
