/**
 * Helpers of test/src/integration/fault-cluster.test.ts (docs/fault-suite.md): reading what a
 * desired key holds, finding a stream's leader among the harness' servers, waiting for the
 * cluster to be whole, counting the apply's writes on the broker, and sampling the job pids
 * the real agents run; and the fleet those tests start (startClusterApply). Also used by
 * fault-cluster-remove.test.ts.
 */
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { buckets, keys } from '@launchfleet/shared/messages';
import { parseSignedBundle } from '@launchfleet/shared/signing';
import { Kvm } from '@nats-io/kv';
import { systemClock } from '@launchfleet/shared';
import { DesiredStateService, trackBrokerConnection } from '@launchfleet/controller/desired';
import { type ControlPlaneHarness, startControlPlane } from './control-plane.ts';
import { type LinkNode, eventually, startLinkNode } from './link-node.ts';
import { type NatsServer, jetStreamLeaderAgreed, tcpOpen, waitFor } from './nats-server.ts';

/**
 * A 3-server control plane (R3 buckets), `realAgents` real agents enrolled and connected (their ids
 * pushed to `realIds` in order), the job records' bucket, and the controller's apply code over the
 * controller's connection to all three servers, `concurrency` writes in flight, targeting `allIds()`
 * (the test's order of real and simulated node ids). As the controller does, no write starts while
 * that connection is down (it would be sent once the connection is back, after the apply was
 * reported failed).
 */
export async function startClusterApply(o: {
  realAgents: number;
  realIds: string[];
  allIds: () => string[];
  concurrency: number;
}): Promise<{ cp: ControlPlaneHarness; nodes: LinkNode[]; desired: DesiredStateService }> {
  const cp = await startControlPlane({ cluster: true });
  const nodes: LinkNode[] = [];
  for (let i = 0; i < o.realAgents; i++) {
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
    nodes.push(await startLinkNode({ urls: cp.urls, token, enrollCreds: cp.enrollCreds }));
  }
  for (const n of nodes) {
    await eventually(() => n.link.status().connected, 30_000, 'agent connected');
    o.realIds.push(n.link.status().nodeId ?? '');
  }
  // The job records, replicated like the desired keys.
  const recordsBucket = { history: 5, replicas: 3, maxValueSize: 2 * 1024 * 1024 };
  const desired = new DesiredStateService({
    jobs: await new Kvm(cp.nc).create(buckets.jobs, recordsBucket),
    desired: cp.store.desired,
    index: cp.store.desiredIndex,
    brokerConnected: trackBrokerConnection(cp.nc),
    signingKey: () => cp.keyStore.activeSigningKey(),
    candidates: () =>
      o
        .allIds()
        .map((nodeId) => ({ nodeId, hostname: nodeId, labels: {}, registered: true, revoked: false })),
    clock: systemClock,
    concurrency: o.concurrency,
  });
  return { cp, nodes, desired };
}

