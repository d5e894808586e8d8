/**
 * The fleet benchmark (issue 9): a real nats-server, the controller in its own process, the
 * simulator in one or more processes (sim/), and this process as the observer and API client.
 *
 *  1. enrolment ramp: every agent starts with a one-use bootstrap token; time until each is in
 *     the registry and has put its first status snapshot.
 *  2. apply -> running everywhere, `runs` times: ApplyJob (target all) of a new version of one
 *     label; per node, the time until its snapshot shows that version running.
 *  3. fleet-wide health: `healthQueries` sequential JobHealth calls after each apply.
 *  4. cost: CPU and RSS of controller, nats-server and simulators from /proc, idle and during
 *     the applies.
 *  5. reconnect spread: nats-server stopped, down ~1 s, started; per connection the server's
 *     own connect time (/connz `start`), our agents beside plain nats.js clients with default
 *     reconnect options (the reconnect anchor: docs/engineering.md, "Benchmarks").
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { buckets } from '@launchfleet/shared/messages';
import { TokenStore } from '@launchfleet/controller/enrollment';
import { RawApi } from '../support/controller-fleet.ts';
import { sampleProc, cpuPercent, cpuSecBetween, type ProcSample } from '../sim/proc-usage.ts';
import { assignProfiles, parseMix } from '../sim/sim-profiles.ts';
import type { SimAgentRow, SimStats } from '../sim/sim-protocol.ts';
import { startBenchControlPlane } from './fleet-controller-proc.ts';
import { FleetObserver } from './fleet-observer.ts';
import { BrokerCounters, type BrokerSnapshot, perAgent } from './broker-counters.ts';
import { type Printer, mb, ms, pct, report } from './fleet-report.ts';
import { SimProc } from './fleet-sim-proc.ts';
import { type RollingResult, rollingRestart } from './fleet-rolling.ts';
import { densestWindow, histogram, median, quantiles, type Quantiles } from './fleet-stats.ts';

export interface FleetBenchOptions {
  readonly agents: number;
  /** Simulator processes the agents are split over. */
  readonly simProcs: number;
  readonly runs: number;
  /** Profile mix (sim-profiles.ts syntax). */
  readonly mix: string;
  /** Test timings in the agents instead of production's. */
  readonly fast: boolean;
  /** Plain nats.js clients beside the agents for the reconnect anchor (0: no anchor). */
  readonly anchorClients: number;
  /** Broker restarts (0: skip the reconnect measurement); rolling restarts with `cluster`. */
  readonly restarts: number;
  /** A cluster of this many servers (R3 buckets) instead of one server. */
  readonly cluster?: number;
  readonly healthQueries: number;
  readonly enrolTimeoutMs: number;
  readonly convergeTimeoutMs: number;
  readonly reconnectTimeoutMs: number;
  readonly churn?: { readonly offlineMs: number; readonly onlineMs: number };
  /** The steady-state window after the applies (ms; 0 skips it). Default 60 s. */
  readonly steadyMs?: number;
  /** Agents started per second across the fleet (0: all at once). */
  readonly startRatePerSec?: number;
  /**
   * Each simulator admits at most this many NATS connects in flight (0/undefined: no gate;
   * test/src/sim/connect-gate.ts). Latencies measured with it include the gate's waits.
   */
  readonly simConnectGate?: number;
  /**
   * The agents' heartbeat period (s) and the controller's expectation of it, instead of the
   * defaults (10 s; offline after 90 s, or 3 heartbeats if longer).
   */
  readonly heartbeatS?: number;
  /**
   * When a rolling restart's apply is made: `during` (default; after the first server is back,
   * so the apply and the moves share the box) or `after` the last server is back and every
   * session with it (waited for as long as the roll's own timeout): the moves measured alone;
   * on this 2-core box the simulated agents' apply stalls their loops, and agents still to move
   * are then closed by their lame-duck server.
   */
  readonly rollApply?: 'during' | 'after';
  /** A rolling restart's pause between one server healthy and the next into lame-duck mode (ms). */
  readonly rollPauseMs?: number;
  /** Write all results as JSON here. */
  readonly outFile?: string;
  readonly print: Printer;
}

const label = 'com.acme.fleetbench';

/** Everything measured, for the results file and the CI test. */
export interface FleetBenchResult {
  readonly agents: number;
  readonly profiles: Record<string, number>;
  enrolment?: {
    readonly enrolledMs: Quantiles;
    readonly reportingMs: Quantiles;
    readonly enrolled: number;
    readonly reporting: number;
    readonly allEnrolledMs: number;
    readonly ratePerSec: number;
    readonly simStartMs: number;
  };
  readonly applies: {
    readonly run: number;
    readonly version: string;
    readonly expected: number;
    /** Distinct node ids among the expected (less than `expected`: some agent had no id). */
    readonly expectedNodeIds: number;
    readonly reached: number;
    readonly latencyMs: Quantiles;
    /** Apply to running as the agents themselves saw it (their supervisor's running event). */
    readonly runningOnNodeMs: Quantiles;
    /** Apply to the node's reconciler holding the verified bundle (the agents' own view). */
    readonly acceptedOnNodeMs: Quantiles;
    readonly applyCallMs: number;
    readonly controllerApplyMs: number;
    readonly controllerCpuPct: number;
    readonly serverCpuPct: number;
    readonly simCpuPct: number;
    /** CPU-seconds per 1,000 agents spent on this apply (until every node ran it, or the timeout). */
    readonly cpuSecPer1k: {
      readonly controller: number;
      readonly server: number;
      readonly simulators: number;
    };
  }[];
  readonly health: {
    readonly run: number;
    readonly latencyMs: Quantiles;
    readonly last: Record<string, unknown>;
  }[];
  readonly resources: Record<string, { rssBytes: number; hwmBytes: number; cpuPct: number }>;
  simStats: SimStats[];
  /** What the broker says JetStream was asked, per phase (broker-counters.ts). */
  readonly broker: Record<string, Record<string, number>>;
  readonly reconnects: {
    readonly restart: number;
    readonly downMs: number;
    /** Agents with a working session again, and when the last one came up (ms after the restart). */
    readonly sessions: number;
    /** Online agents the restart should have brought back (and the away apply reached). */
    readonly expectedSessions: number;
    readonly expectedAway: number;
    /** Churn agents (offline and online on their own schedule) that also had a session again. */
    readonly churnSessions: number;
    readonly allSessionsMs: number;
    /** The apply made right after the restart, while the agents were away. */
    readonly awayApply?: {
      readonly version: string;
      readonly running: number;
      readonly lastRunningMs: number;
    };
    /** Agent connections the broker holds at the end. */
    readonly brokerAgentConnections: number;
    /** CPU-seconds per 1,000 agents from the restart until every session and the apply were back. */
    readonly cpuSecPer1k: {
      readonly controller: number;
      readonly server: number;
      readonly simulators: number;
    };
    readonly simulatorsAlive: number;
    readonly groups: Record<
      string,
      {
        n: number;
        expected: number;
        offsetsMs: Quantiles;
        window90Ms: number;
        histogram: { fromMs: number; toMs: number; count: number }[];
      }
    >;
  }[];
  /** A window of the fleet running the last applied job (crash-looping where the mix says). */
  steady?: {
    readonly windowMs: number;
    readonly eventsPerNodeMinute: number;
    readonly events: number;
    /** CPU-seconds per minute per 1,000 agents, and RSS at the end. */
    readonly controller: { readonly cpuSecPer1kPerMin: number; readonly rssBytes: number };
    readonly server: { readonly cpuSecPer1kPerMin: number; readonly rssBytes: number };
    readonly healthMs: Quantiles;
    readonly alertsFiring: number;
  };
  /** Rolling restarts of a cluster (fleet-rolling.ts). */
  readonly rollings: RollingResult[];
  /** Agents whose (non-crash-looping) job ran at the last applied version, per the simulators. */
  finalRunning: {
    readonly expected: number;
    readonly running: number;
    readonly byProfile: Record<string, number>;
  };
  readonly problems: string[];
}

