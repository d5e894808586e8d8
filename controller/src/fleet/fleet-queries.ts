/**
 * The fleet's read questions, answered from the fleet index (fleet/core/fleet-index.ts) and the
 * desired-state records: which nodes are there, what does one node run, how is one job doing
 * across the fleet. The gRPC handlers (api/fleet-handlers.ts) and any other front end (the web
 * console) call these and only encode the answer.
 */
import { type Clock, InvalidArgumentError, NotFoundError } from '@launchfleet/shared';
import type { JobStateReport } from '@launchfleet/shared/job';
import { type JobDetail, type NodeHealth, type RetryingJob, isNodeId } from '@launchfleet/shared/messages';
import { matchesSelector, parseSelector } from '../desired/core/selector.ts';
import type { DesiredStateService } from '../desired/desired-state-service.ts';
import type { FleetMetrics } from '../metrics/fleet-metrics.ts';
import type { FleetIndex, JobHealth, NodeView, Presence } from './core/fleet-index.ts';
import type { JobProblem } from './core/job-problem.ts';

/** One node as lists show it. */
export interface NodeSummary {
  readonly node: NodeView;
  readonly presence: Presence;
  /** Last report of any kind (0 = never). */
  readonly lastSeen: number;
  /** now - last report; -1 when never seen. */
  readonly staleness: number;
  readonly health: NodeHealth | 'unknown';
  readonly jobCount: number;
  readonly problemCount: number;
  /** The node's NATS credentials have expired (it must renew or re-enrol). */
  readonly credentialsExpired: boolean;
}

/** One job as a node reports it. */
export interface NodeJob {
  readonly label: string;
  readonly state: JobStateReport;
  /** The bundle version the node runs, when it says. */
  readonly version: string | undefined;
  readonly detail: JobDetail | undefined;
  readonly problem: JobProblem | undefined;
  /** Set while the node's reconciler is retrying the job (the status's `retrying`). */
  readonly retry: RetryingJob | undefined;
}

export interface NodeDescription {
  readonly summary: NodeSummary;
  /** By label. */
  readonly jobs: readonly NodeJob[];
}

/** The fleet-wide health of one job, with what its desired record says. */
export interface JobHealthAnswer extends JobHealth {
  /** The desired version applied through this controller; 0 when never (health is still answered). */
  readonly desiredVersion: number;
  readonly targeted: number;
  /** Targeted nodes that do not report the job (yet). */
  readonly missing: number;
  readonly atDesiredVersion: number;
  readonly generatedAt: number;
  readonly queryMicros: number;
}

export interface FleetQueriesDeps {
  readonly index: FleetIndex;
  readonly desired: Pick<DesiredStateService, 'get'>;
  readonly clock: Clock;
  readonly metrics?: Pick<FleetMetrics, 'healthQuerySeconds'>;
}

export class FleetQueries {
  readonly #d: FleetQueriesDeps;

  constructor(d: FleetQueriesDeps) {
    this.#d = d;
  }

  /** Nodes matching a selector (`site=ams,os`) and a presence, by hostname then id. */
  listNodes(q: { readonly selector?: string; readonly presence?: Presence }): {
    readonly nodes: readonly NodeSummary[];
    readonly online: number;
    readonly offline: number;
  } {
    const now = this.#d.clock.wallMs();
    const sel = q.selector ? parseSelector(q.selector) : undefined;
    if (sel && !sel.ok) throw new InvalidArgumentError(`selector: ${sel.error}`, 'selector');
    const nodes: NodeSummary[] = [];
    let online = 0;
    let offline = 0;
    for (const n of this.#d.index.nodes()) {
      if (sel?.ok && !matchesSelector(sel.value, n.labels)) continue;
      const s = this.#summary(n, now);
      if (q.presence !== undefined && s.presence !== q.presence) continue;
      if (s.presence === 'online') online++;
      else offline++;
      nodes.push(s);
    }
    nodes.sort(
      (a, b) => a.node.hostname.localeCompare(b.node.hostname) || a.node.nodeId.localeCompare(b.node.nodeId),
    );
    return { nodes, online, offline };
  }

  /** One node (by id, or by a hostname only one node has) and the jobs it reports. */
  describeNode(name: string): NodeDescription {
    const ix = this.#d.index;
    const n = this.findNode(name);
    const jobs = Object.entries(n.status?.jobs ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([label, state]) => ({
        label,
        state,
        version: n.status?.versions[label],
        detail: n.status?.details?.[label],
        problem: ix.problemOf(n.nodeId, label),
        retry: n.status?.retrying?.find((r) => r.label === label),
      }));
    return { summary: this.#summary(n, this.#d.clock.wallMs()), jobs };
  }

  /** How `label` does across the fleet; at most `maxProblems` problem nodes listed (counts are complete). */
  async jobHealth(label: string, maxProblems: number): Promise<JobHealthAnswer> {
    if (label === '') throw new InvalidArgumentError('label is required', 'label');
    const record = await this.#d.desired.get(label);
    const t0 = performance.now();
    const now = this.#d.clock.wallMs();
    const ix = this.#d.index;
    const h = ix.jobHealth(label, now, maxProblems);
    const live = record && !record.deleted ? record : undefined;
    let missing = 0;
    let atDesired = 0;
    if (live) {
      const want = String(live.version);
      for (const id of live.nodeIds) {
        const status = ix.node(id)?.status;
        if (status?.jobs[label] === undefined) missing++;
        if (status?.versions[label] === want) atDesired++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    this.#d.metrics?.healthQuerySeconds.observe(seconds);
    return {
      ...h,
      desiredVersion: live?.version ?? 0,
      targeted: live?.nodeIds.length ?? 0,
      missing,
      atDesiredVersion: atDesired,
      generatedAt: now,
      queryMicros: Math.round(seconds * 1e6),
    };
  }

  /** A node by id, or by a hostname that names exactly one node. */
  findNode(name: string): NodeView {
    const ix = this.#d.index;
    if (isNodeId(name)) {
      const n = ix.node(name);
      if (n) return n;
    }
    const byHost = [...ix.nodes()].filter((n) => n.hostname === name);
    if (byHost.length === 1 && byHost[0]) return byHost[0];
    if (byHost.length > 1)
      throw new InvalidArgumentError(`hostname ${name} is ambiguous: use the node id`, 'node');
    throw new NotFoundError('node', name.slice(0, 253));
  }

  #summary(n: NodeView, now: number): NodeSummary {
    const ix = this.#d.index;
    return {
      node: n,
      presence: ix.presence(n, now),
      lastSeen: ix.lastSeen(n),
      staleness: ix.staleness(n, now),
      health: ix.health(n),
      jobCount: n.status ? Object.keys(n.status.jobs).length : 0,
      problemCount: ix.problemCount(n),
      credentialsExpired: n.credentials?.expiresAt !== undefined && n.credentials.expiresAt <= now,
    };
  }
}
