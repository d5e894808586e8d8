/**
 * FleetService handlers: decode the request (the generated message types of fleet.proto, see
 * fleet-messages.ts), call a service, encode the answer. The services answer the questions:
 * fleet/fleet-queries.ts (nodes, one node, a job's health), fleet/event-follower.ts (events),
 * desired/desired-state-service.ts (apply, delete, jobs), enrollment, audit. No gRPC status
 * decisions here: handlers and services throw the shared error classes and api/status.ts maps
 * them. Authentication, roles, audit and metrics are the call policy's (grpc-methods.ts).
 */
import { type Clock, InvalidArgumentError, NotFoundError } from '@launchfleet/shared';
import type { JobStateReport } from '@launchfleet/shared/job';
import { type JobDetail, isNodeId } from '@launchfleet/shared/messages';
import type { AuditLog } from '../audit/audit-log.ts';
import type { DesiredStateService } from '../desired/desired-state-service.ts';
import type { JobRecord, TargetSpec } from '../desired/job-record.ts';
import type { EnrollmentService } from '../enrollment/enrollment-service.ts';
import type { Presence as IndexPresence } from '../fleet/core/fleet-index.ts';
import type { EventFollower, StoredEvent } from '../fleet/event-follower.ts';
import type { FleetQueries, NodeSummary as NodeSummaryView } from '../fleet/fleet-queries.ts';
import type { NatsIdentity } from '../identity/nats-identity.ts';
import type * as m from './fleet-messages.ts';

/** The services the handlers call. */
export interface FleetServices {
  readonly desired: DesiredStateService;
  readonly queries: FleetQueries;
  readonly events: EventFollower;
  readonly enrollment: EnrollmentService;
  readonly identity: NatsIdentity;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly bundleValidityMs: number;
}

/** Per-call context the call policy provides. */
export interface CallContext {
  /** The caller's token name (`anonymous` until authenticated). */
  who: string;
  /** What the call is about, for the audit entry (set by the handler once known). */
  target: string;
}

/** The wire Target (oneof `kind`) to a TargetSpec. */
export function decodeTarget(t: m.Target | null): TargetSpec {
  const kind = t?.kind;
  switch (kind) {
    case 'nodes':
      return { kind: 'nodes', names: (t?.nodes?.names ?? []).map((n) => n.trim()) };
    case 'selector':
      return { kind: 'selector', selector: t?.selector ?? '' };
    case 'all':
      if (t?.all === true) return { kind: 'all' };
      break;
    case undefined:
      break;
    default: {
      const never: never = kind;
      void never;
    }
  }
  throw new InvalidArgumentError('target: give nodes, a selector, or all', 'target');
}

export function encodeTarget(t: TargetSpec): m.Target {
  switch (t.kind) {
    case 'nodes':
      return { kind: 'nodes', nodes: { names: [...t.names] } };
    case 'selector':
      return { kind: 'selector', selector: t.selector };
    case 'all':
      return { kind: 'all', all: true };
    default: {
      const never: never = t;
      return never;
    }
  }
}

const presenceName = (p: IndexPresence): m.Presence =>
  p === 'online' ? 'PRESENCE_ONLINE' : 'PRESENCE_OFFLINE';

function decodePresence(p: m.Presence): IndexPresence | undefined {
  if (p === 'PRESENCE_ONLINE') return 'online';
  if (p === 'PRESENCE_OFFLINE') return 'offline';
  return undefined;
}

function encodeJobState(s: JobStateReport): m.JobState {
  return { subState: s.subState, active: s.active, result: s.result };
}

/** The fields of a job detail every job-shaped message carries. */
function detailFields(d: JobDetail | undefined) {
  return {
    domain: d?.domain ?? '',
    hasLastExitStatus: d?.lastExitStatus !== undefined,
    lastExitStatus: d?.lastExitStatus ?? 0,
    successiveCrashes: d?.successiveCrashes ?? 0,
    reason: d?.reason ?? '',
  };
}

/** A job record as the API answers it; `full` (GetJob): with the plist and the node ids. */
export function encodeJob(r: JobRecord, full: boolean): m.Job {
  return {
    label: r.label,
    domain: r.domain,
    version: r.version,
    plist: full ? r.plist : '',
    target: encodeTarget(r.target),
    nodeCount: r.nodeIds.length,
    nodeIds: full ? [...r.nodeIds] : [],
    updatedAtMs: r.updatedAt,
    updatedBy: r.updatedBy,
    deleted: r.deleted,
    clearingCount: r.clearing?.length ?? 0,
    clearingNodeIds: full ? [...(r.clearing ?? [])] : [],
    clearingUnlisted: r.clearingUnlisted === true,
  };
}