export async function runFleetBench(o: FleetBenchOptions): Promise<FleetBenchResult> {
  const mixR = parseMix(o.mix);
  if (!mixR.ok) throw new Error(`mix: ${mixR.error}`);
  const profiles = assignProfiles(mixR.mix, o.agents);
  const profileCount: Record<string, number> = {};
  for (const p of profiles) profileCount[p] = (profileCount[p] ?? 0) + 1;
  const result: FleetBenchResult = {
    agents: o.agents,
    profiles: profileCount,
    applies: [],
    health: [],
    resources: {},
    simStats: [],
    broker: {},
    reconnects: [],
    rollings: [],
    finalRunning: { expected: 0, running: 0, byProfile: {} },
    problems: [],
  };
  const print = o.print;
  const cp = await startBenchControlPlane({
    ...(o.cluster !== undefined && { cluster: o.cluster }),
    ...(o.heartbeatS !== undefined && {
      offlineAfterSeconds: Math.max(90, 3 * o.heartbeatS),
      controllerConfig: { heartbeatSeconds: o.heartbeatS },
    }),
  });
  const natsArg = cp.urls.join(',');
  const sims: SimProc[] = [];
  let anchor: SimProc | undefined;
  let observer: FleetObserver | undefined;
  let counters: BrokerCounters | undefined;
  const api = new RawApi(cp.grpcPort, undefined);
  try {
    print(
      `# fleet bench: ${o.agents} agents in ${o.simProcs} simulator process(es), mix ${o.mix}, ${o.runs} run(s)${o.simConnectGate ? `, simulator connect gate ${o.simConnectGate} per process (latencies include its waits)` : ''}${o.heartbeatS !== undefined ? `, heartbeat ${o.heartbeatS} s` : ''}`,
    );
    print(
      `#   nats-server ${cp.servers.map((x) => `${x.url} (pid ${x.pid})`).join(', ')}, controller pid ${cp.controller.pid ?? 0}`,
    );
    // ---- tokens ----------------------------------------------------------------------------
    // One through the API (it also hands out the enroll user's creds); the rest straight into
    // lf_tokens with the controller's own TokenStore: the API mints fresh enroll creds (a
    // pure-JS Ed25519 key pair and JWT) per call, ~20 tokens/s here, which would make a
    // 10,000-agent run spend minutes before it starts.
    const t0tok = performance.now();
    const first = await api.call('CreateEnrollmentToken', { ttlSeconds: 7200, maxUses: 1 }, cp.tokens.admin);
    const tokens: string[] = [String(first['token'])];
    const enrollCreds = String(first['enrollCredentials']);
    const ctlConn = await connect({
      servers: [...cp.urls],
      authenticator: credsAuthenticator(new Uint8Array(await cp.identity.controllerCreds())),
      name: 'bench-tokens',
    });
    try {
      const store = new TokenStore(await new Kvm(ctlConn).open(buckets.tokens));
      await pool(o.agents - 1, 64, async () => {
        tokens.push((await store.create(Date.now(), 7200_000, 1)).token);
      });
    } finally {
      await ctlConn.close();
    }
    const tokenFile = join(cp.dir, 'tokens.txt');
    await writeFile(tokenFile, `${tokens.join('\n')}\n${enrollCreds}`, { mode: 0o600 });
    print(`#   ${o.agents} enrolment tokens via gRPC in ${ms(performance.now() - t0tok)}`);
    observer = await FleetObserver.start(
      [...cp.urls],
      new Uint8Array(Buffer.from(await cp.identity.controllerCreds())),
    );
    counters = await BrokerCounters.start(
      [...cp.urls],
      new Uint8Array(Buffer.from(await cp.identity.controllerCreds())),
      () => cp.servers.map((x) => x.monitorPort),
    );
    const brokerPhase = async (name: string, from: BrokerSnapshot): Promise<BrokerSnapshot> => {
      const to = await counters!.snapshot();
      const d = perAgent(from, to, o.agents);
      result.broker[name] = d;
      report(print, 'broker-counters', { agents: o.agents, phase: name, ...d }, [
        ['phase', name],
        [
          'agents: JetStream API requests',
          `${d['agentApiRequests']} (${(d['agentApiRequestsPerAgent'] ?? 0).toFixed(3)} per agent), consumer creations ${d['agentConsumerCreates']}`,
        ],
        ['consumers created (anyone)', `${d['consumersCreated']}; on the broker now ${d['consumersNow']}`],
        ['consumer creations by client', JSON.stringify(counters!.consumerCreatorsFrom(from.auditIndex))],
        [
          'API requests (all clients)',
          `${d['apiRequestsAll']} audited; /jsz ${d['jszApiTotal']} (errors ${d['jszApiErrors']}); dropped at the queue limit ${d['limitReached']}`,
        ],
      ]);
      return to;
    };
    let phaseStart = await counters.snapshot();

    // ---- 1. enrolment ramp --------------------------------------------------------------------
    const per = Math.ceil(o.agents / o.simProcs);
    const tRamp = Date.now();
    for (let p = 0; p * per < o.agents; p++) {
      const n = Math.min(per, o.agents - p * per);
      const args = [
        '--agents',
        String(n),
        '--nats',
        natsArg,
        '--token-file',
        tokenFile,
        '--token-offset',
        String(p * per),
        '--mix',
        o.mix,
      ];
      if (o.fast) args.push('--fast');
      if (o.simConnectGate) args.push('--connect-gate', String(o.simConnectGate));
      if (o.heartbeatS !== undefined) args.push('--heartbeat-s', String(o.heartbeatS));
      if (o.startRatePerSec)
        args.push('--start-rate', String(Math.max(1, Math.round(o.startRatePerSec / o.simProcs))));
      if (o.churn)
        args.push(
          '--churn-offline-ms',
          String(o.churn.offlineMs),
          '--churn-online-ms',
          String(o.churn.onlineMs),
        );
      sims.push(new SimProc(args));
    }
    // The mix is assigned per process; recompute the fleet's real profile counts from the rows later.
    const started = await Promise.all(sims.map((s) => s.ready));
    const simStartMs = Math.max(...started.map((s) => (s.type === 'started' ? s.ms : 0)));
    {
      const obs = observer;
      let lastPrint = Date.now();
      await waitUntil(async () => {
        if (obs.enrolled.size >= o.agents && obs.firstStatus.size >= o.agents) return true;
        if (Date.now() - lastPrint >= 10_000) {
          lastPrint = Date.now();
          const st = await Promise.all(sims.map((x) => x.stats()));
          print(
            `#   ${ms(Date.now() - tRamp)}: registry ${obs.enrolled.size}, reporting ${obs.firstStatus.size}, agents enrolled ${st.reduce((a, x) => a + x.enrolled, 0)}, connected ${st.reduce((a, x) => a + x.connected, 0)}; last problem: ${st.flatMap((x) => x.problems).slice(-1)[0] ?? '-'}`,
          );
          print(`#     ${waveDiagnosis(st)}`);
        }
        return false;
      }, o.enrolTimeoutMs).catch(() => print(`# enrolment INCOMPLETE after ${ms(o.enrolTimeoutMs)}`));
    }
    // The controller's own word on enrolments that stalled (enrollment-service.ts), if any.
    for (const l of cp.controllerLog().split('\n'))
      if (l.includes('enrolment: ')) print(`# controller: ${l.slice(0, 300)}`);
    const rows = (await Promise.all(sims.map((s) => s.rows()))).flat();
    const enrolledMs = [...observer.enrolled.values()].map((t) => t - tRamp);
    const reportingMs = [...observer.firstStatus.values()].map((t) => t - tRamp);
    const allEnrolledMs = enrolledMs.length > 0 ? Math.max(...enrolledMs) : Number.NaN;
    result.enrolment = {
      enrolledMs: quantiles(enrolledMs),
      reportingMs: quantiles(reportingMs),
      enrolled: observer.enrolled.size,
      reporting: observer.firstStatus.size,
      allEnrolledMs,
      ratePerSec: (observer.enrolled.size / allEnrolledMs) * 1000,
      simStartMs,
    };
    const e = result.enrolment;
    report(print, 'enrolment-ramp', { agents: o.agents, ...e }, [
      ['enrolled', `${e.enrolled}/${o.agents} (registry)`],
      ['reporting', `${e.reporting}/${o.agents} (first status snapshot)`],
      ['enrolled p50/p99/all', `${ms(e.enrolledMs.p50)} / ${ms(e.enrolledMs.p99)} / ${ms(e.enrolledMs.max)}`],
      [
        'reporting p50/p99/all',
        `${ms(e.reportingMs.p50)} / ${ms(e.reportingMs.p99)} / ${ms(e.reportingMs.max)}`,
      ],
      ['rate', `${e.ratePerSec.toFixed(0)} enrolments/s`],
      ['simulator start', `${ms(simStartMs)} to start every agent`],
    ]);
    phaseStart = await brokerPhase('enrolment and first sessions', phaseStart);
    const expectedRunning = (r: SimAgentRow): boolean => r.profile !== 'crash-looping';
    const expected = rows.filter(expectedRunning).length;
    // Crash-looping nodes' jobs run for a moment between crashes; only the others must get there.
    const expectedIds = new Set(rows.filter(expectedRunning).map((r) => r.nodeId ?? ''));
    // Every agent has its id by now (the enrolment phase waited for all of them). One without an
    // id could never be matched to a status snapshot and would read as a node that never got
    // there: say so instead (a churn agent offline at this moment once had none: 805/900).
    const noId = rows.filter((r) => r.nodeId === undefined);
    const offlineNow = rows.filter((r) => r.offline === true).length;
    if (offlineNow > 0) print(`# ${offlineNow} churn agents were offline when their ids were read`);
    if (noId.length > 0)
      print(
        `# ${noId.length} agents have no node id after the enrolment phase: ${JSON.stringify(countBy(noId.map((r) => r.profile)))}`,
      );
    const reachedExpected = (m: ReadonlyMap<string, number>): [string, number][] =>
      [...m].filter(([id]) => expectedIds.has(id));

    // ---- 2-4. steady-state cost, applies, health ----------------------------------------------
    const pids = (): Record<string, number> => ({
      controller: cp.controller.pid ?? 0,
      ...Object.fromEntries(
        cp.servers.map((_, i) => [i === 0 ? 'nats-server' : `nats-server-${i}`, cp.serverProc(i).pid]),
      ),
      ...Object.fromEntries(sims.map((s, i) => [`simulator-${i}`, s.pid])),
    });
    const sampleAll = (): Record<string, ProcSample | undefined> =>
      Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, sampleProc(pid)]));
    const cpuBetween = (
      a: Record<string, ProcSample | undefined>,
      b: Record<string, ProcSample | undefined>,
      k: string,
    ): number => {
      const x = a[k];
      const y = b[k];
      return x && y ? cpuPercent(x, y) : Number.NaN;
    };
    const idleA = sampleAll();
    await sleep(10_000);
    const idleB = sampleAll();
    for (const k of Object.keys(idleB)) {
      const s = idleB[k];
      result.resources[`${k} idle`] = {
        rssBytes: s?.rssBytes ?? Number.NaN,
        hwmBytes: s?.hwmBytes ?? Number.NaN,
        cpuPct: cpuBetween(idleA, idleB, k),
      };
    }
    const simIdleCpu = sims.reduce((acc, _s, i) => acc + cpuBetween(idleA, idleB, `simulator-${i}`), 0);
    report(
      print,
      'idle-cost',
      { agents: o.agents, resources: result.resources, agentsPerCore: o.agents / (simIdleCpu / 100) },
      [
        ...Object.entries(result.resources).map(
          ([k, r]) =>
            [k, `RSS ${mb(r.rssBytes)} (peak ${mb(r.hwmBytes)}), CPU ${pct(r.cpuPct)} of a core`] as const,
        ),
        [
          'simulated agents per core',
          `${(o.agents / (simIdleCpu / 100)).toFixed(0)} (idle, production timings: ${!o.fast}${o.heartbeatS !== undefined ? `, heartbeat ${o.heartbeatS} s` : ''})`,
        ],
      ],
    );

    // LF_FLEET_APPLY_PROF=<dir>: a V8 CPU profile of each simulator over each apply and each
    // broker-restart wave only.
    const applyProf = process.env['LF_FLEET_APPLY_PROF'];
    for (let run = 1; run <= o.runs; run++) {
      if (applyProf) await Promise.all(sims.map((x) => x.startProfile()));
      const msgsBefore = await varzMsgs(cp.servers.map((x) => x.monitorPort)).catch(() => undefined);
      const seqBefore = await streamSeqs(cp.servers.map((x) => x.monitorPort)).catch(() => undefined);
      const before = sampleAll();
      const t0 = Date.now();
      const r = await api.call(
        'ApplyJob',
        { plist: benchPlist(run), target: { all: true } },
        cp.tokens.operator,
      );
      const applyCallMs = Date.now() - t0;
      const version = String(r['version']);
      // No node got there for 5 s: read the missing ones' status directly, so a stalled watch
      // (seen once in CI: 853/900 at 6.5 s, then nothing for 54 s, while the controller counted
      // all of them at the new version) is told apart from nodes that really are late.
      let lastCount = -1;
      let lastProgress = Date.now();
      const polledBefore = observer.polledReaches;
      await waitUntil(async () => {
        const obs = observer!;
        const n = reachedExpected(obs.reached(label, version)).length;
        if (n !== lastCount) {
          lastCount = n;
          lastProgress = Date.now();
        } else if (Date.now() - lastProgress > 5000) {
          const seen = obs.reached(label, version);
          await obs.pollStatus([...expectedIds].filter((id) => !seen.has(id)));
          lastProgress = Date.now();
        }
        return n >= expected;
      }, o.convergeTimeoutMs).catch(() => undefined);
      const polledReaches = observer.polledReaches - polledBefore;
      const after = sampleAll();
      const msgsAfter = await varzMsgs(cp.servers.map((x) => x.monitorPort)).catch(() => undefined);
      const seqAfter = await streamSeqs(cp.servers.map((x) => x.monitorPort)).catch(() => undefined);
      if (applyProf)
        await Promise.all(
          sims.map((x, i) => x.stopProfile(join(applyProf, `simulator-${i}-apply-${run}.cpuprofile`))),
        );
      const reached = reachedExpected(observer.reached(label, version));
      const lat = reached.map(([, t]) => t - t0);
      // The agents' own clock (same machine): when the job entered running at this version, which
      // splits the path into apply -> running on the node, and running -> seen by the controller.
      const runArg = String(run);
      const allRows = (await Promise.all(sims.map((x) => x.rows(label).catch(() => [])))).flat();
      // Only the nodes the apply waits for: a crash-looping node's job enters running again at
      // every restart, which is not when the version got there.
      const runRows = allRows.filter(
        (row) =>
          expectedIds.has(row.nodeId ?? '') &&
          row.runningArgs?.includes(runArg) === true &&
          row.runningAt !== undefined,
      );
      // When some did not get there: who they are and what their link did, from their own view
      // (times from the apply), so a timed-out run says where to look.
      const reachedIds = new Set(reached.map(([id]) => id));
      const notReached = allRows.filter(
        (row) => row.nodeId && expectedIds.has(row.nodeId) && !reachedIds.has(row.nodeId),
      );
      const since = (t: number | undefined) => (t === undefined ? '-' : `${((t - t0) / 1000).toFixed(1)}s`);
      const notReachedText =
        notReached.length === 0
          ? ''
          : `${JSON.stringify(countBy(notReached.map((row) => row.profile)))}; first ${Math.min(5, notReached.length)}: ` +
            notReached
              .slice(0, 5)
              .map(
                (row) =>
                  `${row.profile} connected ${since(row.connectedAt)} lost ${since(row.disconnectedAt)} ` +
                  `connects ${row.connects} accepted ${since(row.acceptedAt)} running ${since(row.runningAt)} ` +
                  `args ${JSON.stringify(row.runningArgs ?? null)}`,
              )
              .join(' | ');
      const onNode = runRows.map((row) => (row.runningAt ?? 0) - t0);
      // When each node's reconciler first got this version (not its last bundle pass, which a
      // churn agent repeats at every link start: that once read as nodes verifying ~1 minute late).
      const accepted = allRows
        .filter((r) => expectedIds.has(r.nodeId ?? ''))
        .map((r) => r.acceptedVersions?.[version])
        .filter((t): t is number => t !== undefined)
        .map((t) => t - t0);
      const a = {
        run,
        version,
        expected,
        expectedNodeIds: [...expectedIds].filter((id) => id !== '').length,
        reached: reached.length,
        latencyMs: quantiles(lat),
        runningOnNodeMs: quantiles(onNode),
        acceptedOnNodeMs: quantiles(accepted),
        applyCallMs,
        controllerApplyMs: Number(r['durationMs'] ?? Number.NaN),
        // Messages the broker(s) took in and handed out over the apply, per agent (everyone's:
        // controller, agents, this benchmark's observer; a cluster counts routed copies too).
        brokerMsgsPerAgent:
          msgsBefore && msgsAfter
            ? {
                in: (msgsAfter.in - msgsBefore.in) / o.agents,
                out: (msgsAfter.out - msgsBefore.out) / o.agents,
              }
            : undefined,
        // Writes each stream stored over the apply, per agent: lf_desired (the controller's
        // keys), lf_nodes (status and inventory puts), the events stream.
        storedPerAgent:
          seqBefore && seqAfter
            ? Object.fromEntries(
                [...seqAfter].map(([name, seq]) => [name, (seq - (seqBefore.get(name) ?? 0)) / o.agents]),
              )
            : undefined,
        controllerCpuPct: cpuBetween(before, after, 'controller'),
        serverCpuPct: cpuBetween(before, after, 'nats-server'),
        simCpuPct: sims.reduce((acc, _s, i) => acc + cpuBetween(before, after, `simulator-${i}`), 0),
        cpuSecPer1k: {
          controller: cpuSecBetween(before, after, ['controller']) / (o.agents / 1000),
          server:
            cpuSecBetween(
              before,
              after,
              Object.keys(after).filter((k) => k.startsWith('nats-server')),
            ) /
            (o.agents / 1000),
          simulators:
            cpuSecBetween(
              before,
              after,
              Object.keys(after).filter((k) => k.startsWith('simulator')),
            ) /
            (o.agents / 1000),
        },
      };
      result.applies.push(a);
      report(print, 'apply-to-running', { agents: o.agents, ...a }, [
        ['run / version', `${run} / ${version}`],
        ['nodes running it', `${a.reached}/${expected}${a.reached < expected ? ' (TIMED OUT)' : ''}`],
        ...(notReachedText ? [['not reached (their own view)', notReachedText] as [string, string]] : []),
        ...(polledReaches > 0 || observer.watchRestarts > 0
          ? [
              [
                'missed by the status watch',
                `${polledReaches} nodes found running by a direct read; watch restarts so far ${observer.watchRestarts}`,
              ] as [string, string],
            ]
          : []),
        ['p50 / p99 / all', `${ms(a.latencyMs.p50)} / ${ms(a.latencyMs.p99)} / ${ms(a.latencyMs.max)}`],
        [
          'verified on the node p50/p99/all',
          `${ms(a.acceptedOnNodeMs.p50)} / ${ms(a.acceptedOnNodeMs.p99)} / ${ms(a.acceptedOnNodeMs.max)}`,
        ],
        [
          'running on the node p50/p99/all',
          `${ms(a.runningOnNodeMs.p50)} / ${ms(a.runningOnNodeMs.p99)} / ${ms(a.runningOnNodeMs.max)} (the agents' own view)`,
        ],
        ['ApplyJob call', `${ms(applyCallMs)} (controller says ${ms(a.controllerApplyMs)})`],
        [
          'broker messages per agent',
          a.brokerMsgsPerAgent
            ? `${a.brokerMsgsPerAgent.in.toFixed(1)} in, ${a.brokerMsgsPerAgent.out.toFixed(1)} out`
            : 'unknown (no /varz)',
        ],
        [
          'stored per agent (stream: writes)',
          a.storedPerAgent
            ? Object.entries(a.storedPerAgent)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `${k} ${v.toFixed(2)}`)
                .join(', ')
            : 'unknown (no /jsz)',
        ],
        [
          'CPU during',
          `controller ${pct(a.controllerCpuPct)}, nats-server ${pct(a.serverCpuPct)}, simulators ${pct(a.simCpuPct)}`,
        ],
        [
          'CPU-seconds per 1,000 agents',
          `controller ${a.cpuSecPer1k.controller.toFixed(2)}, nats-server ${a.cpuSecPer1k.server.toFixed(2)}, simulators ${a.cpuSecPer1k.simulators.toFixed(2)}`,
        ],
      ]);
      // Health: every node's snapshot is in; the query answers from the controller's index.
      const times: number[] = [];
      let last: Record<string, unknown> = {};
      for (let q = 0; q < o.healthQueries; q++) {
        const tq = performance.now();
        last = await api.call('JobHealth', { label, maxProblems: 100 }, cp.tokens.viewer);
        times.push(performance.now() - tq);
      }
      const h = { run, latencyMs: quantiles(times), last: { ...last, problems: undefined } };
      result.health.push(h);
      report(print, 'health-query', { agents: o.agents, run, latencyMs: h.latencyMs, answer: h.last }, [
        ['queries', `${o.healthQueries} sequential JobHealth calls over gRPC`],
        ['p50 / p99 / max', `${ms(h.latencyMs.p50)} / ${ms(h.latencyMs.p99)} / ${ms(h.latencyMs.max)}`],
        [
          'answer',
          `reporting ${String(last['nodesReporting'])}, at desired version ${String(last['nodesAtDesiredVersion'])}, throttled ${String(last['throttled'])}, crash-looping ${String(last['crashLooping'])}, offline ${String(last['nodesOffline'])}`,
        ],
      ]);
      for (const [k, v] of Object.entries(after)) {
        const prev = result.resources[`${k} peak`];
        result.resources[`${k} peak`] = {
          rssBytes: Math.max(prev?.rssBytes ?? 0, v?.rssBytes ?? 0),
          hwmBytes: v?.hwmBytes ?? Number.NaN,
          cpuPct: Math.max(prev?.cpuPct ?? 0, cpuBetween(before, after, k)),
        };
      }
    }
    const lastVersion = result.applies[result.applies.length - 1]?.version;
    phaseStart = await brokerPhase('applies', phaseStart);

    // ---- 4b. steady state: the fleet runs the job (a bad job on every node, with --mix crash=100):
    // events per node and minute, CPU-seconds per 1,000 agents and minute, health queries meanwhile.
    const steadyMs = o.steadyMs ?? 60_000;
    if (steadyMs > 0) {
      const alerts = counters.counter('lf.events.controller.alert-firing');
      const ev0 = await counters.streamLastSeq('LF_EVENTS').catch(() => Number.NaN);
      const s0 = sampleAll();
      const tS = Date.now();
      const times: number[] = [];
      while (Date.now() - tS < steadyMs) {
        const tq = performance.now();
        await api.call('JobHealth', { label, maxProblems: 100 }, cp.tokens.viewer).catch(() => undefined);
        times.push(performance.now() - tq);
        await sleep(1000);
      }
      const s1 = sampleAll();
      const ev1 = await counters.streamLastSeq('LF_EVENTS').catch(() => Number.NaN);
      const windowMs = Date.now() - tS;
      alerts.stop();
      const per1kMin = (k: string): number => {
        const a0 = s0[k];
        const a1 = s1[k];
        return a0 && a1 ? (a1.cpuMs - a0.cpuMs) / 1000 / (o.agents / 1000) / (windowMs / 60_000) : Number.NaN;
      };
      const st = {
        windowMs,
        events: ev1 - ev0,
        eventsPerNodeMinute: (ev1 - ev0) / o.agents / (windowMs / 60_000),
        controller: {
          cpuSecPer1kPerMin: per1kMin('controller'),
          rssBytes: s1['controller']?.rssBytes ?? Number.NaN,
        },
        server: {
          cpuSecPer1kPerMin: per1kMin('nats-server'),
          rssBytes: s1['nats-server']?.rssBytes ?? Number.NaN,
        },
        healthMs: quantiles(times),
        alertsFiring: alerts.count(),
      };
      result.steady = st;
      report(print, 'steady-state', { agents: o.agents, mix: o.mix, ...st }, [
        ['window', `${ms(windowMs)} with the job running (mix ${o.mix})`],
        ['events', `${st.events} in all, ${st.eventsPerNodeMinute.toFixed(2)} per node and minute`],
        [
          'CPU-seconds per 1,000 agents per minute',
          `controller ${st.controller.cpuSecPer1kPerMin.toFixed(2)}, nats-server ${st.server.cpuSecPer1kPerMin.toFixed(2)}`,
        ],
        ['RSS at the end', `controller ${mb(st.controller.rssBytes)}, nats-server ${mb(st.server.rssBytes)}`],
        [
          'health query meanwhile',
          `${times.length} calls, p50 ${ms(st.healthMs.p50)}, p99 ${ms(st.healthMs.p99)}, max ${ms(st.healthMs.max)}`,
        ],
        ['alerts that fired in the window', String(st.alertsFiring)],
      ]);
      phaseStart = await brokerPhase('steady state', phaseStart);
    }

    // ---- final state, per the simulators themselves ---------------------------------------------
    result.simStats = await Promise.all(sims.map((s) => s.stats(label)));
    const finalRows = (await Promise.all(sims.map((s) => s.rows(label)))).flat();
    const byProfile: Record<string, number> = {};
    for (const st of result.simStats)
      for (const [p, n] of Object.entries(st.running)) byProfile[p] = (byProfile[p] ?? 0) + n;
    const runningAtLast =
      lastVersion === undefined ? 0 : reachedExpected(observer.reached(label, lastVersion)).length;
    result.finalRunning = { expected, running: runningAtLast, byProfile };
    for (const st of result.simStats) result.problems.push(...st.problems);
    report(
      print,
      'simulators',
      { stats: result.simStats.map((s) => ({ ...s, problems: s.problems.length })) },
      [
        ...result.simStats.map(
          (s, i) =>
            [
              `simulator-${i}`,
              `${s.agents} agents, ${s.connected} connected, ${s.offline} offline, RSS ${mb(s.rssBytes)}, heap ${mb(s.heapUsedBytes)}, loop p99 ${ms(s.loopDelayP99Ms)}, spawns ${s.spawns}, warn/error lines ${s.problemCount}`,
            ] as const,
        ),
        ['running the job (supervisor)', JSON.stringify(byProfile)],
        ['enrolled (sim view)', `${finalRows.filter((r) => r.enrolledAt !== undefined).length}/${o.agents}`],
      ],
    );

    // ---- 5. a broker restart: sessions counted, an apply made while the agents are away --------
    if (o.restarts > 0) {
      if (o.anchorClients > 0) {
        anchor = new SimProc(
          [
            '--anchor-clients',
            String(o.anchorClients),
            '--anchor-creds-file',
            cp.controllerCredsFile,
            '--nats',
            natsArg,
          ],
          2048,
        );
        await anchor.ready;
      }
      await observer.close();
      observer = undefined;
      const onlineAgents = rows.filter((r) => r.profile !== 'churn').length;
      const onlineIds = new Set(rows.filter((r) => r.profile !== 'churn').map((r) => r.nodeId ?? ''));
      // Online agents that run the job. Crash-looping ones are not counted: their job is running
      // for a moment now and then, and one caught in that moment once ended the wait below with a
      // slow-start node still starting (CI: 799/800 at the final count).
      const awayIds = new Set(
        rows.filter((r) => r.profile !== 'churn' && r.profile !== 'crash-looping').map((r) => r.nodeId ?? ''),
      );
      const expectedAway = awayIds.size;
      for (let k = 1; k <= o.restarts; k++) {
        phaseStart = await counters.snapshot();
        if (cp.servers.length > 1) {
          const run = 2000 + k;
          result.rollings.push(
            await rollingRestart({
              cp,
              sims,
              diagnose: async () => {
                const st = await Promise.all(sims.map((x) => x.stats())).catch(() => undefined);
                return st && waveDiagnosis(st);
              },
              label,
              onlineIds,
              runningIds: awayIds,
              sampleCpu: sampleAll,
              applyAfter: o.rollApply === 'after',
              ...(o.rollPauseMs !== undefined && { pauseMs: o.rollPauseMs }),
              apply: async () => {
                const res = await retryFor(
                  () =>
                    api.call(
                      'ApplyJob',
                      { plist: benchPlist(run), target: { all: true } },
                      cp.tokens.operator,
                    ),
                  60_000,
                );
                // A partial apply is the controller's answer, not an error: said here, or nodes
                // missing at the end look like a delivery problem (2026-12-07: 256 of 20,000).
                const failures = Array.isArray(res['failures'])
                  ? (res['failures'] as { reason?: string }[])
                  : [];
                print(
                  `#   the roll's apply: version ${String(res['version'])}, ${String(res['nodesWritten'])} written, ` +
                    `${failures.length} failed${failures[0] ? ` (e.g. ${failures[0].reason ?? '?'})` : ''}`,
                );
                return String(res['version']);
              },
              appliedArg: String(run),
              timeoutMs: o.reconnectTimeoutMs,
              print,
            }),
          );
          phaseStart = await brokerPhase(`rolling restart ${k}`, phaseStart);
          continue;
        }
        // Start the simulators' loop-delay windows at the restart.
        await Promise.all(sims.map((x) => x.stats())).catch(() => undefined);
        if (applyProf) await Promise.all(sims.map((x) => x.startProfile()));
        const wave0 = sampleAll();
        const logs0 = cp.serverLogCounts();
        const tStop = Date.now();
        await cp.serverProc().kill('SIGTERM');
        const tDown = Date.now();
        await sleep(1000);
        await cp.server.restart();
        const tUp = Date.now();
        // An apply made while the agents are away: the broker is back, the agents come back over
        // their spread. The controller's own connection reconnects within a second.
        const awayRun = 1000 + k;
        const awayCall = retryFor(
          () =>
            api.call('ApplyJob', { plist: benchPlist(awayRun), target: { all: true } }, cp.tokens.operator),
          30_000,
        ).catch((e: unknown) => {
          print(`# the apply after the restart failed: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        });
        const want = { agents: onlineAgents, anchor: o.anchorClients };
        let conns: { name: string; startMs: number }[] = [];
        // Done when every agent has a working session again (its set-up finished: the
        // simulators' view), every one runs the version applied while it was away, and every
        // anchor client is connected (the broker's view). Open TCP connections alone say little:
        // at 10,000 the broker once held more connections than agents while few set-ups had
        // finished. A failed or slow /connz or stats answer keeps the last good value.
        let connzFailures = 0;
        let sessions = 0;
        let runningAway = 0;
        let allSessionsAt = Number.NaN;
        let lastPrint = Date.now();
        const awayArg = String(awayRun);
        await waitUntil(
          async () => {
            const simRows = await Promise.all(sims.map((x) => x.rows(label))).catch(() => undefined);
            if (simRows) {
              const flat = simRows.flat().filter((r) => onlineIds.has(r.nodeId ?? ''));
              sessions = flat.filter((r) => r.connectedAt !== undefined && r.connectedAt >= tDown).length;
              runningAway = flat.filter(
                (r) => awayIds.has(r.nodeId ?? '') && r.runningArgs?.includes(awayArg) === true,
              ).length;
              if (sessions >= want.agents && Number.isNaN(allSessionsAt)) allSessionsAt = Date.now();
            }
            if (Date.now() - lastPrint >= 10_000) {
              lastPrint = Date.now();
              print(
                `#   ${ms(Date.now() - tUp)} after the restart: ${sessions} agent sessions, ${runningAway} run the version applied meanwhile, ${countGroups(conns, tUp).agents} agent connections at the broker`,
              );
              // What the agents without a session wait for, and whether the simulators' own
              // event loops keep up (a starved loop times out connects on the client side).
              const st = await Promise.all(sims.map((x) => x.stats())).catch(() => undefined);
              if (st) print(`#     ${waveDiagnosis(st)}`);
            }
            try {
              conns = await connz(cp.server.monitorPort);
            } catch {
              connzFailures++;
              return false;
            }
            return (
              sessions >= want.agents &&
              runningAway >= expectedAway &&
              countGroups(conns, tUp).anchor >= want.anchor
            );
          },
          o.reconnectTimeoutMs,
          2000,
        ).catch(() => undefined);
        if (applyProf)
          await Promise.all(
            sims.map((x, i) => x.stopProfile(join(applyProf, `simulator-${i}-restart-${k}.cpuprofile`))),
          ).catch((e: unknown) => print(`# restart profile: ${e instanceof Error ? e.message : String(e)}`));
        const away = await awayCall;
        if (connzFailures > 0) print(`# reconnect: ${connzFailures} /connz calls failed or timed out (30 s)`);
        // The agents' own view: when each one's session last came up (Date.now() in the
        // simulator, the same clock as tUp), and when it started the version applied meanwhile.
        // Counted over the agents that were online at the restart; churn agents come and go on
        // their own schedule and are counted apart.
        const allRows = (await Promise.all(sims.map((x) => x.rows(label).catch(() => [])))).flat();
        const simRows = allRows.filter((r) => onlineIds.has(r.nodeId ?? ''));
        const churnBack = allRows.filter(
          (r) => !onlineIds.has(r.nodeId ?? '') && r.connectedAt !== undefined && r.connectedAt >= tDown,
        ).length;
        const clientOffs = simRows
          .map((r) => r.connectedAt)
          .filter((t): t is number => t !== undefined && t >= tDown)
          .map((t) => t - tUp);
        const awayRows = simRows.filter((r) => awayIds.has(r.nodeId ?? ''));
        const awayOffs = awayRows
          .filter((r) => r.runningArgs?.includes(awayArg) === true && r.runningAt !== undefined)
          .map((r) => (r.runningAt ?? 0) - tUp);
        // Who does not run it, from the agents' own view (times from the restart).
        const notAway = awayRows.filter((r) => r.runningArgs?.includes(awayArg) !== true);
        if (notAway.length > 0) {
          const at = (t: number | undefined) => (t === undefined ? '-' : `${((t - tUp) / 1000).toFixed(1)}s`);
          print(
            `#   not running the version applied while away: ${JSON.stringify(countBy(notAway.map((r) => r.profile)))}; first ${Math.min(5, notAway.length)}: ` +
              notAway
                .slice(0, 5)
                .map(
                  (r) =>
                    `${r.profile} connected ${at(r.connectedAt)} lost ${at(r.disconnectedAt)} connects ${r.connects} ` +
                    `accepted ${at(r.acceptedAt)} running ${at(r.runningAt)} args ${JSON.stringify(r.runningArgs ?? null)}`,
                )
                .join(' | '),
          );
        }
        const cq = quantiles(clientOffs);
        print(
          `#   sessions up again (agents' view): ${clientOffs.length}/${onlineAgents}; p50 ${ms(cq.p50 ?? Number.NaN)}, p99 ${ms(cq.p99 ?? Number.NaN)}, max ${ms(cq.max ?? Number.NaN)}, densest 90 % ${ms(densestWindow(clientOffs, 0.9))}`,
        );
        const groups: FleetBenchResult['reconnects'][number]['groups'] = {};
        for (const g of ['agents', 'anchor'] as const) {
          const offs = conns
            .filter((c) => groupOf(c.name) === g && c.startMs >= tDown)
            .map((c) => c.startMs - tUp);
          if (want[g] === 0) continue;
          groups[g] = {
            n: offs.length,
            expected: want[g],
            offsetsMs: quantiles(offs),
            window90Ms: densestWindow(offs, 0.9),
            histogram: histogram(
              offs.map((x) => Math.max(0, x)),
              250,
              30,
            ),
          };
        }
        const brokerAgentConnections = conns.filter((c) => groupOf(c.name) === 'agents').length;
        const simulatorsAlive = sims.filter((x) => x.alive()).length;
        // The reconnect wave's cost: the new server process from its start, the others' difference.
        const wave1 = sampleAll();
        const per1k = o.agents / 1000;
        const waveCpuSecPer1k = {
          controller: cpuSecBetween(wave0, wave1, ['controller']) / per1k,
          server: (wave1['nats-server']?.cpuMs ?? Number.NaN) / 1000 / per1k,
          simulators:
            cpuSecBetween(
              wave0,
              wave1,
              Object.keys(wave1).filter((k) => k.startsWith('simulator')),
            ) / per1k,
        };
        const rc = {
          cpuSecPer1k: waveCpuSecPer1k,
          restart: k,
          downMs: tUp - tDown,
          stopMs: tDown - tStop,
          sessions: clientOffs.length,
          expectedSessions: onlineAgents,
          expectedAway,
          churnSessions: churnBack,
          allSessionsMs: allSessionsAt - tUp,
          ...(away && {
            awayApply: {
              version: String(away['version']),
              running: awayOffs.length,
              lastRunningMs: awayOffs.length > 0 ? Math.max(...awayOffs) : Number.NaN,
            },
          }),
          brokerAgentConnections,
          simulatorsAlive,
          groups,
        };
        result.reconnects.push(rc);
        report(print, 'reconnect-spread', { agents: o.agents, ...rc }, [
          ['broker down', `${ms(tUp - tDown)} (SIGTERM took ${ms(tDown - tStop)})`],
          [
            'agent sessions again',
            `${rc.sessions}/${onlineAgents}, all by ${ms(rc.allSessionsMs)} after the restart (and ${rc.churnSessions} churn agents)`,
          ],
          [
            'applied while away',
            rc.awayApply
              ? `version ${rc.awayApply.version}: ${rc.awayApply.running}/${expectedAway} online nodes run it, the last ${ms(rc.awayApply.lastRunningMs)} after the restart`
              : 'the apply failed',
          ],
          [
            'agent connections at the broker',
            `${brokerAgentConnections} for ${o.agents} agents (plus ${o.anchorClients} anchor clients)`,
          ],
          ['simulator processes alive', `${simulatorsAlive}/${sims.length}`],
          [
            'server log lines meanwhile',
            JSON.stringify(
              Object.fromEntries(
                Object.entries(cp.serverLogCounts()).map(([k, n]) => [k, n - (logs0[k] ?? 0)]),
              ),
            ),
          ],
          [
            'CPU-seconds per 1,000 agents',
            `controller ${waveCpuSecPer1k.controller.toFixed(2)}, nats-server ${waveCpuSecPer1k.server.toFixed(2)} (its new process), simulators ${waveCpuSecPer1k.simulators.toFixed(2)}`,
          ],
          ...Object.entries(groups).flatMap(([g, x]) => [
            [`${g} reconnected`, `${x.n}/${x.expected}`] as const,
            [
              `${g} after restart p1..p50/p99/max`,
              `${ms(x.offsetsMs.min)} .. ${ms(x.offsetsMs.p50)} / ${ms(x.offsetsMs.p99)} / ${ms(x.offsetsMs.max)}`,
            ] as const,
            [`${g} densest 90 % window`, ms(x.window90Ms)] as const,
            [`${g} histogram (250 ms+)`, x.histogram.map((b) => b.count).join(' ')] as const,
          ]),
        ]);
        phaseStart = await brokerPhase(`broker restart ${k}`, phaseStart);
        if (k < o.restarts) await sleep(5000);
      }
    }
    return result;
  } finally {
    if (o.outFile) await writeFile(o.outFile, JSON.stringify(result, null, 2)).catch(() => undefined);
    api.close();
    await observer?.close();
    await counters?.close();
    await anchor?.stop();
    await Promise.all(sims.map((s) => s.stop()));
    await cp.close();
  }
}