export function clusterHelpers(cp: ControlPlaneHarness, label: string) {
  /** The bundle version a node's key holds (null: no key; -1: not a bundle). */
  const storedVersion = async (nodeId: string): Promise<number | null> => {
    const e = await cp.store.desired.get(keys.desired(nodeId, label));
    if (!e || e.operation !== 'PUT') return null;
    const p = parseSignedBundle(e.value);
    return p.ok ? p.signed.bundle.version : -1;
  };
  /** The stream's leader as a server of the harness, and whether it also leads the meta group. */
  const leaderOf = async (stream: string): Promise<{ server: NatsServer; meta: boolean }> => {
    const jsm = await jetstreamManager(cp.nc);
    const si = await jsm.streams.info(stream);
    const server = cp.servers.find((s) => s.name === si.cluster?.leader);
    assert.ok(server, `leader of ${stream}: ${si.cluster?.leader}`);
    const jsz = (await (await fetch(`http://127.0.0.1:${server.monitorPort}/jsz`)).json()) as {
      meta_cluster?: { leader?: string };
    };
    return { server, meta: jsz.meta_cluster?.leader === server.name };
  };
  /** Restarts any server a failed test left down; waits for the meta leader and the two streams' leaders. */
  const whole = async (): Promise<void> => {
    for (const s of cp.servers) if (!(await tcpOpen(s.port))) await s.restart();
    await waitFor(() => jetStreamLeaderAgreed(cp.servers.map((s) => s.monitorPort)), 30_000, 'cluster whole');
    for (const st of [`KV_${buckets.desired}`, `KV_${buckets.jobs}`])
      await eventually(() => leaderOf(st).catch(() => undefined), 30_000, `${st} has a leader`);
  };
  /**
   * The version a node's key holds as the stream's leader says (a stream API read, not a direct
   * get: right after servers restart a direct get can be answered by a replica still catching up).
   */
  const leaderVersion = async (nodeId: string): Promise<number | null> => {
    const jsm = await jetstreamManager(cp.nc);
    const m = await jsm.streams.getMessage(`KV_${buckets.desired}`, {
      last_by_subj: `$KV.${buckets.desired}.${keys.desired(nodeId, label)}`,
    });
    if (!m || m.data.length === 0) return null;
    const p = parseSignedBundle(m.data);
    return p.ok ? p.signed.bundle.version : -1;
  };
  /** Waits until every replica of the desired-state stream is current (none lagging, none offline). */
  const inSync = (): Promise<unknown> => streamInSync(`KV_${buckets.desired}`);
  /** Counts the writes of node keys (not the per-node index) as they pass the broker. */
  const countWrites = (): { readonly n: number; stop(): void } => {
    const c = { n: 0, stop: () => sub.unsubscribe() };
    const sub = cp.nc.subscribe(`$KV.${buckets.desired}.>`, {
      callback: (_e, m) => {
        if (!m.subject.endsWith('._index')) c.n++;
      },
    });
    return c;
  };
  /**
   * Waits until every replica of `stream` is current (none lagging, none offline). A replica that
   * nats-server 2.10 left behind after two servers were SIGKILLed and started again (CI, Node 24
   * leg, 2026-12-07: lag 4 and 530, no activity for 74 s, nothing in its log) is this test's
   * precondition gone, not what it checks: after 30 s its server is restarted once, said so, and
   * the wait goes on.
   */
  const streamInSync = async (stream: string): Promise<unknown> => {
    const behind = async (): Promise<string[] | undefined> => {
      const si = await (await jetstreamManager(cp.nc)).streams.info(stream).catch(() => undefined);
      const r = si?.cluster?.replicas;
      if (!si?.cluster?.leader || r?.length !== cp.servers.length - 1) return undefined;
      return r.filter((x) => !x.current || x.offline || x.lag).map((x) => x.name);
    };
    const current = async (): Promise<true | undefined> =>
      (await behind())?.length === 0 ? true : undefined;
    try {
      return await eventually(current, 30_000, `every replica of ${stream} current`);
    } catch {
      const names = (await behind()) ?? [];
      for (const s of cp.servers.filter((x) => names.includes(x.name))) {
        console.log(`[fault-cluster] ${stream}: replica on ${s.name} not current after 30 s: restarting it`);
        await s.restart();
      }
      await whole();
      return eventually(current, 60_000, `every replica of ${stream} current`);
    }
  };
  /**
   * What a failure message needs to say what the cluster looked like: each server (pid, whether it
   * answers, its meta leader), each stream's leader, replicas (current, lag, offline) and last
   * sequence, and the last lines each server logged.
   */
  const diagnose = async (): Promise<string> => {
    const out: string[] = [];
    for (const s of cp.servers) {
      const jsz = await fetch(`http://127.0.0.1:${s.monitorPort}/jsz`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.json() as Promise<{ meta_cluster?: { leader?: string } }>)
        .catch((e: unknown) => ({ error: String(e) }));
      out.push(`server ${s.name} pid ${s.pid} port ${s.port}: ${JSON.stringify(jsz).slice(0, 300)}`);
    }
    for (const st of [`KV_${buckets.desired}`, `KV_${buckets.jobs}`]) {
      const si = await (
        await jetstreamManager(cp.nc)
      ).streams
        .info(st)
        .catch((e: unknown) => ({ error: String(e) }));
      const x = si as { cluster?: unknown; state?: { last_seq?: number; messages?: number }; error?: string };
      out.push(
        `stream ${st}: ${x.error ?? ''} cluster ${JSON.stringify(x.cluster)} last_seq ${x.state?.last_seq} messages ${x.state?.messages}`,
      );
    }
    for (const s of cp.servers)
      out.push(`--- last log lines of ${s.name}\n${s.log().split('\n').slice(-25).join('\n')}`);
    return out.join('\n');
  };
  return { storedVersion, leaderVersion, inSync, streamInSync, leaderOf, whole, countWrites, diagnose };
}

/**
 * Every job process each agent runs from now on, sampled every 50 ms: a start nobody asked for
 * (a restart, a second start of the same version) shows as an extra pid. `first` is the pid each
 * agent was seen running just before (the test's own check): the list starts with it, so a job
 * replaced before the first tick still counts as seen (CI once saw an agent's v1 replaced by v2
 * with no tick in between, and the assertion counted one process). `trace` says when each pid
 * was first seen and the longest gap between ticks, for a failure message.
 */
export function samplePids(
  nodes: readonly LinkNode[],
  label: string,
  first: readonly (number | undefined)[] = [],
): { seen: number[][]; trace(): string; stop(): void } {
  const t0 = Date.now();
  const seen = nodes.map((_, i) => (first[i] === undefined ? [] : [first[i]]));
  const at = seen.map((l) => l.map(() => 0));
  let last = t0;
  let maxGap = 0;
  const tick = (): void => {
    const now = Date.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    nodes.forEach((n, i) => {
      const p = n.job(label)?.pid;
      const list = seen[i];
      if (p !== undefined && list && list[list.length - 1] !== p) {
        list.push(p);
        at[i]?.push(now - t0);
      }
    });
  };
  tick();
  const timer = setInterval(tick, 50);
  // Never what keeps the test process alive, even when an assertion ends the test first.
  timer.unref();
  const trace = (): string =>
    `${seen.map((l, i) => l.map((p, k) => `${p}@${at[i]?.[k]}ms`).join(' -> ')).join('; ')} (longest gap between samples ${maxGap} ms)`;
  return { seen, trace, stop: () => clearInterval(timer) };
}
