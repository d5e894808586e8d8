/**
 * A 3-server cluster under load (issue 17, docs/fault-suite.md): three nats-servers (R3 buckets),
 * the controller in its own process (`launchfleet-controller`, test/src/bench/fleet-controller-proc.ts),
 * N simulated agents (the fleet simulator, test/src/sim, one process, production link timings,
 * all healthy) connected to all three servers, applies through the controller's gRPC API.
 *
 * 1. v1 applied to every node; every simulated agent runs it.
 * 2. v2 applied; once `--kill-at` of the nodes' writes went past the broker, the desired-state
 *    stream's (`KV_lf_desired`) leader is SIGKILLed (it stays down). The apply must return (with
 *    the nodes it missed named); the same apply is retried until it reports no failure.
 * 3. A second server SIGKILLed: one of three left, no quorum. v3 applied every 3 s: each attempt
 *    must fail clearly (the call fails `UNAVAILABLE`, or every node is reported failed) while
 *    quorum is lost; after `--outage-s` both servers are started again and the attempts go on
 *    until one reports no failure.
 * Checked at the end, with every replica current, from the stream itself (one ordered consumer
 * over every node's key of the label, served by the stream's leader): every key's history is
 * [v1, v2, v3] (no version stored twice, none skipped: no write silently dropped, none doubled);
 * every simulated agent runs v3 and has accepted it; every agent connected; the controller alive.
 * The writes that went past the one surviving server are counted too (a subscription on that
 * server alone), for the record; the stream's history is what is asserted.
 *
 *   scripts/fault-cluster-sim.sh [--nodes 1000] [--kill-at 0.3] [--outage-s 20] [--apply-concurrency 16] [--out FILE]
 *
 * `--apply-concurrency` is the controller's `applyConcurrency` (writes in flight during an apply;
 * production's default is 256): 16, as in fault-cluster, makes the apply last long enough to be cut.
 *
 * Exit 0 when every check passed, 1 otherwise; the figures are printed either way and written as
 * JSON to `--out`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type NatsConnection, connect, credsAuthenticator } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { buckets, encodeLabelToken, keys } from '@launchfleet/shared/messages';
import { parseSignedBundle } from '@launchfleet/shared/signing';
import { RawApi } from '../support/controller-fleet.ts';
import { type NatsServer, streamsDump } from '../support/nats-server.ts';
import { type BenchControlPlane, startBenchControlPlane } from './fleet-controller-proc.ts';
import { SimProc } from './fleet-sim-proc.ts';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    'kill-at': { type: 'string', default: '0.3' },
    'outage-s': { type: 'string', default: '20' },
    'apply-concurrency': { type: 'string', default: '16' },
    out: { type: 'string' },
  },
});
const nodes = Number(v.nodes);
const killAt = Number(v['kill-at']);
const outageS = Number(v['outage-s']);
const applyConcurrency = Number(v['apply-concurrency']);
if (!(nodes > 0) || !(killAt > 0 && killAt < 1) || !(outageS > 0)) {
  process.stderr.write('fault-cluster-sim: --nodes > 0, 0 < --kill-at < 1, --outage-s > 0\n');
  process.exit(2);
}
const out =
  v.out ?? join('/tmp', `lf-fault-cluster-sim-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const label = 'com.fault.clustersim';
const stream = `KV_${buckets.desired}`;
const plist = (n: number): string => `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>Label</key><string>${label}</string>
<key>ProgramArguments</key><array><string>/usr/bin/faultsim</string><string>--v</string><string>${n}</string></array>
<key>RunAtLoad</key><true/>
<key>KeepAlive</key><true/>
</dict></plist>
`;
const t0 = Date.now();
const secs = (from: number): string => ((Date.now() - from) / 1000).toFixed(1);
const say = (s: string): void => console.log(`[fault-cluster-sim ${secs(t0)} s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = await f().catch(() => undefined);
    if (x) return x;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(500);
  }
}

interface ApplyOutcome {
  readonly ok: boolean;
  readonly version?: number;
  readonly written?: number;
  readonly unchanged?: number;
  readonly failed?: number;
  readonly reasons?: string[];
  readonly error?: string;
  readonly ms: number;
}

async function main(): Promise<void> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
    say(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  };
  const result: Record<string, unknown> = {
    at: new Date(t0).toISOString(),
    node: process.version,
    nodes,
    killAt,
  };
  const cp: BenchControlPlane = await startBenchControlPlane({
    cluster: 3,
    offlineAfterSeconds: 90,
    // Few writes in flight (production: 256), so the apply lasts long enough to be cut.
    controllerConfig: { applyConcurrency },
  });
  const api = new RawApi(cp.grpcPort, undefined);
  let sim: SimProc | undefined;
  // What each server reports of the streams, and the controller's last lines: printed when the
  // cluster does not recover in time and when the run is stopped from outside (the CI test's
  // timeout), whose lines would otherwise say only how far it got.
  const dumpState = async (why: string): Promise<void> => {
    const views = await Promise.all(cp.servers.map((s) => streamsDump(s.monitorPort)));
    say(`${why}; what each server reports:\n${views.join('\n')}`);
    say(`controller log (last lines):\n${cp.controllerLog().split('\n').slice(-20).join('\n')}`);
  };
  let stopping = false;
  const stopOnSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await dumpState(`received ${sig}: stopping`);
      await sim?.stop().catch(() => undefined);
      await cp.close().catch(() => undefined);
      process.exit(1);
    })();
  };
  process.once('SIGTERM', stopOnSignal);
  process.once('SIGINT', stopOnSignal);
  const conns: NatsConnection[] = [];
  const creds = new Uint8Array(Buffer.from(await cp.identity.controllerCreds()));
  const conn = async (servers: readonly string[], name: string): Promise<NatsConnection> => {
    const c = await connect({
      servers: [...servers],
      authenticator: credsAuthenticator(creds),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    conns.push(c);
    return c;
  };
  const apply = async (n: number): Promise<ApplyOutcome> => {
    const s = Date.now();
    try {
      const r = await api.call('ApplyJob', { plist: plist(n), target: { all: true } }, cp.tokens.operator);
      const f = (r['failures'] as { nodeId?: string; reason?: string }[] | undefined) ?? [];
      const reasons = [...new Set(f.map((x) => (x.reason ?? '').replace(/[0-9]+/g, '#').slice(0, 160)))];
      return {
        ok: f.length === 0,
        version: Number(r['version']),
        written: Number(r['nodesWritten'] ?? 0),
        unchanged: Number(r['nodesUnchanged'] ?? 0),
        failed: f.length,
        reasons,
        ms: Date.now() - s,
      };
    } catch (e) {
      const x = e as { code?: number; details?: string; message?: string };
      return {
        ok: false,
        error: `code ${x.code}: ${(x.details ?? x.message ?? String(e)).slice(0, 300)}`,
        ms: Date.now() - s,
      };
    }
  };
  const show = (o: ApplyOutcome): string =>
    o.error !== undefined
      ? `error ${o.error} after ${(o.ms / 1000).toFixed(1)} s`
      : `v${o.version}: ${o.written} written, ${o.unchanged} unchanged, ${o.failed} failed (${(o.reasons ?? []).join(' | ')}) in ${(o.ms / 1000).toFixed(1)} s`;
  const leaderName = async (nc: NatsConnection): Promise<string | undefined> =>
    (await (await jetstreamManager(nc)).streams.info(stream)).cluster?.leader;
  const inSync = (nc: NatsConnection, st: string) =>
    until(
      async () => {
        const si = await (await jetstreamManager(nc)).streams.info(st);
        const r = si.cluster?.replicas;
        return si.cluster?.leader && r?.length === 2 && r.every((x) => x.current && !x.offline && !x.lag);
      },
      120_000,
      `every replica of ${st} current`,
    ).catch(async (e: unknown) => {
      await dumpState(`a replica of ${st} is not current after 120 s`);
      throw e;
    });
  const rows = async () => (await sim!.rows(label)).filter((r) => r.nodeId !== undefined);
  const runningV = async (n: number): Promise<number> =>
    (await rows()).filter((r) => r.runningArgs?.join(' ') === `/usr/bin/faultsim --v ${n}`).length;
  try {
    say(
      `cluster ${cp.servers.map((s) => `${s.name} pid ${s.pid}`).join(', ')}; controller pid ${cp.controller.pid}`,
    );
    const tok = await api.call(
      'CreateEnrollmentToken',
      { ttlSeconds: 7200, maxUses: nodes },
      cp.tokens.admin,
    );
    const tokenFile = join(cp.dir, 'sim-tokens.txt');
    writeFileSync(
      tokenFile,
      `${Array(nodes).fill(String(tok['token'])).join('\n')}\n${String(tok['enrollCredentials'])}`,
      {
        mode: 0o600,
      },
    );
    const tEnrol = Date.now();
    sim = new SimProc([
      ...['--agents', String(nodes), '--nats', cp.urls.join(','), '--token-file', tokenFile],
      ...['--mix', 'healthy=100', '--report-sec', '10', '--start-concurrency', '20'],
    ]);
    await sim.ready;
    await until(
      async () => {
        const s = await sim!.stats();
        return s.enrolled >= nodes && s.connected >= nodes;
      },
      600_000,
      `${nodes} simulated agents enrolled and connected`,
    );
    result['enrolS'] = Number(secs(tEnrol));
    say(`${nodes} simulated agents enrolled and connected in ${secs(tEnrol)} s`);
    const nodeIds = (await rows()).map((r) => r.nodeId ?? '');

    // ---- 1. v1 everywhere ----------------------------------------------------------------------
    const nc = await conn(cp.urls, 'fault-cluster-sim');
    let a1 = await apply(1);
    say(`apply v1: ${show(a1)}`);
    for (let i = 0; !a1.ok && i < 5; i++) a1 = await apply(1);
    if (!a1.ok) throw new Error(`apply v1 did not succeed: ${show(a1)}`);
    const v1 = a1.version ?? 0;
    await until(async () => (await runningV(1)) >= nodes, 300_000, 'every simulated agent runs v1');
    say(`v1 (version ${v1}) runs on all ${nodes}`);

    // ---- 2. the desired-state stream's leader SIGKILLed mid-apply -------------------------------
    const lname = await leaderName(nc);
    const leader = cp.servers.find((s) => s.name === lname);
    if (!leader) throw new Error(`the leader of ${stream} (${lname}) is not one of the servers`);
    const others = cp.servers.filter((s) => s !== leader);
    const second = others[0] as NatsServer;
    const survivor = others[1] as NatsServer;
    // Counted on the server that never dies (every publish on the subject passes it or is routed to it).
    const counter = await conn([survivor.url], 'fault-cluster-sim-counter');
    const token = encodeLabelToken(label);
    const seen = new Map<string, number>();
    let passed = 0;
    // The kill follows the write that reaches `--kill-at` at once (not a poll: a small apply
    // is over in a fraction of a second).
    const killWhen = Math.ceil(killAt * nodes);
    let reached: () => void = () => undefined;
    const reachedKillAt = new Promise<void>((r) => {
      reached = r;
    });
    counter.subscribe(`$KV.${buckets.desired}.*.${token}`, {
      callback: (_e, m) => {
        const id = m.subject.split('.')[2] ?? '';
        seen.set(id, (seen.get(id) ?? 0) + 1);
        passed++;
        if (passed >= killWhen) reached();
      },
    });
    await counter.flush();
    const tA2 = Date.now();
    let returnedAt = 0;
    const first2 = apply(2).then((o) => {
      returnedAt = Date.now();
      return o;
    });
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([
      reachedKillAt,
      new Promise((_r, reject) => {
        giveUp = setTimeout(
          () => reject(new Error(`timed out after 300000 ms: ${killAt} of the v2 writes`)),
          300_000,
        );
      }),
    ]).finally(() => clearTimeout(giveUp));
    const atKill = passed;
    const returnedBeforeKill = returnedAt !== 0;
    await leader.kill();
    const killedAfter = (Date.now() - tA2) / 1000;
    say(
      `SIGKILLed ${leader.name} (leader of ${stream}) after ${atKill} of ${nodes} writes, ${killedAfter.toFixed(1)} s into the apply`,
    );
    const a2 = await first2;
    const a2ReturnedAfterKill = (Date.now() - tA2) / 1000 - killedAfter;
    say(`apply v2 returned ${a2ReturnedAfterKill.toFixed(1)} s after the kill: ${show(a2)}`);
    check(!returnedBeforeKill, `the kill came before the apply returned (${atKill} writes seen at the kill)`);
    check(
      a2.error === undefined || /code 14/.test(a2.error),
      `the apply cut by the kill returned or failed UNAVAILABLE (${show(a2)})`,
    );
    const retries2: string[] = [];
    let last2 = a2;
    const passedBeforeRetry = passed;
    for (let i = 0; !last2.ok && i < 20; i++) {
      await sleep(2000);
      last2 = await apply(2);
      retries2.push(show(last2));
      say(`apply v2 retry ${i + 1}: ${show(last2)}`);
    }
    check(last2.ok, `the v2 apply, retried, succeeded (${retries2.length} retries)`);
    const v2 = last2.version ?? 0;
    check(
      a2.version === undefined || a2.version === v2,
      `the retries re-delivered the same version (${a2.version} -> ${v2})`,
    );
    const retryWrites2 = passed - passedBeforeRetry;
    const twice2 = [...seen].filter(([, n]) => n > 1).length;
    say(
      `v2 writes seen on ${survivor.name}: ${passed} (${retryWrites2} by the retries), nodes seen twice ${twice2}`,
    );
    await until(async () => (await runningV(2)) >= nodes, 300_000, 'every simulated agent runs v2').catch(
      (e: unknown) => say(String(e)),
    );
    const run2 = await runningV(2);
    check(run2 === nodes, `every simulated agent runs v2 with the leader down (${run2} of ${nodes})`);
    Object.assign(result, {
      leaderKilled: leader.name,
      writesAtKill: atKill,
      killAfterS: killedAfter,
      returnedBeforeKill,
      v2ReturnedAfterKillS: a2ReturnedAfterKill,
      v2First: a2,
      v2Retries: retries2,
      v2WritesSeen: passed,
      v2RetryWrites: retryWrites2,
      v2NodesSeenTwice: twice2,
      v2Running: run2,
    });

    // ---- 3. a second server SIGKILLed: no quorum; then both back --------------------------------
    seen.clear();
    passed = 0;
    await second.kill();
    const tOut = Date.now();
    say(`SIGKILLed ${second.name}: only ${survivor.name} left, no quorum`);
    const during: ApplyOutcome[] = [];
    let restartedAt = 0;
    let a3: ApplyOutcome | undefined;
    const attempts: string[] = [];
    let dumped = false;
    while (Date.now() - tOut < 900_000) {
      if (restartedAt !== 0 && !dumped && Date.now() - restartedAt > 60_000) {
        dumped = true;
        await dumpState(
          `no apply succeeded in the ${secs(restartedAt)} s since the servers were started again`,
        );
      }
      const o = await apply(3);
      const down = restartedAt === 0;
      attempts.push(`${down ? 'outage' : 'after'} +${secs(tOut)} s: ${show(o)}`);
      say(`apply v3 (${down ? 'no quorum' : 'servers back'}): ${show(o)}`);
      if (down) during.push(o);
      if (o.ok && !down) {
        a3 = o;
        break;
      }
      if (o.ok && down) break; // a success without quorum: checked below
      if (down && Date.now() - tOut >= outageS * 1000) {
        await Promise.all([leader.restart(), second.restart()]);
        restartedAt = Date.now();
        say(`${leader.name} and ${second.name} started again (${secs(tOut)} s after the quorum loss)`);
      }
      await sleep(3000);
    }
    const clear = (o: ApplyOutcome): boolean =>
      (o.error !== undefined && /code 14/.test(o.error)) || (o.error === undefined && o.failed === nodes);
    check(
      during.length > 0 && during.every(clear),
      `every apply without quorum failed clearly (${during.length}: ${[...new Set(during.map((o) => (o.error ?? `${o.failed} failed ${(o.reasons ?? []).join('|')}`).slice(0, 200)))].join(' || ')})`,
    );
    // An error that knows nothing was written (not sent, reached no stream, failed before the
    // first write) says nothing was changed; "may or may not take effect" only when it may have
    // been stored. Before 2026-12-07 a no-quorum apply said both at once.
    const contradicts = (e: string): boolean =>
      /nothing was (sent|changed)|reached no stream|not made/.test(e) && /may or may not/.test(e);
    const contradictory = during.flatMap((o) =>
      o.error !== undefined && contradicts(o.error) ? [o.error] : [],
    );
    check(
      contradictory.length === 0,
      `no apply error without quorum says both that nothing was changed and that it may or may not take effect (${contradictory.length}${contradictory[0] ? `: ${contradictory[0].slice(0, 300)}` : ''})`,
    );
    check(a3 !== undefined, `an apply after quorum returned succeeded (${attempts.length} attempts in all)`);
    const v3 = a3?.version ?? 0;
    const okAfterS = restartedAt && a3 ? (Date.now() - restartedAt) / 1000 : -1;
    say(`v3 = version ${v3}, applied ${okAfterS.toFixed(1)} s after the servers were started again`);
    await until(async () => (await runningV(3)) >= nodes, 300_000, 'every simulated agent runs v3').catch(
      (e: unknown) => say(String(e)),
    );
    const run3 = await runningV(3);
    check(run3 === nodes, `every simulated agent runs v3 (${run3} of ${nodes})`);

    // ---- the stream's own record -----------------------------------------------------------------
    await inSync(nc, stream);
    await inSync(nc, `KV_${buckets.jobs}`);
    const desired = await new Kvm(nc).open(buckets.desired);
    const byKey = new Map<string, (number | null)[]>();
    const tHist = Date.now();
    for await (const e of await desired.history({ key: `*.${token}` })) {
      const p = e.operation === 'PUT' ? parseSignedBundle(e.value) : undefined;
      const l = byKey.get(e.key) ?? [];
      l.push(p?.ok ? p.signed.bundle.version : null);
      byKey.set(e.key, l);
    }
    const want = `${v1},${v2},${v3}`;
    let bad = 0;
    const examples: string[] = [];
    for (const id of nodeIds) {
      const h = (byKey.get(keys.desired(id, label)) ?? []).join(',');
      if (h !== want) {
        bad++;
        if (examples.length < 5) examples.push(`${id}: [${h}]`);
      }
    }
    check(
      bad === 0 && byKey.size === nodes,
      `every key's history is [${want}] (${bad} not: ${examples.join('; ')}; ${byKey.size} keys; read in ${secs(tHist)} s)`,
    );
    const accepted = (await rows()).filter((r) => r.acceptedVersions?.[String(v3)] !== undefined).length;
    check(accepted === nodes, `every simulated agent accepted v3 (${accepted})`);
    const st = await sim.stats();
    check(st.connected === nodes, `every simulated agent connected at the end (${st.connected})`);
    check(
      cp.controller.exitCode === null && cp.controller.signalCode === null,
      'the controller process is alive',
    );
    Object.assign(result, {
      secondKilled: second.name,
      survivor: survivor.name,
      outageS: restartedAt ? (restartedAt - tOut) / 1000 : -1,
      v3Attempts: attempts,
      v3AfterRestartS: okAfterS,
      v3WritesSeen: passed,
      v3NodesSeenTwice: [...seen].filter(([, n]) => n > 1).length,
      versions: [v1, v2, v3],
      badHistory: bad,
      v3Running: run3,
      v3Accepted: accepted,
      simProblems: st.problemCount,
    });
  } catch (e) {
    failures.push(String(e));
    say(`FAILED: ${String(e)}`);
    say(`controller log (last lines):\n${cp.controllerLog().split('\n').slice(-20).join('\n')}`);
  } finally {
    result['failures'] = failures;
    await sim?.stop().catch(() => undefined);
    for (const c of conns) await c.close().catch(() => undefined);
    await cp.close();
  }
  writeFileSync(out, JSON.stringify(result, null, 2));
  say(`${failures.length === 0 ? 'PASS' : `FAIL (${failures.length})`}; results: ${out}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

await main();
process.exit(process.exitCode ?? 0);