/** How many of each value. */
function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The bench job: KeepAlive, a version marker so every run is a new bundle. */
function benchPlist(run: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>Label</key><string>${label}</string>
<key>ProgramArguments</key><array><string>/usr/bin/fleetbench</string><string>--run</string><string>${run}</string></array>
<key>RunAtLoad</key><true/>
<key>KeepAlive</key><true/>
<key>ExitTimeOut</key><integer>2</integer>
</dict></plist>
`;
}

function groupOf(name: string): 'agents' | 'anchor' | 'other' {
  if (name.startsWith('anchor-')) return 'anchor';
  return /^n[0-9a-z]{20}$/.test(name) ? 'agents' : 'other';
}

function countGroups(
  conns: readonly { name: string; startMs: number }[],
  since: number,
): { agents: number; anchor: number } {
  let agents = 0;
  let anchor = 0;
  for (const c of conns) {
    if (c.startMs < since - 5000) continue;
    const g = groupOf(c.name);
    if (g === 'agents') agents++;
    else if (g === 'anchor') anchor++;
  }
  return { agents, anchor };
}

/** Messages the servers received from and delivered to clients (and routes), summed. */
async function varzMsgs(ports: readonly number[]): Promise<{ in: number; out: number }> {
  let inMsgs = 0;
  let outMsgs = 0;
  for (const port of ports) {
    const r = await fetch(`http://127.0.0.1:${port}/varz`, { signal: AbortSignal.timeout(10_000) });
    const j = (await r.json()) as { in_msgs?: number; out_msgs?: number };
    inMsgs += j.in_msgs ?? 0;
    outMsgs += j.out_msgs ?? 0;
  }
  return { in: inMsgs, out: outMsgs };
}

