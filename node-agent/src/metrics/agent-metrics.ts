/**
 * The agent's Prometheus metrics (names, types and labels from the shared catalog, which the
 * alert rules and dashboards use): per job and per agent, rendered in the text format at scrape
 * time from the agent's own counts (prom-exposition.ts; no prom-client objects kept per job).
 *
 * Two kinds of numbers, kept apart on purpose:
 * - Counters count events when they happen (exits by reason, runs, socket activations, the spawn
 *   latency histogram), from the DomainManager's job-event hook. They are never recomputed from
 *   state, so a scrape that misses a crash still sees the count go up.
 * - Gauges are read at scrape time from the jobs' status snapshots, so they cannot drift from
 *   what `lfctl print` shows.
 *
 * Label sets stay bounded: `state` and `reason` come from the catalog's fixed lists, a job's
 * series exist only while it is loaded (removed at its removal event, and pruned at scrape time
 * as a second line of defence), the link's reason/kind maps are capped, and so are load failures.
 * All per-job gauges of one scrape share one pass over the domains (memoised for the tick).
 *
 * Over 400 lines because it declares every agent metric of the catalog, one block each; the
 * blocks share the memoised pass and the pruning of removed jobs, which is why they stay here.
 */
import { hostname as osHostname } from 'node:os';
import {
  EXIT_REASON_VALUES,
  JOB_STATE_VALUES,
  agentMetrics,
  jobMetrics,
  type MetricDef,
} from '@launchfleet/shared/metrics';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { BootstrapReport } from '../supervisor/domains/domain.ts';
import { LaunchdCode } from '../supervisor/domains/launchd-errors.ts';
import { labelIsSafe } from '../supervisor/domains/path-safety.ts';
import type { JobRunnerEvent } from '../supervisor/job-runner-events.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import {
  exitReason,
  isThrottled,
  jobStateValue,
  lastExitStatus,
  type ExitReason,
} from './job-metric-values.ts';
import {
  EXPOSITION_CONTENT_TYPE,
  ExpositionWriter,
  FixedHistogram,
  type MetricsRegistry,
} from './prom-exposition.ts';
import { buildSnapshot, type AgentMetricsSnapshot, type JobMetricsSnapshot } from './snapshot.ts';

/**
 * What the fleet link knows, read at scrape time. Built by the link (node-agent/src/link/); a
 * source that throws reads as disconnected with no counts, never as a failed scrape.
 */
export interface LinkMetricsSource {
  /** True while the NATS connection is up. */
  connected(): boolean;
  /** Highest desired-state revision applied (0 before the first). */
  desiredRevision(): number;
  /** Cumulative bundle refusals by reason (a small fixed set of reasons). */
  refusals(): Readonly<Record<string, number>>;
  /** Cumulative drift repairs by kind. */
  drift(): Readonly<Record<string, number>>;
  /** Cumulative NATS session changes by kind (connect, moves). */
  sessionChanges?(): Readonly<Record<string, number>>;
  /** The node id once enrolled. */
  nodeId?(): string | undefined;
  /** The node's credentials: expiry (ms, undefined: never), expired, renewals so far. */
  credentials?():
    | { readonly expiresAt: number | undefined; readonly expired: boolean; readonly renewals: number }
    | undefined;
}

export interface AgentMetricsOptions {
  readonly domainManager: Pick<DomainManager, 'domains' | 'domain' | 'onJobEvent'>;
  readonly link?: LinkMetricsSource;
  /** Buckets of `launchfleet_agent_spawn_seconds`, in seconds. */
  readonly spawnBuckets?: readonly number[];
  /** At most this many `load_failed` entries are kept (default 1000). */
  readonly maxLoadFailures?: number;
  /** `launchfleet_agent_info`'s hostname and version (default: os.hostname(), "unknown"). */
  readonly info?: { readonly hostname: string; readonly version: string };
}

