/**
 * The controller's in-memory view of the fleet, kept current by KV watches (registry, node
 * status, inventory) and heartbeats, so a fleet-wide question costs a lookup, not a scan of
 * 10,000 KV keys. Pure: every time is passed in by the caller.
 *
 * Indexes (Invariants):
 * - `#byLabel.get(label).get(stateKey(s))` holds exactly the nodes whose current status reports
 *   `label` in the typed state `s` (a status replaces the node's previous entries as a whole).
 * - `#problems.get(label)` holds exactly the nodes where `jobProblem(...)` of that label is set.
 * So a health query walks the states of one label (a handful) and its problem nodes (few in a
 * healthy fleet); presence is computed from last-seen times at query time, never stored.
 */
import type { ActiveState, JobResult, JobStateReport, JobSubStateKind } from '@launchfleet/shared/job';
import type { JobDetail, NodeHealth, NodeStatus } from '@launchfleet/shared/messages';
import { type JobProblem, jobProblem } from './job-problem.ts';

/** The credentials the controller last issued to a node (registry record). */
export interface NodeCredentialsView {
  readonly expiresAt: number | undefined;
  readonly issuedAt: number | undefined;
  readonly issuer: string | undefined;
  readonly renewals: number;
}

/** What the index knows about one node. */
export interface NodeView {
  readonly nodeId: string;
  hostname: string;
  /** Selector labels: enrolment inventory, replaced by the node's own inventory key. */
  labels: Readonly<Record<string, string>>;
  enrolledAt: number;
  revokedAt: number | undefined;
  publicKey: string;
  /** The node's credentials (registry): expiry (undefined: never), issue time, issuer, renewals. */
  credentials: NodeCredentialsView | undefined;
  /** False for a node seen in `lf_nodes` before its registry record (or after its removal). */
  registered: boolean;
  status: NodeStatus | undefined;
  /** Wall time (server time of the KV entry) of the last status. */
  statusAt: number;
  /** Wall time the last heartbeat arrived. */
  heartbeatAt: number;
  heartbeatSeq: number;
}

export type Presence = 'online' | 'offline';

/** One node where a job is in trouble, as a health query lists it. */
export interface ProblemEntry {
  readonly node: NodeView;
  readonly problem: JobProblem;
  readonly state: JobStateReport;
  readonly detail: JobDetail | undefined;
  readonly version: string | undefined;
  readonly presence: Presence;
  readonly stalenessMs: number;
}

/** The answer to "how is this job doing across the fleet?". */
export interface JobHealth {
  readonly label: string;
  /** Nodes by active state. */
  readonly states: ReadonlyMap<ActiveState, number>;
  /** Nodes by sub-state. */
  readonly subStates: ReadonlyMap<JobSubStateKind, number>;
  /** Nodes by the result of the job's last run. */
  readonly results: ReadonlyMap<JobResult, number>;
  readonly reporting: number;
  readonly offline: number;
  readonly problemCounts: Readonly<Record<JobProblem, number>>;
  /** At most `maxProblems`, crash-looping first, then failed, then throttled; by node id. */
  readonly problems: readonly ProblemEntry[];
  readonly problemsTruncated: boolean;
  /** Nodes reporting each version string of the job. */
  readonly versions: ReadonlyMap<string, number>;
}

const problemOrder: Record<JobProblem, number> = { crash_looping: 0, failed: 1, throttled: 2 };

/** The index key of a typed state (its three words; a handful of distinct keys per label). */
const stateKey = (s: JobStateReport): string => `${s.subState} ${s.active} ${s.result}`;

/** Nodes in one typed state. */
interface StateNodes {
  readonly state: JobStateReport;
  readonly nodes: Set<string>;
}

function bump<K>(m: Map<K, number>, k: K, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}
export class FleetIndex {
  readonly #nodes = new Map<string, NodeView>();
  readonly #byLabel = new Map<string, Map<string, StateNodes>>();
  readonly #problems = new Map<string, Map<string, JobProblem>>();
  /** Nodes that wrote their own inventory key. */
  readonly #ownInventory = new Set<string>();
  /** How long without a report before a node counts as offline. */
  readonly offlineAfterMs: number;

  constructor(offlineAfterMs: number) {
    this.offlineAfterMs = offlineAfterMs;
  }

  get size(): number {
    return this.#nodes.size;
  }

