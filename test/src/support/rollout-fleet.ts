/**
 * The rollout suites' fleet: a real nats-server in operator mode (control-plane.ts), N real
 * agents in process (link-node.ts: a real DomainManager with real adapters running tiny
 * /bin/sh jobs, plus the real fleet link), the controller's fleet aggregator, audit stream and
 * `jobs apply` service, and as many rollout runtimes (one per simulated controller) as a test
 * asks for.
 */
import { readFile } from 'node:fs/promises';
import { Kvm } from '@nats-io/kv';
import { systemClock } from '@launchfleet/shared';
import { buckets, keys } from '@launchfleet/shared/messages';
import { parseSignedBundle } from '@launchfleet/shared/signing';
import { AuditLog, provisionAuditStream, FleetAggregator } from '@launchfleet/controller';
import { DesiredStateService } from '@launchfleet/controller/desired';
import {
  type RolloutRuntime,
  type RolloutRuntimeOptions,
  startRolloutRuntime,
  type RolloutRecord,
} from '@launchfleet/controller/rollout';
import { type ControlPlaneHarness, startControlPlane } from './control-plane.ts';
import { EventLog } from './link-fleet.ts';
import { eventually as retry } from './eventually.ts';
import { type LinkNode, daemonPlist, eventually, startLinkNode } from './link-node.ts';

/** Presence: a node is offline 1.5 s after its last heartbeat (agents beat every 0.5 s in tests). */
export const testOfflineAfterMs = 1500;

export interface RolloutFleet {
  readonly cp: ControlPlaneHarness;
  readonly nodes: LinkNode[];
  readonly nodeIds: string[];
  readonly aggregator: FleetAggregator;
  readonly audit: AuditLog;
  readonly desired: DesiredStateService;
  readonly events: EventLog;
  /** Starts a rollout runtime (a controller's rollout part) with test timings. */
  runtime(holder: string, o?: Partial<RolloutRuntimeOptions>): Promise<RolloutRuntime>;
  close(): Promise<void>;
}

export async function startRolloutFleet(n: number): Promise<RolloutFleet> {
  const cp = await startControlPlane();
  const nodes: LinkNode[] = [];
  const runtimes: RolloutRuntime[] = [];
  let aggregator: FleetAggregator | undefined;
  const close = async (): Promise<void> => {
    for (const r of runtimes) await r.stop().catch(() => undefined);
    await aggregator?.stop();
    await Promise.allSettled(nodes.map((x) => x.close()));
    await cp.close();
  };
  try {
    const events = new EventLog(cp.nc);
    await provisionAuditStream(cp.nc, 1);
    const audit = new AuditLog(cp.nc);
    for (let i = 0; i < n; i++) {
      const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
      nodes.push(await startLinkNode({ urls: cp.urls, token, enrollCreds: cp.enrollCreds }));
    }
    const nodeIds: string[] = [];
    for (const x of nodes) {
      await eventually(() => x.link.status().connected, 20_000, 'agent connected');
      nodeIds.push(x.link.status().nodeId ?? '');
    }
    aggregator = new FleetAggregator({
      nc: cp.nc,
      registry: cp.store.registry,
      nodes: cp.store.nodes,
      clock: systemClock,
      offlineAfterMs: testOfflineAfterMs,
    });
    await aggregator.start();
    const agg = aggregator;
    await eventually(
      () => nodeIds.every((id) => agg.index.node(id)?.status !== undefined && agg.index.node(id)?.registered),
      10_000,
      'every node registered and reporting',
    );
    const jobs = await new Kvm(cp.nc).create(buckets.jobs, {
      history: 5,
      maxValueSize: 2 * 1024 * 1024,
    });
    const desired = new DesiredStateService({
      desired: cp.store.desired,
      index: cp.store.desiredIndex,
      jobs,
      signingKey: () => cp.keyStore.activeSigningKey(),
      candidates: () =>
        [...agg.index.nodes()].map((v) => ({
          nodeId: v.nodeId,
          hostname: v.hostname,
          labels: v.labels,
          registered: v.registered,
          revoked: v.revokedAt !== undefined,
        })),
      clock: systemClock,
    });
    return {
      cp,
      nodes,
      nodeIds,
      aggregator: agg,
      audit,
      desired,
      events,
      runtime: async (holder, o = {}) => {
        const r = await startRolloutRuntime({
          nc: cp.nc,
          desiredIndex: cp.store.desiredIndex,
          index: agg.index,
          signingKey: () => cp.keyStore.activeSigningKey(),
          audit,
          clock: systemClock,
          holder,
          leaseMs: 1500,
          tickMs: 150,
          ...o,
        });
        runtimes.push(r);
        return r;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A keep-alive daemon whose process shows its version: `sleep <300 + version>`. */
export function versionedPlist(label: string, version: number, crash = false): string {
  return daemonPlist(label, {}, crash ? `echo crashing v${version}; exit 3` : `exec sleep ${300 + version}`);
}

/** The command line of a pid (`/proc/<pid>/cmdline`), or '' when it is gone. */
export async function cmdline(pid: number | undefined): Promise<string> {
  if (pid === undefined) return '';
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** What the node's job really runs: the process's command line (`sleep 301` ...). */
export async function runningCommand(node: LinkNode, label: string): Promise<string> {
  return cmdline(node.job(label)?.pid);
}

/** Every write (put or delete) to a node's desired key, oldest first, with the bundle version put. */
export async function desiredWrites(
  fleet: RolloutFleet,
  nodeId: string,
  label: string,
): Promise<{ op: string; version: number | null }[]> {
  const out: { op: string; version: number | null }[] = [];
  const it = await fleet.cp.store.desired.history({ key: keys.desired(nodeId, label) });
  for await (const e of it) {
    const p = e.operation === 'PUT' ? parseSignedBundle(e.value) : undefined;
    out.push({ op: e.operation, version: p?.ok ? p.signed.bundle.version : null });
  }
  return out;
}

/** Waits until the rollout's phase is one of `phases`; returns the record. */
export async function awaitPhase(
  rt: RolloutRuntime,
  rolloutId: string,
  phases: readonly string[],
  ms: number,
): Promise<RolloutRecord> {
  return retry(
    async () => {
      const r = await rt.store.get(rolloutId);
      if (r && phases.includes(r.record.state.phase.kind)) return r.record;
      const last = r
        ? `${r.record.state.phase.kind}: ${r.record.state.log
            .slice(-4)
            .map((e) => e.message)
            .join(' | ')}`
        : 'absent';
      throw new Error(`rollout ${rolloutId} not in ${phases.join('|')} after ${ms} ms (now ${last})`);
    },
    ms,
    100,
  );
}
