/**
 * The node's status snapshot (`lf_nodes` `<nodeId>.status`, also the answer to a status query)
 * and its inventory (`<nodeId>.inventory`), built from what the supervisor and the reconciler
 * know now. Small: one short entry per job, no history; beyond `maxSnapshotJobs` the rest are
 * left out. The jobs the reconciler is retrying are listed with why and when it tries next.
 */
import type { JobStateReport } from '@launchfleet/shared/job';
import { LOAD_FAILED } from '@launchfleet/shared/job';
import {
  type AgentCounters,
  type JobDetail,
  type NodeInventory,
  type NodeStatus,
  type RetryingJob,
  maxRetryingJobs,
} from '@launchfleet/shared/messages';
import type { DomainManager } from '../../supervisor/domains/domain-manager.ts';
import { lastExitStatus } from '../../supervisor/job-status.ts';
import type { UserDb } from '../../ports/user-db.ts';
import type { RetryingJobView } from '../reconciler.ts';
import { jobDetail, jobState, nodeHealth } from '../core/job-report.ts';

/** What the snapshot needs from the reconciler. */
export interface ReconcilerView {
  managedVersion(target: string, label: string): number | undefined;
  failures(): readonly { target: string; label: string; version: number; reason: string }[];
  invalidJobs(): readonly { label: string; domain: string; version: number; reason: string }[];
  /** Jobs waiting for a retry (reconciler.ts `retrying`). */
  retrying(): readonly RetryingJobView[];
  readonly revision: number;
}

/** Jobs in one snapshot: beyond this, problem jobs first, the rest summarised by count. */
const maxSnapshotJobs = 2000;

export interface SnapshotSources {
  readonly nodeId: string;
  readonly agentVersion: string;
  readonly domainManager: DomainManager;
  readonly reconciler: ReconcilerView;
  readonly userNames: UserNames;
  readonly counters: () => AgentCounters;
}

/** The current status snapshot. */
export function nodeSnapshot(o: SnapshotSources): NodeStatus {
  const statuses = o.domainManager.domains().flatMap((d) => d.statuses());
  const jobs: Record<string, JobStateReport> = {};
  const versions: Record<string, string> = {};
  const details: Record<string, JobDetail> = {};
  // System jobs first, then per-user domains; a label already reported keeps its first entry.
  let n = 0;
  for (const s of statuses) {
    if (s.label in jobs) continue;
    if (n++ >= maxSnapshotJobs) break;
    const managedVersion = o.reconciler.managedVersion(s.domain, s.label);
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
    ...o.reconciler.failures(),
    ...o.reconciler.invalidJobs().map((i) => ({ ...i, target: i.domain })),
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
  // Jobs waiting for a retry, soonest first: what failed and when the reconciler tries again.
  const retrying: RetryingJob[] = [...o.reconciler.retrying()]
    .sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0))
    .slice(0, maxRetryingJobs)
    .map((r) => ({
      domain: r.target,
      label: r.label,
      failures: r.failures,
      why: r.why.slice(0, 128),
      // Whole seconds: the snapshot is put again only when it changes.
      ...(r.nextAttemptAt !== undefined && { nextAttemptAt: Math.ceil(r.nextAttemptAt / 1000) * 1000 }),
    }));
  const domains = o.domainManager.domains().map((d) => d.target);
  const users = [
    ...new Set(
      o.domainManager
        .domains()
        .filter((d) => d.kind !== 'system')
        .map((d) => o.userNames.nameOf(d.uid)),
    ),
  ];
  return {
    nodeId: o.nodeId,
    health: nodeHealth(jobs, details, loadFailures),
    jobs,
    versions,
    details,
    counters: o.counters(),
    agentVersion: o.agentVersion,
    domains,
    users,
    desiredRevision: o.reconciler.revision,
    ...(retrying.length > 0 && { retrying }),
  };
}

/** The inventory record: the node's name and selector labels, with its OS, arch and version. */
export function nodeInventory(o: {
  readonly nodeId: string;
  readonly hostname: string;
  readonly agentVersion: string;
  readonly labels: Readonly<Record<string, string>>;
}): NodeInventory {
  const os = process.platform === 'darwin' ? 'macos' : process.platform;
  return {
    nodeId: o.nodeId,
    hostname: o.hostname,
    labels: { ...o.labels, os, arch: process.arch, agentVersion: o.agentVersion },
  };
}

/** The names of the users whose domains are live (the snapshot's `users`), looked up once each. */
export class UserNames {
  readonly #users: UserDb | undefined;
  readonly #names = new Map<number, string>();

  constructor(users: UserDb | undefined) {
    this.#users = users;
  }

  /** The user's name, or the uid until it was looked up. */
  nameOf(uid: number): string {
    return this.#names.get(uid) ?? String(uid);
  }

  /** Looks up the users of live per-user domains not known yet; true if a name was found. */
  async refresh(domainManager: Pick<DomainManager, 'domains'>): Promise<boolean> {
    const users = this.#users;
    if (!users) return false;
    let found = false;
    for (const d of domainManager.domains()) {
      if (d.kind === 'system' || this.#names.has(d.uid)) continue;
      const u = await users.userById(d.uid).catch(() => undefined);
      if (u) {
        this.#names.set(d.uid, u.name);
        found = true;
      }
    }
    return found;
  }
}
