/**
 * The fleet link's inputs and outputs, as types: its tunables (every one with a production
 * default), the options `startFleetLink` takes, and what its status says. fleet-link.ts wires the
 * link from these; link-context.ts holds its state while it runs.
 */
import type { Clock, Scheduler } from '@launchfleet/shared/clock';
import type { AgentConfig } from '../config/agent-config.ts';
import type { FileSystemPort } from '../ports/file-system.ts';
import type { UserDb } from '../ports/user-db.ts';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import type { BackoffPolicy } from './core/backoff.ts';
import type { EventPolicyConfig } from './core/event-policy.ts';
import type { ReconcileAction } from './core/reconcile-plan.ts';
import type { CredentialsStatus } from './credential-renewal.ts';
import type { NodeIdentity } from './credentials.ts';
import type { RetryingJobView } from './reconciler.ts';
import type { ReporterStats } from './reporter.ts';

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
  /**
   * The reporter's safety-net scan: job status changes and domains coming and going are pushed
   * (reporter.ts); the scan only catches one that was not. Default 30 s, the drift level
   * check's period (`resyncMs`): a missed change waits no longer than missed drift does.
   */
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
   * agents arrive at ~330/s (the reconnect anchor: docs/engineering.md, "Benchmarks"). Jobs
   * keep running meanwhile; only reporting and new desired state wait. Default: the backoff's
   * cap (30 s).
   */
  readonly reconnectSpreadMs?: number;
  /**
   * The same first wait when the server announced lame-duck mode before it closed the
   * connection (a rolling restart or an upgrade, `nats-server --signal ldm`): the server itself
   * spreads its closes over its lame-duck duration, so the agent reconnects to another server
   * almost at once instead of waiting out the whole spread. Default 1 s.
   */
  readonly lameDuckSpreadMs?: number;
  /**
   * When the session's server announces lame-duck mode and the controller lists other servers,
   * the session moves to the next one in the node's order (link-session.ts, make-before-break)
   * at a random time within this window, before the server closes it: a rolling restart then
   * costs no session gap. 0: do not move; reconnect once the server closes the connection.
   * Default 6 s: within nats-server's lame-duck grace period (10 s by default; it closes clients
   * after it), with the rest of the grace left for the move's set-up (at 2,000 simulated agents
   * on 2 cores, a 10-s window left moves drawn late in it still setting up when the closes began).
   */
  readonly lameDuckMoveSpreadMs?: number;
  /**
   * A session that is not on the node's home server (core/server-order.ts) moves back home,
   * make-before-break, at a random time in [minMs, maxMs]; tried again as long as home does not
   * answer. false: stay. Default 1 to 5 min: a restarted server gets its share back within
   * minutes, spread, without a reconnect wave.
   */
  readonly returnHomeMs?: { readonly minMs: number; readonly maxMs: number } | false;
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
  /**
   * Safety-net re-read of this node's desired keys, which it follows by a core subscription and
   * so can miss while its server is cut from the cluster with the connection up. Default 5 min.
   */
  readonly desiredRecheckMs?: number;
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
  /** How sessions changed, by kind: `connect` (made after none) and the moves (link-session.ts). */
  readonly sessionChanges: Readonly<Record<string, number>>;
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
  /** The jobs the reconciler is trying again by itself, with why and when (lfctl `print <domain>`). */
  retrying(): readonly RetryingJobView[];
  /** Resolves when no reconcile pass is running or requested (tests). */
  idle(): Promise<void>;
  /** The enrolled identity, once known. */
  readonly identity: NodeIdentity | undefined;
}

/** The production defaults of the settings that have a plain value. */
export const linkDefaults = {
  heartbeatMs: 10_000,
  statusMinIntervalMs: 1000,
  statusRefreshMs: 60_000,
  scanMs: 30_000,
  resyncMs: 30_000,
  connectTimeoutMs: 5000,
  maxQueuedEvents: 1000,
  lameDuckMoveSpreadMs: 6000,
  returnHomeMs: { minMs: 60_000, maxMs: 300_000 } as
    { readonly minMs: number; readonly maxMs: number } | false,
} as const;