/** Each stream's last sequence (the highest any server reports): writes stored so far. */
async function streamSeqs(ports: readonly number[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const port of ports) {
    const r = await fetch(`http://127.0.0.1:${port}/jsz?accounts=true&streams=true`, {
      signal: AbortSignal.timeout(10_000),
    });
    const j = (await r.json()) as {
      account_details?: { stream_detail?: { name?: string; state?: { last_seq?: number } }[] }[];
    };
    for (const a of j.account_details ?? [])
      for (const st of a.stream_detail ?? [])
        if (st.name) out.set(st.name, Math.max(out.get(st.name) ?? 0, st.state?.last_seq ?? 0));
  }
  return out;
}

/** Open connections with their names and server-side start times (ms). */
async function connz(port: number): Promise<{ name: string; startMs: number }[]> {
  const r = await fetch(`http://127.0.0.1:${port}/connz?limit=200000`, {
    signal: AbortSignal.timeout(30_000),
  });
  const j = (await r.json()) as { connections?: { name?: string; start?: string }[] };
  return (j.connections ?? []).map((c) => ({ name: c.name ?? '', startMs: parseTime(c.start ?? '') }));
}

/** RFC 3339 with nanoseconds -> ms (Date.parse is only sure of 3 fraction digits). */
function parseTime(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Number.NaN;
  const frac = (m[2] ?? '').padEnd(9, '0');
  return Date.parse(`${m[1]}${m[3]}`) + Number(frac.slice(0, 9)) / 1e6;
}

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Calls `fn` until it succeeds or `ms` have passed (the last error is thrown). */
async function retryFor<T>(fn: () => Promise<T>, msTotal: number): Promise<T> {
  const deadline = Date.now() + msTotal;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(500);
    }
  }
}

