/**
 * FleetService handlers: decode the request (proto-loader objects), call the app service,
 * encode the answer. No gRPC status decisions here: handlers throw the shared error classes
 * and api/status.ts maps them. Authentication, roles, audit and metrics are the server
 * wrapper's (grpc-server.ts).
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, InvalidArgumentError, NotFoundError, UnavailableError } from '@launchfleet/shared';
import type { JobStateReport } from '@launchfleet/shared/job/job-state';
import {
  controllerEventSource,
  decodeNodeEvent,
  eventsStream,
  isNodeId,
  subjects,
} from '@launchfleet/shared/messages/index';
import type { EnrollmentService } from '../enrollment/enrollment-service.ts';
import type { NatsIdentity } from '../identity/nats-identity.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { DesiredStateService } from '../desired/desired-state-service.ts';
import { type JobRecord, type TargetSpec } from '../desired/job-record.ts';
import { matchesSelector, parseSelector } from '../desired/core/selector.ts';
import type { FleetIndex, NodeView, Presence } from '../fleet/core/fleet-index.ts';
import type { FleetMetrics } from '../metrics/fleet-metrics.ts';

/** What the handlers work with. */
export interface FleetApp {
  readonly desired: DesiredStateService;
  readonly index: FleetIndex;
  readonly enrollment: EnrollmentService;
  readonly identity: NatsIdentity;
  readonly audit: AuditLog;
  readonly nc: NatsConnection;
  readonly clock: Clock;
  readonly metrics: FleetMetrics;
  readonly bundleValidityMs: number;
}

/** Per-call context the wrapper provides. */
export interface CallContext {
  /** The caller's token name (`anonymous` until authenticated). */
  who: string;
  /** What the call is about, for the audit entry (set by the handler once known). */
  target: string;
}

type Obj = Record<string, unknown>;
const str = (o: Obj, k: string): string => (typeof o[k] === 'string' ? o[k] : '');
const num = (o: Obj, k: string): number => (typeof o[k] === 'number' ? o[k] : 0);

/** The wire Target (oneof `kind`) to a TargetSpec. */
export function decodeTarget(t: unknown): TargetSpec {
  const o = (t ?? {}) as Obj;
  switch (o['kind']) {
    case 'nodes': {
      const names = ((o['nodes'] as Obj | undefined)?.['names'] ?? []) as unknown[];
      return {
        kind: 'nodes',
        names: names.filter((n): n is string => typeof n === 'string').map((n) => n.trim()),
      };
    }
    case 'selector':
      return { kind: 'selector', selector: str(o, 'selector') };
    case 'all':
      if (o['all'] === true) return { kind: 'all' };
      break;
    default:
      break;
  }
  throw new InvalidArgumentError('target: give nodes, a selector, or all', 'target');
}

export function encodeTarget(t: TargetSpec): Obj {
  switch (t.kind) {
    case 'nodes':
      return { nodes: { names: [...t.names] } };
    case 'selector':
      return { selector: t.selector };
    case 'all':
      return { all: true };
    default: {
      const never: never = t;
      return never;
    }
  }
}

const presenceName = (p: Presence) => (p === 'online' ? 'PRESENCE_ONLINE' : 'PRESENCE_OFFLINE');

/** The JobState message. */
function encodeJobState(s: JobStateReport): Obj {
  return { subState: s.subState, active: s.active, result: s.result };
}

function encodeJob(r: JobRecord, full: boolean): Obj {
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
  };
}

function summary(ix: FleetIndex, n: NodeView, now: number): Obj {
  return {
    nodeId: n.nodeId,
    hostname: n.hostname,
    presence: presenceName(ix.presence(n, now)),
    lastSeenMs: ix.lastSeen(n),
    stalenessMs: ix.staleness(n, now),
    health: ix.health(n),
    jobCount: n.status ? Object.keys(n.status.jobs).length : 0,
    problemCount: ix.problemCount(n),
    labels: { ...n.labels },
    revoked: n.revokedAt !== undefined,
    credentialsExpireAtMs: n.credentials?.expiresAt ?? 0,
    credentialsExpired: n.credentials?.expiresAt !== undefined && n.credentials.expiresAt <= now,
  };
}