function encodeSummary(s: NodeSummaryView): m.NodeSummary {
  return {
    nodeId: s.node.nodeId,
    hostname: s.node.hostname,
    presence: presenceName(s.presence),
    lastSeenMs: s.lastSeen,
    stalenessMs: s.staleness,
    health: s.health,
    jobCount: s.jobCount,
    problemCount: s.problemCount,
    labels: { ...s.node.labels },
    revoked: s.node.revokedAt !== undefined,
    credentialsExpireAtMs: s.node.credentials?.expiresAt ?? 0,
    credentialsExpired: s.credentialsExpired,
  };
}

function encodeEvent(e: StoredEvent): m.Event {
  const v = e.event;
  return {
    seq: e.seq,
    atMs: e.at,
    source: v.source,
    kind: v.kind,
    label: v.label ?? '',
    reason: v.reason ?? '',
    detail: v.detail ?? '',
    version: v.version ?? 0,
    jobState: v.jobState ? encodeJobState(v.jobState) : null,
  };
}

const failures = (f: readonly { nodeId: string; reason: string }[]) =>
  f.slice(0, 100).map((x) => ({ nodeId: x.nodeId, reason: x.reason }));

export class FleetHandlers {
  readonly #s: FleetServices;

  constructor(services: FleetServices) {
    this.#s = services;
  }