function sleep(msec: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msec));
}

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        await fn(i);
      }
    }),
  );
}

export { median };

/**
 * One line on a reconnect wave from the simulators' stats: their worst event-loop delay p99
 * since the last call, and the three commonest reasons agents are still without a session.
 */
export function waveDiagnosis(stats: readonly SimStats[]): string {
  const waiting = new Map<string, number>();
  for (const s of stats)
    for (const [why, n] of Object.entries(s.waiting)) waiting.set(why, (waiting.get(why) ?? 0) + n);
  const top = [...waiting.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
  const loop = Math.max(0, ...stats.map((s) => s.loopDelayP99Ms));
  const reasons = top.length === 0 ? 'none waiting' : top.map(([why, n]) => `${n} ${why}`).join('; ');
  const gated = stats.filter((s) => s.gate !== undefined);
  const gate =
    gated.length === 0
      ? ''
      : `; connect gate: ${gated.reduce((a, s) => a + s.gate!.waiting, 0)} waiting, ${gated.reduce((a, s) => a + s.gate!.inFlight, 0)} in flight, longest wait ${ms(Math.max(...gated.map((s) => s.gate!.waitedMsMax)))}`;
  return `simulator loop delay p99 ${ms(loop)}; without a session: ${reasons}${gate}`;
}