/** The metrics and the hooks other parts of the agent call. */
export interface AgentMetrics {
  /** The exposition, rendered at each call (what /metrics serves). */
  readonly registry: MetricsRegistry;
  /**
   * Counts one socket activation of a loaded job. Starts that go through the job machine (a
   * readable listener triggers the job, spawn reason `ipc (socket)`) are counted automatically;
   * call this only for starts that bypass the machine (e.g. inetd-style per-connection instances).
   * Unknown jobs are ignored (bounded labels).
   */
  socketActivation(domain: string, label: string): void;
  /** Attaches (or detaches) the fleet link after creation. */
  setLink(link: LinkMetricsSource | undefined): void;
  /** Marks a label of a domain as failed (or no longer failed) to load. */
  setLoadFailed(domain: string, label: string, failed: boolean): void;
  /** Records a bootstrap's failures as load failures and clears the labels it loaded. */
  recordBootstrapReport(domain: string, report: BootstrapReport): void;
  /** The same numbers as a compact JSON summary for the fleet link (see snapshot.ts). */
  snapshot(maxJobs?: number): AgentMetricsSnapshot;
  /** Stops listening to job events (the registry keeps its metrics). */
  close(): void;
}

/** Spawn latency through the exec shim is milliseconds; seconds mean a stalled machine. */
export const DEFAULT_SPAWN_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** At most this many reasons / kinds are read from the link (the message schema's bound too). */
const MAX_LINK_KEYS = 32;
/** Bootstrap failures that are not a job failing to load. */
const NOT_LOAD_FAILURES: ReadonlySet<number> = new Set([
  LaunchdCode.ALREADY_LOADED,
  LaunchdCode.DISABLED,
  LaunchdCode.DOMAIN_TEARING_DOWN,
]);

/** What the metrics count per loaded job between scrapes. */
interface JobRecord {
  readonly domain: string;
  readonly label: string;
  runs: number;
  readonly exits: Record<ExitReason, number>;
  socketActivations: number;
  spawnSeconds?: number;
  timerLagSeconds?: number;
}

/** One loaded job as a scrape sees it. */
interface JobView {
  readonly s: JobStatus;
  readonly r: JobRecord;
  /** The `{domain, label}` label set, built once per scrape and shared by every per-job series. */
  readonly labels: { readonly domain: string; readonly label: string };
}

/** One scrape's view of the loaded jobs. */
interface View {
  readonly statuses: readonly JobStatus[];
  readonly jobs: readonly JobView[];
  readonly jobsByKind: Readonly<Record<'system' | 'gui' | 'user', number>>;
  readonly domains: ReadonlySet<string>;
}

const key = (domain: string, label: string): string => `${domain}\u0000${label}`;

function checked(d: MetricDef, type: MetricDef['type']): MetricDef {
  if (d.type !== type) throw new TypeError(`${d.name} is a ${d.type} in the catalog, not a ${type}`);
  return d;
}

/** Creates the agent's metrics over a DomainManager and subscribes to its job events. */
export function createAgentMetrics(o: AgentMetricsOptions): AgentMetrics {
  const dm = o.domainManager;
  let link = o.link;
  const maxLoadFailures = o.maxLoadFailures ?? 1000;
  const records = new Map<string, JobRecord>();
  const loadFailures = new Map<string, { readonly domain: string; readonly label: string }>();

  // ---- the scrape's view, memoised for one tick: every collect() of a scrape runs in the same tick.
  let memo: View | undefined;
  const view = (): View => {
    if (memo) return memo;
    const statuses: JobStatus[] = [];
    const jobsByKind = { system: 0, gui: 0, user: 0 };
    const domains = new Set<string>();
    for (const d of dm.domains()) {
      domains.add(d.target);
      const st = d.statuses();
      jobsByKind[d.kind] += st.length;
      for (const s of st) statuses.push(s);
    }
    const live = new Set<string>();
    const jobs: JobView[] = [];
    for (const s of statuses) {
      live.add(key(s.domain, s.label));
      jobs.push({ s, r: ensure(s.domain, s.label), labels: { domain: s.domain, label: s.label } });
    }
    for (const k of records.keys()) if (!live.has(k)) drop(k);
    for (const [k, f] of loadFailures) if (!domains.has(f.domain)) loadFailures.delete(k);
    memo = { statuses, jobs, jobsByKind, domains };
    queueMicrotask(() => (memo = undefined));
    return memo;
  };
  const jobLabels = (s: { domain: string; label: string }) => ({ domain: s.domain, label: s.label });

  // ---- counted at events (JobRecord), rendered at scrape time
  const spawnSeconds = new FixedHistogram(o.spawnBuckets ?? DEFAULT_SPAWN_BUCKETS);

  function ensure(domain: string, label: string): JobRecord {
    const k = key(domain, label);
    let r = records.get(k);
    if (r) return r;
    r = {
      domain,
      label,
      runs: 0,
      exits: Object.fromEntries(EXIT_REASON_VALUES.map((r) => [r, 0])) as Record<ExitReason, number>,
      socketActivations: 0,
    };
    // Rendered from the start (zeros), so rate() and increase() see the first exit.
    records.set(k, r);
    return r;
  }

  function drop(k: string): void {
    records.delete(k);
  }

  function countSocketActivation(r: JobRecord): void {
    r.socketActivations += 1;
  }

  const onEvent = (domain: string, label: string, ev: JobRunnerEvent): void => {
    switch (ev.type) {
      case 'exited': {
        const r = ensure(domain, label);
        const reason = exitReason(ev);
        r.exits[reason] += 1;
        r.runs += 1;
        return;
      }
      case 'spawned': {
        const r = ensure(domain, label);
        const s = Math.max(0, ev.latencyMs) / 1000;
        r.spawnSeconds = s;
        spawnSeconds.observe(s);
        if (ev.reason === 'ipc (socket)') countSocketActivation(r);
        return;
      }
      case 'timer-fired':
        ensure(domain, label).timerLagSeconds = Math.max(0, ev.lagMs) / 1000;
        return;
      case 'removed':
        drop(key(domain, label));
        return;
      default: {
        const never: never = ev;
        void never;
      }
    }
  };
  const unsubscribe = dm.onJobEvent(onEvent);

  // ---- the link's numbers, read at scrape time
  const readLink = <T>(read: (l: LinkMetricsSource) => T, fallback: T): T => {
    if (!link) return fallback;
    try {
      return read(link);
    } catch {
      return fallback;
    }
  };

  const hostname = o.info?.hostname ?? osHostname();

  /** The whole exposition, from the records and the jobs' statuses of this tick. */
  const render = (): string => {
    const v = view();
    const w = new ExpositionWriter();
    const perJob = (d: MetricDef, value: (j: JobView) => number | undefined): void => {
      w.family(checked(d, 'gauge'));
      for (const j of v.jobs) {
        const x = value(j);
        if (x !== undefined && Number.isFinite(x)) w.sample(d.name, j.labels, x);
      }
    };
    w.family(checked(jobMetrics.runs, 'counter'));
    for (const j of v.jobs) w.sample(jobMetrics.runs.name, j.labels, j.r.runs);
    w.family(checked(jobMetrics.exits, 'counter'));
    for (const j of v.jobs)
      for (const reason of EXIT_REASON_VALUES)
        w.sample(jobMetrics.exits.name, { ...j.labels, reason }, j.r.exits[reason]);
    w.family(checked(jobMetrics.socketActivations, 'counter'));
    for (const j of v.jobs) w.sample(jobMetrics.socketActivations.name, j.labels, j.r.socketActivations);
    w.histogram(checked(agentMetrics.spawnSeconds, 'histogram'), spawnSeconds);
    w.family(checked(jobMetrics.state, 'gauge'));
    for (const { s, labels } of v.jobs) {
      const current = jobStateValue(s);
      if (current === undefined) continue;
      for (const state of JOB_STATE_VALUES)
        w.sample(jobMetrics.state.name, { ...labels, state }, state === current ? 1 : 0);
    }
    perJob(jobMetrics.throttled, (j) => (isThrottled(j.s) ? 1 : 0));
    perJob(jobMetrics.crashLooping, (j) => (j.s.crashLooping ? 1 : 0));
    perJob(jobMetrics.disabled, (j) => (j.s.disabled ? 1 : 0));
    perJob(jobMetrics.successiveCrashes, (j) => j.s.successiveCrashes);
    perJob(jobMetrics.lastExitStatus, (j) => lastExitStatus(j.s));
    perJob(jobMetrics.spawnDuration, (j) => j.r.spawnSeconds);
    perJob(jobMetrics.timerLag, (j) => j.r.timerLagSeconds);
    w.family(checked(jobMetrics.loadFailed, 'gauge'));
    const loaded = new Set<string>();
    for (const j of v.jobs) {
      loaded.add(key(j.s.domain, j.s.label));
      w.sample(jobMetrics.loadFailed.name, j.labels, 0);
    }
    for (const [k, f] of loadFailures)
      if (!loaded.has(k)) w.sample(jobMetrics.loadFailed.name, jobLabels(f), 1);
    // The node this agent is, for rules that prefer an agent's own series to the controller's
    // re-export of them (deploy/prometheus/rules): the node id, or the hostname before enrolment.
    w.family(checked(agentMetrics.info, 'gauge'));
    w.sample(
      agentMetrics.info.name,
      {
        node: readLink((l) => l.nodeId?.(), undefined) ?? hostname,
        hostname,
        version: o.info?.version ?? 'unknown',
      },
      1,
    );
    w.family(checked(agentMetrics.natsConnected, 'gauge'));
    w.sample(agentMetrics.natsConnected.name, undefined, readLink((l) => l.connected(), false) ? 1 : 0);
    w.family(checked(agentMetrics.desiredRevision, 'gauge'));
    const rev = readLink((l) => l.desiredRevision(), 0);
    w.sample(
      agentMetrics.desiredRevision.name,
      undefined,
      typeof rev === 'number' && Number.isFinite(rev) && rev >= 0 ? rev : 0,
    );
    const linkCounter = (
      d: MetricDef,
      labelName: 'reason' | 'kind',
      read: (l: LinkMetricsSource) => unknown,
    ) => {
      w.family(checked(d, 'counter'));
      for (const [k, n] of boundedCounts(readLink(read, undefined))) w.sample(d.name, { [labelName]: k }, n);
    };
    const creds = readLink((l) => l.credentials?.(), undefined);
    const exp = creds?.expiresAt;
    w.family(checked(agentMetrics.credentialsExpiry, 'gauge'));
    w.sample(
      agentMetrics.credentialsExpiry.name,
      undefined,
      typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? Math.floor(exp / 1000) : 0,
    );
    w.family(checked(agentMetrics.credentialsExpired, 'gauge'));
    w.sample(agentMetrics.credentialsExpired.name, undefined, creds?.expired === true ? 1 : 0);
    w.family(checked(agentMetrics.credentialRenewals, 'counter'));
    const renewals = creds?.renewals;
    w.sample(
      agentMetrics.credentialRenewals.name,
      undefined,
      typeof renewals === 'number' && Number.isFinite(renewals) && renewals > 0 ? renewals : 0,
    );
    linkCounter(agentMetrics.signatureRefusals, 'reason', (l) => l.refusals());
    linkCounter(agentMetrics.drift, 'kind', (l) => l.drift());
    linkCounter(agentMetrics.sessionChanges, 'kind', (l) => l.sessionChanges?.());
    w.family(checked(agentMetrics.jobsLoaded, 'gauge'));
    for (const domain_kind of ['system', 'gui', 'user'] as const)
      w.sample(agentMetrics.jobsLoaded.name, { domain_kind }, v.jobsByKind[domain_kind]);
    return w.text();
  };
  const registry: MetricsRegistry = {
    contentType: EXPOSITION_CONTENT_TYPE,
    metrics: () => {
      try {
        return Promise.resolve(render());
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };

  const isLoaded = (domain: string, label: string): boolean => {
    const d = dm.domain(domain);
    return d.ok && d.value.runner(label) !== undefined;
  };

  return {
    registry,
    socketActivation(domain, label) {
      const r = records.get(key(domain, label));
      if (r) countSocketActivation(r);
      else if (isLoaded(domain, label)) countSocketActivation(ensure(domain, label));
    },
    setLink(l) {
      link = l;
    },
    setLoadFailed(domain, label, failed) {
      const k = key(domain, label);
      if (!failed) loadFailures.delete(k);
      else if (loadFailures.has(k) || loadFailures.size < maxLoadFailures)
        loadFailures.set(k, { domain, label });
    },
    recordBootstrapReport(domain, report) {
      for (const f of report.failures) {
        if (NOT_LOAD_FAILURES.has(f.code)) continue;
        const label = f.label ?? labelFromPath(f.path);
        if (label !== undefined) this.setLoadFailed(domain, label, true);
      }
      for (const label of report.loaded) this.setLoadFailed(domain, label, false);
    },
    snapshot(maxJobs) {
      const v = view();
      const jobs: JobMetricsSnapshot[] = [];
      for (const { s, r } of v.jobs) {
        const state = jobStateValue(s);
        if (state === undefined) continue;
        const exitCounts: Partial<Record<ExitReason, number>> = {};
        for (const reason of EXIT_REASON_VALUES)
          if (r.exits[reason] > 0) exitCounts[reason] = r.exits[reason];
        const last = lastExitStatus(s);
        jobs.push({
          domain: s.domain,
          label: s.label,
          state,
          ...(s.disabled ? { disabled: true as const } : {}),
          ...(r.runs > 0 ? { runs: r.runs, exits: exitCounts } : {}),
          ...(isThrottled(s) ? { throttled: true as const } : {}),
          ...(s.crashLooping !== undefined ? { crashLooping: true as const } : {}),
          ...(s.successiveCrashes > 0 ? { successiveCrashes: s.successiveCrashes } : {}),
          ...(last !== undefined ? { lastExitStatus: last } : {}),
        });
      }
      const loaded = new Set(v.statuses.map((s) => key(s.domain, s.label)));
      const failed = [...loadFailures].filter(([k]) => !loaded.has(k)).map(([, f]) => f);
      const rev = readLink((l) => l.desiredRevision(), 0);
      return buildSnapshot(
        jobs,
        failed,
        {
          natsConnected: readLink((l) => l.connected(), false) === true,
          desiredRevision: typeof rev === 'number' && Number.isFinite(rev) && rev >= 0 ? rev : 0,
          signatureRefusals: Object.fromEntries(boundedCounts(readLink((l) => l.refusals(), undefined))),
          drift: Object.fromEntries(boundedCounts(readLink((l) => l.drift(), undefined))),
          jobsLoaded: { ...v.jobsByKind },
        },
        maxJobs,
      );
    },
    close() {
      unsubscribe();
    },
  };
}

/** A link's count map, sanitised: short non-empty keys, finite non-negative counts, at most 32, sorted. */
function boundedCounts(raw: unknown): [string, number][] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  return Object.entries(raw as Record<string, unknown>)
    .filter(
      (e): e is [string, number] =>
        e[0].length > 0 &&
        e[0].length <= 64 &&
        typeof e[1] === 'number' &&
        Number.isFinite(e[1]) &&
        e[1] >= 0,
    )
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_LINK_KEYS);
}

/** launchd's convention: `<label>.plist`. Only a safe label is used (bounded, printable). */
function labelFromPath(path: string | undefined): string | undefined {
  const base = path?.split('/').pop();
  const label = base?.endsWith('.plist') ? base.slice(0, -'.plist'.length) : undefined;
  return label !== undefined && labelIsSafe(label) ? label : undefined;
}
