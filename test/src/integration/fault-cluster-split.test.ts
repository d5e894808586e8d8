/**
 * The fault suite (docs/fault-suite.md): a partition between cluster servers. A 3-node
 * nats-server cluster (R3 buckets); one server (the minority) is cut from the other two by
 * iptables on the host's loopback: every packet it sends on a route (it runs in a cgroup v2
 * directory of its own, matched with `-m cgroup --path`) and every packet sent to its route port
 * is dropped. Its client port stays open: the agents connected to it stay connected to a server
 * that has lost the cluster. Nothing is killed.
 *
 * Real: three nats-server processes, the controller's apply code (DesiredStateService) on two
 * connections (one to the two-server side only, one to the minority server only), four real
 * agents (link-node.ts; jobs are real processes), two connected to the minority server and two
 * to the quorum side, plus 200 simulated nodes (registered ids: their desired key is checked).
 *
 * Promised and checked:
 * - an apply made on the quorum side during the split succeeds (retried while a new stream
 *   leader is elected, when the minority led it) and reaches the agents on that side at once;
 * - an apply made through the minority server fails clearly (an error or every node reported
 *   failed, with a reason) within a bound, and nothing of it is stored;
 * - the agents on the minority server keep running what they ran (same pids) during the split;
 * - after the heal every node's desired key (read from the stream leader) holds the version
 *   applied during the split, every agent runs it, each agent started it once (job pids sampled
 *   every 50 ms: v1, then the applied version, nothing else), one instance per agent machine-wide.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { systemClock } from '@launchfleet/shared';
import { buckets, nodeIdFromRandom } from '@launchfleet/shared/messages';
import {
  DesiredIndex,
  DesiredStateService,
  type ApplyResult,
  trackBrokerConnection,
} from '@launchfleet/controller/desired';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { clusterHelpers, samplePids } from '../support/fault-cluster.ts';
import { instances } from '../support/fault-fleet.ts';
import { type LinkNode, daemonPlist, eventually, startLinkNode } from '../support/link-node.ts';
import { cmdline } from '../support/rollout-fleet.ts';
import { type NatsServer, cgroupLauncher } from '../support/nats-server.ts';
import { netnsUnavailable } from '../support/netns.ts';

const simulated = 200;
/** The agents' desired-state re-read period in this suite (production: 5 min). */
const recheckMs = 5000;
const base = 50_000 + Math.floor(Math.random() * 3000) * 10;
const label = 'com.acme.fault-split';
const plist = (version: number): string => daemonPlist(label, {}, `exec sleep ${base + version}`);
const t0 = Date.now();
const log = (s: string) =>
  console.log(`[fault-cluster-split ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);
const cgroupRoot = '/sys/fs/cgroup/unified';
const cgroupName = `lf-split-${randomBytes(3).toString('hex')}`;

/** Why this cannot run here (root, iptables, a cgroup v2 hierarchy), or undefined. */
function unavailable(): string | undefined {
  const r = netnsUnavailable();
  if (r) return r;
  try {
    mkdirSync(`${cgroupRoot}/${cgroupName}`);
    rmdirSync(`${cgroupRoot}/${cgroupName}`);
  } catch (e) {
    return `no cgroup v2 directory can be made under ${cgroupRoot}: ${String(e)}`;
  }
  return undefined;
}
const reason = unavailable();

const ipt = (...args: string[]) =>
  execFileSync('iptables', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

describe(
  'fault: one cluster server split from the other two, agents on it, an apply made during the split',
  { timeout: 300_000, skip: reason ?? false },
  () => {
    let cp: ControlPlaneHarness;
    let minority: NatsServer;
    const nodes: LinkNode[] = [];
    const realIds: string[] = [];
    const simIds = Array.from({ length: simulated }, () => nodeIdFromRandom(randomBytes(13)));
    const conns: NatsConnection[] = [];
    let quorumSide: DesiredStateService;
    let quorumNc: NatsConnection;
    let minoritySide: DesiredStateService;
    let rules: string[][] = [];
    let h!: ReturnType<typeof clusterHelpers>;
    /** What the second test needs of the first: when the link healed, the v1 pids, the pid sampler. */
    let split: { healedAt: number; v1Pids: number[]; sampler: ReturnType<typeof samplePids> } | undefined;
    const allIds = () => [...realIds, ...simIds];
    const candidates = () =>
      allIds().map((nodeId) => ({ nodeId, hostname: nodeId, labels: {}, registered: true, revoked: false }));

    /** The local ports of the routes `server` dialled itself (its established connections to another server's route port). */
    const dialledBy = (server: NatsServer): number[] => {
      const peers = new Set(cp.servers.filter((x) => x !== server).map((x) => x.clusterPort));
      const out: number[] = [];
      for (const line of execFileSync('ss', ['-tnpH', 'state', 'established']).toString().split('\n')) {
        if (!line.includes(`pid=${server.pid},`)) continue;
        // Recv-Q Send-Q Local:Port Peer:Port Process (no State column with a state filter)
        const [, , local, peer] = line.trim().split(/\s+/);
        const lp = Number(local?.split(':').pop());
        if (peers.has(Number(peer?.split(':').pop())) && lp !== server.clusterPort) out.push(lp);
      }
      return out;
    };
    const cut = () => {
      const cl = (s: NatsServer) => String(s.clusterPort);
      rules = [
        // Everything the minority server sends on any route (its own dials and the ones it accepted).
        [
          'OUTPUT',
          '-o',
          'lo',
          '-p',
          'tcp',
          '-m',
          'cgroup',
          '--path',
          cgroupName,
          '-m',
          'multiport',
          '--ports',
          cp.servers.map(cl).join(','),
          '-j',
          'DROP',
        ],
        // Everything sent to its route port (the routes the other two dialled).
        ['OUTPUT', '-o', 'lo', '-p', 'tcp', '--dport', cl(minority), '-j', 'DROP'],
        // Everything the other two send on the routes it dialled (to its ephemeral ports): without
        // these, 2.9.10 kept such routes up on both ends for minutes, one way only.
        ...dialledBy(minority).map((port) => [
          'OUTPUT',
          '-o',
          'lo',
          '-p',
          'tcp',
          '--dport',
          String(port),
          '-j',
          'DROP',
        ]),
      ];
      for (const r of rules) ipt('-I', ...r);
    };
    const heal = () => {
      for (const r of rules)
        try {
          ipt('-D', ...r);
        } catch {
          // not there
        }
      rules = [];
    };
    process.once('exit', heal);
    /** Route counts as each server's /routez shows them. */
    const routes = async (s: NatsServer): Promise<string[]> => {
      const r = (await (await fetch(`http://127.0.0.1:${s.monitorPort}/routez`)).json()) as {
        routes?: { remote_name?: string; remote_id?: string }[];
      };
      return (r.routes ?? []).map((x) => x.remote_name ?? x.remote_id ?? '?');
    };
    const service = async (nc: NatsConnection) => {
      const kvm = new Kvm(nc);
      const desiredKv = await kvm.open(buckets.desired);
      return new DesiredStateService({
        desired: desiredKv,
        index: new DesiredIndex(desiredKv, () => Date.now()),
        jobs: await kvm.open(buckets.jobs),
        brokerConnected: trackBrokerConnection(nc),
        signingKey: () => cp.keyStore.activeSigningKey(),
        candidates,
        clock: systemClock,
      });
    };
    const apply = (s: DesiredStateService, v: number) =>
      s.apply({ plist: plist(v), domain: 'system', target: { kind: 'all' }, by: 'test' });

    before(async () => {
      mkdirSync(`${cgroupRoot}/${cgroupName}`);
      cp = await startControlPlane({
        cluster: true,
        launcher: cgroupLauncher((name) =>
          name.endsWith('-s2') ? `${cgroupRoot}/${cgroupName}/cgroup.procs` : undefined,
        ),
        // Routes (and clients) pinged every 2 s, two missed allowed: a server notices a cut route in
        // seconds, not the default 4-6 minutes.
        serverConfig: 'ping_interval: "2s"\nping_max: 2',
      });
      h = clusterHelpers(cp, label);
      const m = cp.servers.find((s) => s.name.endsWith('-s2'));
      assert.ok(m);
      minority = m;
      const quorum = cp.servers.filter((s) => s !== minority);
      await new Kvm(cp.nc).create(buckets.jobs, { history: 5, replicas: 3, maxValueSize: 2 * 1024 * 1024 });
      for (let i = 0; i < 4; i++) {
        const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
        const urls = i < 2 ? [minority.url] : quorum.map((s) => s.url);
        // The desired-state re-read (default 5 min) at 5 s, so the catch-up after the heal is seen here.
        nodes.push(
          await startLinkNode({
            urls,
            token,
            enrollCreds: cp.enrollCreds,
            settings: { desiredRecheckMs: recheckMs },
          }),
        );
      }
      for (const n of nodes) {
        await eventually(() => n.link.status().connected, 30_000, 'agent connected');
        realIds.push(n.link.status().nodeId ?? '');
      }
      const creds = await cp.identity.controllerCreds();
      const side = async (servers: readonly NatsServer[], name: string) => {
        const nc = await connect({
          servers: servers.map((s) => s.url),
          authenticator: credsAuthenticator(creds),
          name,
          reconnectTimeWait: 100,
          maxReconnectAttempts: -1,
        });
        conns.push(nc);
        return nc;
      };
      quorumNc = await side(quorum, 'controller-quorum-side');
      quorumSide = await service(quorumNc);
      minoritySide = await service(await side([minority], 'controller-minority-side'));
    });

    after(async () => {
      split?.sampler.stop();
      heal();
      await Promise.allSettled(nodes.map((n) => n.close()));
      await Promise.allSettled(conns.map((c) => c.close()));
      await cp?.close();
      try {
        rmdirSync(`${cgroupRoot}/${cgroupName}`);
      } catch {
        // still has a process (a server that did not exit) or never made
      }
    });

    test('writes on the quorum side succeed, through the minority they fail clearly; after the heal every node holds and runs the applied version, once', async () => {
      const v1 = await apply(quorumSide, 1);
      assert.equal(v1.failures.length, 0, JSON.stringify(v1.failures.slice(0, 3)));
      const pidRunning = (n: LinkNode, v: number) => async () => {
        const p = n.job(label)?.pid;
        return p !== undefined && (await cmdline(p)) === `sleep ${base + v}` ? p : undefined;
      };
      const v1Pids: number[] = [];
      for (const n of nodes) v1Pids.push(await eventually(pidRunning(n, 1), 30_000, 'v1 runs'));
      // The harder case: the minority server leads the desired-state stream when the split comes.
      const stream = `KV_${buckets.desired}`;
      const jsm = await jetstreamManager(cp.nc);
      for (let i = 0; i < 8 && (await h.leaderOf(stream)).server !== minority; i++) {
        await cp.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`).catch(() => undefined);
        await eventually(() => h.leaderOf(stream).catch(() => undefined), 20_000, 'a new leader');
      }
      const ledBy = (await h.leaderOf(stream)).server;
      log(
        `${stream} led by ${ledBy.name}${ledBy === minority ? ' (the minority server)' : ''} at the split; jobs stream ${(await jsm.streams.info(`KV_${buckets.jobs}`)).cluster?.leader}`,
      );
      const sampler = samplePids(nodes, label, v1Pids);

      cut();
      const cutAt = Date.now();
      try {
        await eventually(
          async () => {
            const mine = await routes(minority);
            const theirs = await Promise.all(cp.servers.filter((s) => s !== minority).map(routes));
            return mine.length === 0 && theirs.every((r) => !r.includes(minority.name)) ? true : undefined;
          },
          30_000,
          'the routes to the minority server are down on both sides',
        ).catch(async (_e: unknown) => {
          const seen = await Promise.all(
            cp.servers.map(async (x) => `${x.name}: ${(await routes(x)).join(',')}`),
          );
          const counters = ipt('-S', 'OUTPUT', '-v')
            .split('\n')
            .filter((l) => /DROP/.test(l))
            .join('\n');
          // nats-server 2.9.10 kept listing every route for minutes although every packet on
          // them was dropped (the counters below); 2.10.27 drops them in about 5 s. The split is
          // the dropped packets, checked below; the route listing is only reported.
          log(`routes still listed after 30 s: ${seen.join('; ')}; rules:\n${counters}`);
          return false;
        });
        const splitS = (Date.now() - cutAt) / 1000;
        // Packets were dropped on every rule that matches a live route (the split is real).
        const hits = ipt('-S', 'OUTPUT', '-v')
          .split('\n')
          .filter((l) => /DROP/.test(l) && (l.includes(cgroupName) || l.includes('--dport')))
          .map((l) => Number(/-c (\d+) /.exec(l)?.[1] ?? 0));
        assert.ok(
          hits.some((n) => n > 0),
          `packets dropped by the split rules: ${hits.join(',')}`,
        );

        // The quorum side: the apply is retried until it reports no failure (while the two elect a
        // new leader it may fail UNAVAILABLE or time out; that is what the CLI tells the user to retry).
        // Counted on the quorum side's own connection (the harness' may be on the minority server).
        const writes = { n: 0 };
        const writeSub = quorumNc.subscribe(`$KV.${buckets.desired}.>`, {
          callback: (_e, m) => {
            if (!m.subject.endsWith('._index')) writes.n++;
          },
        });
        const tApply = Date.now();
        let attempts = 0;
        const reasons = new Set<string>();
        const done = await eventually(
          async () => {
            attempts++;
            const r = await apply(quorumSide, 2).catch((e: unknown) => {
              reasons.add(String(e).slice(0, 120));
              return undefined;
            });
            for (const f of r?.failures ?? []) reasons.add(f.reason.slice(0, 120));
            return r && r.failures.length === 0 ? r : undefined;
          },
          90_000,
          'an apply on the quorum side with no failures',
        );
        const quorumApplyS = (Date.now() - tApply) / 1000;
        writeSub.unsubscribe();
        log(
          `split after ${splitS.toFixed(1)} s; quorum-side apply: version ${done.version} after ${attempts} attempt(s), ${quorumApplyS.toFixed(1)} s, ` +
            `${writes.n} key writes seen; failures on the way: ${[...reasons].join(' | ') || 'none'}`,
        );
        assert.equal(done.version, 2);
        assert.equal(done.written + done.unchanged, allIds().length);

        // The minority side: fails clearly, in bounded time, and stores nothing.
        const tMin = Date.now();
        let minorityResult: ApplyResult | undefined;
        let minorityError = '';
        try {
          minorityResult = await apply(minoritySide, 3);
        } catch (e) {
          minorityError = String(e);
        }
        const minorityS = (Date.now() - tMin) / 1000;
        log(
          `minority-side apply returned after ${minorityS.toFixed(1)} s: ` +
            (minorityResult
              ? `version ${minorityResult.version}, written ${minorityResult.written}, failed ${minorityResult.failures.length} (e.g. ${minorityResult.failures[0]?.reason})`
              : `threw ${minorityError.slice(0, 300)}`),
        );
        assert.ok(minorityS < 60, `the minority-side apply returned in ${minorityS} s`);
        if (minorityResult) {
          assert.equal(minorityResult.written, 0, 'nothing written through the minority server');
          assert.ok(minorityResult.failures.length > 0, 'the failures are reported');
          for (const f of minorityResult.failures)
            assert.match(f.reason, /UNAVAILABLE|did not answer|timeout|no responders|not written/i, f.reason);
        } else assert.match(minorityError, /UNAVAILABLE|timeout|no responders|did not answer|TIMEOUT/i);

        // During the split: the quorum side's agents run v2, the minority's run v1 with the same pids.
        for (const i of [2, 3])
          await eventually(pidRunning(nodes[i]!, 2), 30_000, `agent ${i} (quorum side) runs v2`);
        for (const i of [0, 1]) {
          assert.equal(
            nodes[i]?.job(label)?.pid,
            v1Pids[i],
            `agent ${i} (minority side) keeps its v1 process`,
          );
          assert.equal(await cmdline(v1Pids[i]), `sleep ${base + 1}`);
        }
      } finally {
        heal();
      }
      const healedAt = Date.now();
      await h.whole();
      await h.inSync();
      await h.streamInSync(`KV_${buckets.jobs}`);
      const wholeS = (Date.now() - healedAt) / 1000;
      log(`after the heal: cluster whole and every replica current in ${wholeS.toFixed(1)} s`);
      // Every node's key, as the stream's leader holds it: the version applied during the split.
      for (const id of allIds()) assert.equal(await h.leaderVersion(id), 2, `desired key of ${id}`);
      // The quorum side's agents: v1, then v2 (started during the split), nothing else.
      for (const i of [2, 3]) {
        const p = nodes[i]?.job(label)?.pid;
        assert.equal(await cmdline(p), `sleep ${base + 2}`, `agent ${i} runs v2`);
        assert.deepEqual(
          sampler.seen[i],
          [v1Pids[i], p],
          `agent ${i}: v1, then v2, nothing else (${sampler.trace()})`,
        );
      }
      assert.equal(instances(`sleep ${base + 3}`), 0, 'the minority-side apply never ran anywhere');
      split = { healedAt, v1Pids, sampler };
    });

    // An agent whose connection stayed up on the split server missed the live messages of the
    // apply (core messages routed to a server with no routes are dropped) and starts no new
    // session; its periodic re-read of its desired keys (desired-follower.ts) catches it up. Found
    // by this test as a defect (it never caught up), fixed by the re-read.
    test('after the heal the agents on the split server run the version applied during the split, once', async () => {
      assert.ok(split, 'the split test ran');
      const { healedAt, v1Pids, sampler } = split;
      const v2Pids: (number | undefined)[] = [undefined, undefined];
      while (Date.now() - healedAt < 60_000 && v2Pids.some((p) => p === undefined)) {
        for (const i of [0, 1]) {
          const p = nodes[i]?.job(label)?.pid;
          v2Pids[i] ??= p !== undefined && (await cmdline(p)) === `sleep ${base + 2}` ? p : undefined;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      sampler.stop();
      const late = [0, 1].filter((i) => v2Pids[i] === undefined);
      log(
        late.length === 0
          ? `the minority side's agents run v2 ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the heal`
          : `NOT converged 60 s after the heal: minority-side agents ${late.join(', ')} still run ${late.map((i) => nodes[i]?.job(label)?.pid).join(', ')} ` +
              `(v1 pids ${late.map((i) => v1Pids[i]).join(', ')}); their keys hold v${await h.leaderVersion(realIds[late[0] ?? 0] ?? '')}`,
      );
      assert.deepEqual(late, [], 'every agent on the split server runs v2 within 60 s of the heal');
      for (const i of [0, 1])
        assert.deepEqual(
          sampler.seen[i],
          [v1Pids[i], v2Pids[i]],
          `agent ${i}: v1, then v2, nothing else (${sampler.trace()})`,
        );
      assert.equal(instances(`sleep ${base + 2}`), nodes.length, 'one v2 instance per agent');
      assert.equal(instances(`sleep ${base + 1}`), 0, 'v1 stopped everywhere');
    });
  },
);