  async ApplyJob(req: m.ApplyJobRequest, ctx: CallContext): Promise<m.ApplyJobResponse> {
    const r = await this.#s.desired.apply({
      plist: req.plist,
      domain: req.domain || 'system',
      target: decodeTarget(req.target),
      validityMs: req.validitySeconds > 0 ? req.validitySeconds * 1000 : this.#s.bundleValidityMs,
      by: ctx.who,
    });
    ctx.target = `${r.label} v${r.version} -> ${r.targeted} nodes`;
    return {
      label: r.label,
      version: r.version,
      nodesTargeted: r.targeted,
      nodesWritten: r.written,
      nodesSuperseded: r.superseded,
      nodesUnchanged: r.unchanged,
      nodesRemoved: r.removed,
      failures: failures(r.failures),
      durationMs: r.durationMs,
      warnings: [...r.warnings],
    };
  }

  async DeleteJob(req: m.DeleteJobRequest, ctx: CallContext): Promise<m.DeleteJobResponse> {
    ctx.target = req.label;
    const r = await this.#s.desired.delete(req.label, ctx.who);
    return {
      label: r.label,
      version: r.version,
      nodesRemoved: r.removed,
      failures: failures(r.failures),
      warnings: [...r.warnings],
    };
  }

  async ListJobs(): Promise<m.ListJobsResponse> {
    return { jobs: (await this.#s.desired.list()).map((r) => encodeJob(r, false)) };
  }

  async GetJob(req: m.GetJobRequest): Promise<m.Job> {
    const r = await this.#s.desired.get(req.label);
    if (!r) throw new NotFoundError('job', req.label);
    return encodeJob(r, true);
  }

  ListNodes(req: m.ListNodesRequest): Promise<m.ListNodesResponse> {
    const presence = decodePresence(req.presence);
    const r = this.#s.queries.listNodes({
      ...(req.selector !== '' && { selector: req.selector }),
      ...(presence !== undefined && { presence }),
    });
    return Promise.resolve({ nodes: r.nodes.map(encodeSummary), online: r.online, offline: r.offline });
  }

  DescribeNode(req: m.DescribeNodeRequest): Promise<m.NodeDetail> {
    const d = this.#s.queries.describeNode(req.node);
    const n = d.summary.node;
    return Promise.resolve({
      summary: encodeSummary(d.summary),
      jobs: d.jobs.map((j): m.NodeJob => ({
        label: j.label,
        ...detailFields(j.detail),
        state: j.state.active,
        jobState: encodeJobState(j.state),
        version: j.version ?? '',
        throttled: j.problem === 'throttled',
        crashLooping: j.problem === 'crash_looping',
        loadFailed: j.problem === 'failed',
        retry: j.retry
          ? { why: j.retry.why, failures: j.retry.failures, nextAttemptAtMs: j.retry.nextAttemptAt ?? 0 }
          : null,
      })),
      enrolledAtMs: n.enrolledAt,
      revokedAtMs: n.revokedAt ?? 0,
      publicKey: n.publicKey,
      lastStatusMs: n.statusAt,
      lastHeartbeatMs: n.heartbeatAt,
      credentialsIssuedAtMs: n.credentials?.issuedAt ?? 0,
      credentialRenewals: n.credentials?.renewals ?? 0,
      credentialsIssuer: n.credentials?.issuer ?? '',
    });
  }

  async JobHealth(req: m.JobHealthRequest): Promise<m.JobHealthResponse> {
    const h = await this.#s.queries.jobHealth(req.label, Math.min(10_000, req.maxProblems || 100));
    return {
      label: h.label,
      desiredVersion: h.desiredVersion,
      states: Object.fromEntries(h.states),
      subStates: Object.fromEntries(h.subStates),
      results: Object.fromEntries(h.results),
      nodesReporting: h.reporting,
      nodesOffline: h.offline,
      nodesTargeted: h.targeted,
      nodesMissing: h.missing,
      nodesAtDesiredVersion: h.atDesiredVersion,
      throttled: h.problemCounts.throttled,
      crashLooping: h.problemCounts.crash_looping,
      failed: h.problemCounts.failed,
      problems: h.problems.map((p): m.ProblemNode => ({
        nodeId: p.node.nodeId,
        hostname: p.node.hostname,
        problem: p.problem,
        ...detailFields(p.detail),
        state: p.state.active,
        jobState: encodeJobState(p.state),
        presence: presenceName(p.presence),
        stalenessMs: p.stalenessMs,
        version: p.version ?? '',
      })),
      problemsTruncated: h.problemsTruncated,
      generatedAtMs: h.generatedAt,
      queryMicros: h.queryMicros,
    };
  }

  /** Streams events until the call ends (`signal`). */
  WatchEvents(
    req: m.WatchEventsRequest,
    _ctx: CallContext,
    emit: (ev: m.Event) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    return this.#s.events.follow(
      {
        ...(req.source !== '' && { source: req.source }),
        ...(req.label !== '' && { label: req.label }),
        historySeconds: req.historySeconds,
        follow: req.follow,
      },
      (e) => emit(encodeEvent(e)),
      signal,
    );
  }

  async CreateEnrollmentToken(
    req: m.CreateEnrollmentTokenRequest,
    ctx: CallContext,
  ): Promise<m.CreateEnrollmentTokenResponse> {
    const ttl = req.ttlSeconds || 24 * 3600;
    const maxUses = req.maxUses || 1;
    if (ttl > 366 * 24 * 3600) throw new InvalidArgumentError('ttl_seconds at most one year', 'ttl_seconds');
    if (maxUses > 100_000) throw new InvalidArgumentError('max_uses at most 100000', 'max_uses');
    const { token, id } = await this.#s.enrollment.createToken({ ttlMs: ttl * 1000, maxUses });
    ctx.target = `token ${id}`;
    return {
      token,
      id,
      expiresAtMs: this.#s.clock.wallMs() + ttl * 1000,
      maxUses,
      enrollCredentials: new TextDecoder().decode(await this.#s.identity.enrollCreds()),
    };
  }

  async RevokeNode(req: m.RevokeNodeRequest, ctx: CallContext): Promise<m.RevokeNodeResponse> {
    const nodeId = req.nodeId;
    ctx.target = nodeId;
    if (!isNodeId(nodeId)) throw new InvalidArgumentError('node_id is not a node id', 'node_id');
    const r = await this.#s.enrollment.revokeNode(nodeId);
    return {
      nodeId,
      revokedAtMs: r.revokedAt * 1000,
      publicKey: r.publicKey,
      acks: r.acks.map((a) => ({ server: a.server, ok: a.ok, message: a.message })),
      servers: r.servers.map((v) => ({ server: v.server, inForce: v.inForce })),
    };
  }

  async ListAuditEntries(req: m.ListAuditEntriesRequest): Promise<m.ListAuditEntriesResponse> {
    const limit = Math.min(1000, req.limit || 100);
    const method = req.method;
    if (method && !/^[A-Za-z]{1,64}$/.test(method))
      throw new InvalidArgumentError('method is a gRPC method name', 'method');
    const entries = await this.#s.audit.list(limit, method || undefined);
    return {
      entries: entries.map((e) => ({
        seq: e.seq,
        atMs: e.at,
        who: e.who,
        role: e.role,
        method: e.method,
        target: e.target,
        outcome: e.outcome,
        detail: e.detail,
      })),
    };
  }
}