  node(nodeId: string): NodeView | undefined {
    return this.#nodes.get(nodeId);
  }

  nodes(): IterableIterator<NodeView> {
    return this.#nodes.values();
  }

  /** Labels some node reports. */
  labels(): IterableIterator<string> {
    return this.#byLabel.keys();
  }

  /** Registry record seen (enrolment or revocation). */
  upsertRegistered(r: {
    nodeId: string;
    hostname: string;
    inventory: Readonly<Record<string, string>>;
    enrolledAt: number;
    revokedAt?: number | undefined;
    publicKey: string;
    credentials?: NodeCredentialsView | undefined;
  }): void {
    const n = this.#ensure(r.nodeId);
    n.registered = true;
    // The node's own inventory key, once written, is newer than what it said at enrolment.
    if (!this.#ownInventory.has(r.nodeId)) {
      n.hostname = r.hostname;
      n.labels = { ...r.inventory };
    }
    n.enrolledAt = r.enrolledAt;
    n.revokedAt = r.revokedAt;
    n.publicKey = r.publicKey;
    n.credentials = r.credentials;
  }

  /** Registry record removed. */
  removeRegistered(nodeId: string): void {
    const n = this.#nodes.get(nodeId);
    if (!n) return;
    this.setStatus(nodeId, undefined, 0);
    this.#ownInventory.delete(nodeId);
    this.#nodes.delete(nodeId);
  }

  /** The node's own inventory key (hostname and selector labels). */
  setInventory(nodeId: string, hostname: string, labels: Readonly<Record<string, string>>): void {
    const n = this.#ensure(nodeId);
    n.hostname = hostname;
    n.labels = { ...labels };
    this.#ownInventory.add(nodeId);
  }

  /** A status arrived (or was deleted: `status` undefined) at wall time `at`. */
  setStatus(nodeId: string, status: NodeStatus | undefined, at: number): void {
    const n = status ? this.#ensure(nodeId) : this.#nodes.get(nodeId);
    if (!n) return;
    if (n.status) {
      for (const [label, state] of Object.entries(n.status.jobs)) {
        const states = this.#byLabel.get(label);
        const k = stateKey(state);
        const entry = states?.get(k);
        entry?.nodes.delete(nodeId);
        if (entry && entry.nodes.size === 0) states?.delete(k);
        if (states && states.size === 0) this.#byLabel.delete(label);
        const p = this.#problems.get(label);
        p?.delete(nodeId);
        if (p && p.size === 0) this.#problems.delete(label);
      }
    }
    n.status = status;
    if (!status) return;
    n.statusAt = Math.max(n.statusAt, at);
    for (const [label, state] of Object.entries(status.jobs)) {
      let states = this.#byLabel.get(label);
      if (!states) this.#byLabel.set(label, (states = new Map<string, StateNodes>()));
      const k = stateKey(state);
      let entry = states.get(k);
      if (!entry) states.set(k, (entry = { state, nodes: new Set<string>() }));
      entry.nodes.add(nodeId);
      const problem = jobProblem(state, status.details?.[label]);
      if (problem) {
        let p = this.#problems.get(label);
        if (!p) this.#problems.set(label, (p = new Map<string, JobProblem>()));
        p.set(nodeId, problem);
      }
    }
  }

  /** A heartbeat arrived. Heartbeats of nodes the index does not know are ignored (false). */
  heartbeat(nodeId: string, seq: number, at: number): boolean {
    const n = this.#nodes.get(nodeId);
    if (!n) return false;
    n.heartbeatAt = Math.max(n.heartbeatAt, at);
    n.heartbeatSeq = seq;
    return true;
  }

  /** Last report of any kind (0 = never). */
  lastSeen(n: NodeView): number {
    return Math.max(n.statusAt, n.heartbeatAt);
  }

  presence(n: NodeView, now: number): Presence {
    const seen = this.lastSeen(n);
    return seen > 0 && now - seen <= this.offlineAfterMs ? 'online' : 'offline';
  }

  /** now - last report, or -1 when never seen. */
  staleness(n: NodeView, now: number): number {
    const seen = this.lastSeen(n);
    return seen > 0 ? Math.max(0, now - seen) : -1;
  }

  /** The node's health as shown in lists: its own, or `unknown` before its first status. */
  health(n: NodeView): NodeHealth | 'unknown' {
    return n.status?.health ?? 'unknown';
  }