function findNode(ix: FleetIndex, name: string): NodeView {
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

/** Concurrent WatchEvents streams per controller. */
const maxEventStreams = 64;

export class FleetHandlers {
  readonly #a: FleetApp;
  #streams = 0;

  constructor(app: FleetApp) {
    this.#a = app;
  }

  async ApplyJob(req: Obj, ctx: CallContext): Promise<Obj> {
    const target = decodeTarget(req['target']);
    const validity = num(req, 'validitySeconds');
    const r = await this.#a.desired.apply({
      plist: str(req, 'plist'),
      domain: str(req, 'domain') || 'system',
      target,
      validityMs: validity > 0 ? validity * 1000 : this.#a.bundleValidityMs,
      by: ctx.who,
    });
    ctx.target = `${r.label} v${r.version} -> ${r.targeted} nodes`;
    return {
      label: r.label,
      version: r.version,
      nodesTargeted: r.targeted,
      nodesWritten: r.written,
      nodesSuperseded: r.superseded,
      nodesRemoved: r.removed,
      failures: r.failures.slice(0, 100).map((f) => ({ nodeId: f.nodeId, reason: f.reason })),
      durationMs: r.durationMs,
      warnings: [...r.warnings],
    };
  }

  async DeleteJob(req: Obj, ctx: CallContext): Promise<Obj> {
    const label = str(req, 'label');
    ctx.target = label;
    const r = await this.#a.desired.delete(label, ctx.who);
    return {
      label: r.label,
      version: r.version,
      nodesRemoved: r.removed,
      failures: r.failures.slice(0, 100).map((f) => ({ nodeId: f.nodeId, reason: f.reason })),
    };
  }

  async ListJobs(): Promise<Obj> {
    return { jobs: (await this.#a.desired.list()).map((r) => encodeJob(r, false)) };
  }

  async GetJob(req: Obj): Promise<Obj> {
    const label = str(req, 'label');
    const r = await this.#a.desired.get(label);
    if (!r) throw new NotFoundError('job', label);
    return encodeJob(r, true);
  }

  ListNodes(req: Obj): Promise<Obj> {
    const ix = this.#a.index;
    const now = this.#a.clock.wallMs();
    const selText = str(req, 'selector');
    const sel = selText ? parseSelector(selText) : undefined;
    if (sel && !sel.ok) throw new InvalidArgumentError(`selector: ${sel.error}`, 'selector');
    const want = str(req, 'presence');
    const nodes: Obj[] = [];
    let online = 0;
    let offline = 0;
    for (const n of ix.nodes()) {
      if (sel?.ok && !matchesSelector(sel.value, n.labels)) continue;
      const p = ix.presence(n, now);
      if (want && want !== 'PRESENCE_UNSPECIFIED' && presenceName(p) !== want) continue;
      if (p === 'online') online++;
      else offline++;
      nodes.push(summary(ix, n, now));
    }
    nodes.sort(
      (a, b) =>
        String(a['hostname']).localeCompare(String(b['hostname'])) ||
        String(a['nodeId']).localeCompare(String(b['nodeId'])),
    );
    return Promise.resolve({ nodes, online, offline });
  }

  DescribeNode(req: Obj): Promise<Obj> {
    const ix = this.#a.index;
    const n = findNode(ix, str(req, 'node'));
    const now = this.#a.clock.wallMs();
    const jobs = Object.entries(n.status?.jobs ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([label, state]) => {
        const d = n.status?.details?.[label];
        return {
          label,
          domain: d?.domain ?? '',
          state: state.active,
          jobState: encodeJobState(state),
          version: n.status?.versions[label] ?? '',
          hasLastExitStatus: d?.lastExitStatus !== undefined,
          lastExitStatus: d?.lastExitStatus ?? 0,
          successiveCrashes: d?.successiveCrashes ?? 0,
          throttled: ix.problemOf(n.nodeId, label) === 'throttled',
          crashLooping: ix.problemOf(n.nodeId, label) === 'crash_looping',
          loadFailed: ix.problemOf(n.nodeId, label) === 'failed',
          reason: d?.reason ?? '',
        };
      });
    return Promise.resolve({
      summary: summary(ix, n, now),
      jobs,
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

  async JobHealth(req: Obj): Promise<Obj> {
    const label = str(req, 'label');
    if (label === '') throw new InvalidArgumentError('label is required', 'label');
    const record = await this.#a.desired.get(label);
    const t0 = performance.now();
    const max = Math.min(10_000, num(req, 'maxProblems') || 100);
    const now = this.#a.clock.wallMs();
    const ix = this.#a.index;
    const h = ix.jobHealth(label, now, max);
    const live = record && !record.deleted ? record : undefined;
    let missing = 0;
    let atDesired = 0;
    if (live) {
      const want = String(live.version);
      for (const id of live.nodeIds) {
        const n = ix.node(id);
        const v = n?.status?.versions[label];
        if (n?.status?.jobs[label] === undefined) missing++;
        if (v === want) atDesired++;
      }
    }
    const res = {
      label,
      desiredVersion: live?.version ?? 0,
      states: Object.fromEntries(h.states),
      subStates: Object.fromEntries(h.subStates),
      results: Object.fromEntries(h.results),
      nodesReporting: h.reporting,
      nodesOffline: h.offline,
      nodesTargeted: live?.nodeIds.length ?? 0,
      nodesMissing: missing,
      nodesAtDesiredVersion: atDesired,
      throttled: h.problemCounts.throttled,
      crashLooping: h.problemCounts.crash_looping,
      failed: h.problemCounts.failed,
      problems: h.problems.map((p) => ({
        nodeId: p.node.nodeId,
        hostname: p.node.hostname,
        problem: p.problem,
        state: p.state.active,
        jobState: encodeJobState(p.state),
        domain: p.detail?.domain ?? '',
        hasLastExitStatus: p.detail?.lastExitStatus !== undefined,
        lastExitStatus: p.detail?.lastExitStatus ?? 0,
        successiveCrashes: p.detail?.successiveCrashes ?? 0,
        presence: presenceName(p.presence),
        stalenessMs: p.stalenessMs,
        version: p.version ?? '',
        reason: p.detail?.reason ?? '',
      })),
      problemsTruncated: h.problemsTruncated,
      generatedAtMs: now,
      queryMicros: 0,
    };
    const seconds = (performance.now() - t0) / 1000;
    this.#a.metrics.healthQuerySeconds.observe(seconds);
    res.queryMicros = Math.round(seconds * 1e6);
    return res;
  }

  /** Streams events until the call ends (`signal`). */
  async WatchEvents(
    req: Obj,
    _ctx: CallContext,
    emit: (ev: Obj) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    // Each stream holds a JetStream consumer: bound them, so clients cannot exhaust the server.
    if (this.#streams >= maxEventStreams)
      throw new UnavailableError(`${maxEventStreams} event streams are open on this controller; retry later`);
    this.#streams++;
    try {
      await this.#watchEvents(req, emit, signal);
    } finally {
      this.#streams--;
    }
  }

  async #watchEvents(req: Obj, emit: (ev: Obj) => Promise<void>, signal: AbortSignal): Promise<void> {
    const source = str(req, 'source');
    if (source && source !== controllerEventSource && !isNodeId(source))
      throw new InvalidArgumentError('source must be a node id or "controller"', 'source');
    const label = str(req, 'label');
    const history = num(req, 'historySeconds');
    const js = jetstream(this.#a.nc);
    const consumer = await js.consumers.get(eventsStream.name, {
      filter_subjects: source ? subjects.eventsOf(source) : eventsStream.subjects[0],
      ...(history > 0
        ? {
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(this.#a.clock.wallMs() - history * 1000).toISOString(),
          }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const send = async (m: { seq: number; time: Date; data: Uint8Array }): Promise<void> => {
      const e = decodeNodeEvent(m.data);
      if (!e.ok || (label && e.value.label !== label)) return;
      await emit({
        seq: m.seq,
        atMs: m.time.getTime(),
        source: e.value.source,
        kind: e.value.kind,
        label: e.value.label ?? '',
        reason: e.value.reason ?? '',
        detail: e.value.detail ?? '',
        version: e.value.version ?? 0,
        ...(e.value.jobState && { jobState: encodeJobState(e.value.jobState) }),
      });
    };
    try {
      if (req['follow'] !== true) {
        // Stored events only: stop when the consumer has nothing pending.
        while (!signal.aborted) {
          const m = await consumer.next({ expires: 1000 });
          if (!m) break;
          await send(m);
          if (m.info.pending === 0) break;
        }
        return;
      }
      const messages = await consumer.consume();
      const stop = () => messages.stop();
      signal.addEventListener('abort', stop, { once: true });
      try {
        if (signal.aborted) return;
        for await (const m of messages) {
          await send(m);
          if (signal.aborted) break;
        }
      } finally {
        signal.removeEventListener('abort', stop);
        messages.stop();
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  async CreateEnrollmentToken(req: Obj, ctx: CallContext): Promise<Obj> {
    const ttl = num(req, 'ttlSeconds') || 24 * 3600;
    const maxUses = num(req, 'maxUses') || 1;
    if (ttl > 366 * 24 * 3600) throw new InvalidArgumentError('ttl_seconds at most one year', 'ttl_seconds');
    if (maxUses > 100_000) throw new InvalidArgumentError('max_uses at most 100000', 'max_uses');
    const { token, id } = await this.#a.enrollment.createToken({ ttlMs: ttl * 1000, maxUses });
    ctx.target = `token ${id}`;
    return {
      token,
      id,
      expiresAtMs: this.#a.clock.wallMs() + ttl * 1000,
      maxUses,
      enrollCredentials: new TextDecoder().decode(await this.#a.identity.enrollCreds()),
    };
  }

  async RevokeNode(req: Obj, ctx: CallContext): Promise<Obj> {
    const nodeId = str(req, 'nodeId');
    ctx.target = nodeId;
    if (!isNodeId(nodeId)) throw new InvalidArgumentError('node_id is not a node id', 'node_id');
    const r = await this.#a.enrollment.revokeNode(nodeId);
    return {
      nodeId,
      revokedAtMs: r.revokedAt * 1000,
      publicKey: r.publicKey,
      acks: r.acks.map((a) => ({ server: a.server, ok: a.ok, message: a.message })),
      servers: r.servers.map((v) => ({ server: v.server, inForce: v.inForce })),
    };
  }

  async ListAuditEntries(req: Obj): Promise<Obj> {
    const limit = Math.min(1000, num(req, 'limit') || 100);
    const method = str(req, 'method');
    if (method && !/^[A-Za-z]{1,64}$/.test(method))
      throw new InvalidArgumentError('method is a gRPC method name', 'method');
    const entries = await this.#a.audit.list(limit, method || undefined);
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