  /** Jobs of a node in a problem state. */
  problemCount(n: NodeView): number {
    if (!n.status) return 0;
    let c = 0;
    for (const label of Object.keys(n.status.jobs)) if (this.#problems.get(label)?.has(n.nodeId)) c++;
    return c;
  }

  /** Problem of one job on one node, if any. */
  problemOf(nodeId: string, label: string): JobProblem | undefined {
    return this.#problems.get(label)?.get(nodeId);
  }

  /**
   * The nodes reporting `label`, grouped by the typed state they report it in (the index's own
   * sets: callers must not change them). Nothing for a label no node reports.
   */
  stateGroups(
    label: string,
  ): Iterable<{ readonly state: JobStateReport; readonly nodes: ReadonlySet<string> }> {
    return this.#byLabel.get(label)?.values() ?? [];
  }

  /** Labels with at least one node in a problem state, with those nodes and their problems. */
  problemsByLabel(): ReadonlyMap<string, ReadonlyMap<string, JobProblem>> {
    return this.#problems;
  }

  /** Per-label counts by active state (for the fleet gauge). */
  stateCounts(label: string): ReadonlyMap<ActiveState, number> {
    const out = new Map<ActiveState, number>();
    for (const { state, nodes } of this.#byLabel.get(label)?.values() ?? [])
      bump(out, state.active, nodes.size);
    return out;
  }

  /** Every (node, label, problem) triple (for the per-node problem series). */
  *problemEntries(): Generator<{ node: NodeView; label: string; problem: JobProblem }> {
    for (const [label, nodes] of this.#problems) {
      for (const [nodeId, problem] of nodes) {
        const node = this.#nodes.get(nodeId);
        if (node) yield { node, label, problem };
      }
    }
  }

  /** Fleet-wide health of one job label. */
  jobHealth(label: string, now: number, maxProblems: number): JobHealth {
    const states = new Map<ActiveState, number>();
    const subStates = new Map<JobSubStateKind, number>();
    const results = new Map<JobResult, number>();
    const versions = new Map<string, number>();
    let reporting = 0;
    let offline = 0;
    for (const { state, nodes } of this.#byLabel.get(label)?.values() ?? []) {
      bump(states, state.active, nodes.size);
      bump(subStates, state.subState, nodes.size);
      bump(results, state.result, nodes.size);
      reporting += nodes.size;
      for (const id of nodes) {
        const n = this.#nodes.get(id);
        if (!n) continue;
        if (this.presence(n, now) === 'offline') offline++;
        const v = n.status?.versions[label];
        if (v !== undefined) versions.set(v, (versions.get(v) ?? 0) + 1);
      }
    }
    const problemCounts: Record<JobProblem, number> = { throttled: 0, crash_looping: 0, failed: 0 };
    const all: ProblemEntry[] = [];
    for (const [id, problem] of this.#problems.get(label) ?? []) {
      const node = this.#nodes.get(id);
      if (!node?.status) continue;
      const state = node.status.jobs[label];
      if (!state) continue;
      problemCounts[problem]++;
      all.push({
        node,
        problem,
        state,
        detail: node.status.details?.[label],
        version: node.status.versions[label],
        presence: this.presence(node, now),
        stalenessMs: this.staleness(node, now),
      });
    }
    all.sort(
      (a, b) =>
        problemOrder[a.problem] - problemOrder[b.problem] ||
        (a.node.nodeId < b.node.nodeId ? -1 : a.node.nodeId > b.node.nodeId ? 1 : 0),
    );
    const cap = Math.max(0, maxProblems);
    return {
      label,
      states,
      subStates,
      results,
      reporting,
      offline,
      problemCounts,
      problems: all.slice(0, cap),
      problemsTruncated: all.length > cap,
      versions,
    };
  }

  #ensure(nodeId: string): NodeView {
    let n = this.#nodes.get(nodeId);
    if (!n) {
      n = {
        nodeId,
        hostname: '',
        labels: {},
        enrolledAt: 0,
        revokedAt: undefined,
        credentials: undefined,
        publicKey: '',
        registered: false,
        status: undefined,
        statusAt: 0,
        heartbeatAt: 0,
        heartbeatSeq: 0,
      };
      this.#nodes.set(nodeId, n);
    }
    return n;
  }
}
