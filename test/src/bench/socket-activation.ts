/**
 * Benchmark: cold socket activation, side by side with systemd-socket-activate (issue 9).
 *
 * The latency is the time from a client's connect() to the first byte of the answer while the
 * job is NOT running, N times for each system, interleaved one by one so that machine noise hits
 * both alike. The job is the same C responder for both (test/bench/native/socket-bench-responder.c:
 * gets the listener as fd 3 with LISTEN_FDS, accepts once, writes "pid=<pid>", exits):
 *
 *   ours     the real agent process (launchfleet-agent) holds the job's `Sockets` listener from
 *            load, sees it readable without accepting, spawns the job with LISTEN_FDS=1.
 *            ThrottleInterval is 0 in the plist (honoured by the agent's default launchd 842
 *            flavour), so the throttle never delays a relaunch; and the benchmark waits, before
 *            every connect, until the agent reports the job exited and the socket watched again
 *            (PrintService, polled every 2 ms), then the settle time if any
 *   anchor   `systemd-socket-activate -l 127.0.0.1:PORT <responder>` started before each
 *            connect (it listens, waits for readability, then execs the job in its own process,
 *            so it is one-shot: a fresh one per activation, not timed until it listens), then
 *            the same settle time if any
 *
 * The settle time (--settle-ms, default DEFAULT_SETTLE_MS in socket-bench-net.ts: 0, connect
 * right after the readiness check): how long the client does nothing between "ready" and the
 * connect, for both sides. Why 0 stays the reference: socket-bench-net.ts and test/bench/RESULTS.md,
 * "Issue 19, tenth session".
 *
 * Each answer carries the serving pid: every sample is checked to come from a new process.
 * Overhead = ours - anchor (p50 and p99). Target (issue 3): socket activation adds <= 5 ms
 * p99 connect -> first byte beyond the job's own startup; the anchor's latency is that startup
 * plus a native activator's cost, so the overhead measured here is conservative.
 *
 *   node test/dist/bench/socket-activation.js [--quick] [--activations=N] [--settle-ms=MS]
 */
import type { ServiceStatus } from '@launchfleet/node-agent/control';
import { emit, intArg, machineInfo, parseArgs, type BenchResult } from './bench-output.ts';
import { rssMiB } from './proc-stats.ts';
import { round, summarize, type Summary } from './bench-stats.ts';
import {
  allWatching,
  activations,
  startSocketBenchAgent,
  type SocketBenchAgent,
} from './socket-bench-agent.ts';
import {
  buildResponder,
  findSocketActivate,
  freePort,
  pollUntil,
  settle,
  settleArg,
  socketActivateVersion,
  startActivator,
  timedRequest,
  type Timed,
} from './socket-bench-net.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const N = intArg(values, 'activations', quick ? 20 : 200);
const WARMUP = quick ? 2 : 5;
const LABEL = 'bench.sock.cold';
const SETTLE = settleArg(values);
if (SETTLE instanceof Error) {
  process.stderr.write(`socket-activation: ${SETTLE.message}\n`);
  process.exit(2);
}
const SETTLE_MS: number = SETTLE;

/** The agent's job is idle: no process, every socket watched again. */
function idle(s: ServiceStatus | Error): boolean {
  return !(s instanceof Error) && s.pid === undefined && allWatching(s);
}

async function waitIdle(agent: SocketBenchAgent): Promise<ServiceStatus> {
  let last: ServiceStatus | Error = new Error('not asked yet');
  const err = await pollUntil(
    async () => {
      last = await agent.service(LABEL);
      return idle(last);
    },
    15_000,
    `${LABEL} idle again`,
  );
  if (err !== undefined || last instanceof Error)
    throw new Error(`${err?.message ?? ''} (last: ${JSON.stringify(last)})\n${agent.logTail()}`);
  return last;
}

/** One cold activation through the agent; checks it ran a new process and counted one activation. */
async function oursOnce(agent: SocketBenchAgent, port: number, seen: Set<number>): Promise<Timed> {
  const before = await waitIdle(agent);
  await settle(SETTLE_MS);
  const t = await timedRequest(port);
  const after = await waitIdle(agent);
  const pid = t.pid;
  if (seen.has(pid)) throw new Error(`ours: pid ${pid} answered twice: not a cold activation`);
  seen.add(pid);
  if (activations(after) !== activations(before) + 1 || (after.runs ?? 0) !== (before.runs ?? 0) + 1)
    throw new Error(
      `ours: one connection should be one activation and one run: activations ${activations(before)} -> ${activations(after)}, runs ${before.runs} -> ${after.runs}`,
    );
  return t;
}

/** One cold activation through a fresh systemd-socket-activate. */
async function anchorOnce(bin: string, responder: string, port: number): Promise<Timed> {
  const a = await startActivator(bin, [], port, [responder]);
  try {
    await settle(SETTLE_MS);
    const t = await timedRequest(port);
    // It execs the job in its own process: the answer comes from the activator's pid.
    if (t.pid !== a.pid) throw new Error(`anchor: answer from pid ${t.pid}, activator was ${a.pid}`);
    await a.exited;
    return t;
  } finally {
    await a.stop();
  }
}

function metricsOf(prefix: string, s: Summary, m: Record<string, number>): void {
  m[`${prefix}P50Ms`] = round(s.p50);
  m[`${prefix}P90Ms`] = round(s.p90);
  m[`${prefix}P99Ms`] = round(s.p99);
  m[`${prefix}MaxMs`] = round(s.max);
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const bin = findSocketActivate();
  if (bin instanceof Error) throw bin;
  const responder = buildResponder();
  const portOurs = await freePort();
  const portAnchor = await freePort();
  const agent = await startSocketBenchAgent([
    {
      Label: LABEL,
      ProgramArguments: [responder.path],
      ThrottleInterval: 0,
      Sockets: { Listeners: { SockNodeName: '127.0.0.1', SockServiceName: String(portOurs) } },
    },
  ]).catch((err: unknown) => {
    responder.dispose();
    throw err;
  });
  const ours: Timed[] = [];
  const anchor: Timed[] = [];
  const seen = new Set<number>();
  // The very first activation after load, reported on its own: the agent's code paths run for the
  // first time. (Its account cache is no longer empty then, and the path's pure part has run once,
  // dry: at load the agent looks a socket job's accounts up and warms its first socket job's start,
  // node-agent/src/supervisor/job-spawn.ts warmJobStart and job-runner.ts load.)
  const firsts: Timed[] = [];
  let agentRss: number;
  try {
    for (let i = 0; i < WARMUP; i++) {
      const o = await oursOnce(agent, portOurs, seen);
      const a = await anchorOnce(bin, responder.path, portAnchor);
      if (i === 0) firsts.push(o, a);
    }
    for (let i = 0; i < N; i++) {
      // Alternate who goes first, so neither always follows the other's exit.
      if (i % 2 === 0) {
        ours.push(await oursOnce(agent, portOurs, seen));
        anchor.push(await anchorOnce(bin, responder.path, portAnchor));
      } else {
        anchor.push(await anchorOnce(bin, responder.path, portAnchor));
        ours.push(await oursOnce(agent, portOurs, seen));
      }
    }
    agentRss = rssMiB(agent.pid) ?? Number.NaN;
  } finally {
    await agent.stop();
    responder.dispose();
  }
  const oFirst = summarize(ours.map((t) => t.firstByteMs));
  const aFirst = summarize(anchor.map((t) => t.firstByteMs));
  const oClose = summarize(ours.map((t) => t.closeMs));
  const aClose = summarize(anchor.map((t) => t.closeMs));
  const metrics: Record<string, number> = {};
  metricsOf('ours.firstByte', oFirst, metrics);
  metricsOf('sd.firstByte', aFirst, metrics);
  metricsOf('ours.close', oClose, metrics);
  metricsOf('sd.close', aClose, metrics);
  // Where the first byte's time goes (the responder's own clock stamps; see socket-bench-net.ts).
  for (const [who, ts] of [
    ['ours', ours],
    ['sd', anchor],
  ] as const) {
    const start = summarize(ts.map((t) => t.toStartMs));
    metrics[`${who}.toStartP50Ms`] = round(start.p50);
    metrics[`${who}.toStartP99Ms`] = round(start.p99);
    metrics[`${who}.jobP50Ms`] = round(summarize(ts.map((t) => t.jobMs)).p50);
    metrics[`${who}.deliverP50Ms`] = round(summarize(ts.map((t) => t.deliverMs)).p50);
  }
  metrics['ours.agentRssMB'] = round(agentRss, 1);
  metrics['ours.firstActivationMs'] = round(firsts[0]?.firstByteMs ?? Number.NaN);
  metrics['sd.firstActivationMs'] = round(firsts[1]?.firstByteMs ?? Number.NaN);
  metrics['ratio.firstByteP50'] = round(oFirst.p50 / aFirst.p50, 3);
  metrics['ratio.firstByteP99'] = round(oFirst.p99 / aFirst.p99, 3);
  metrics['ratio.firstActivation'] = round(
    (firsts[0]?.firstByteMs ?? Number.NaN) / (firsts[1]?.firstByteMs ?? Number.NaN),
    3,
  );
  metrics['overhead.firstByteP50Ms'] = round(oFirst.p50 - aFirst.p50);
  metrics['overhead.firstByteP99Ms'] = round(oFirst.p99 - aFirst.p99);
  const sd = `systemd-socket-activate (${socketActivateVersion(bin)})`;
  const result: BenchResult = {
    bench: 'socket-activation',
    quick,
    at: new Date().toISOString(),
    machine,
    params: {
      activations: N,
      warmup: WARMUP,
      settleMs: SETTLE_MS,
      throttleInterval: 0,
      job: 'socket-bench-responder (C)',
    },
    metrics,
    rows: [
      {
        what: 'cold connect -> first byte p50',
        unit: 'ms',
        ours: 'ours.firstByteP50Ms',
        anchor: 'sd.firstByteP50Ms',
        anchorName: sd,
      },
      {
        what: 'cold connect -> first byte p99',
        unit: 'ms',
        ours: 'ours.firstByteP99Ms',
        anchor: 'sd.firstByteP99Ms',
        anchorName: sd,
      },
      {
        what: 'cold connect -> first byte p90',
        unit: 'ms',
        ours: 'ours.firstByteP90Ms',
        anchor: 'sd.firstByteP90Ms',
        anchorName: sd,
      },
      {
        what: 'cold connect -> first byte max',
        unit: 'ms',
        ours: 'ours.firstByteMaxMs',
        anchor: 'sd.firstByteMaxMs',
        anchorName: sd,
      },
      {
        what: 'cold connect -> close p50',
        unit: 'ms',
        ours: 'ours.closeP50Ms',
        anchor: 'sd.closeP50Ms',
        anchorName: sd,
      },
      {
        what: 'cold connect -> close p99',
        unit: 'ms',
        ours: 'ours.closeP99Ms',
        anchor: 'sd.closeP99Ms',
        anchorName: sd,
      },
      {
        what: "split: connect -> job's main() p50",
        unit: 'ms',
        ours: 'ours.toStartP50Ms',
        anchor: 'sd.toStartP50Ms',
        anchorName: sd,
      },
      {
        what: "split: connect -> job's main() p99",
        unit: 'ms',
        ours: 'ours.toStartP99Ms',
        anchor: 'sd.toStartP99Ms',
        anchorName: sd,
      },
      {
        what: 'split: main() -> accepted, about to write p50',
        unit: 'ms',
        ours: 'ours.jobP50Ms',
        anchor: 'sd.jobP50Ms',
        anchorName: sd,
      },
      {
        what: 'split: write -> first byte at the client p50',
        unit: 'ms',
        ours: 'ours.deliverP50Ms',
        anchor: 'sd.deliverP50Ms',
        anchorName: sd,
      },
      {
        what: 'first activation after load (one sample)',
        unit: 'ms',
        ours: 'ours.firstActivationMs',
        anchor: 'sd.firstActivationMs',
        anchorName: sd,
      },
      { what: 'agent process RSS at the end (what every spawn forks)', unit: 'MB', ours: 'ours.agentRssMB' },
      { what: 'ours / anchor, first byte p50', unit: 'x', ours: 'ratio.firstByteP50' },
      { what: 'ours / anchor, first byte p99', unit: 'x', ours: 'ratio.firstByteP99' },
      { what: 'ours / anchor, first activation after load', unit: 'x', ours: 'ratio.firstActivation' },
      { what: 'overhead over the anchor, first byte p50', unit: 'ms', ours: 'overhead.firstByteP50Ms' },
      { what: 'overhead over the anchor, first byte p99', unit: 'ms', ours: 'overhead.firstByteP99Ms' },
    ],
    targets: [
      {
        name: 'socket activation overhead, connect -> first byte p99 (F.10)',
        metric: 'overhead.firstByteP99Ms',
        op: '<=',
        limit: 5,
        unit: 'ms',
      },
      {
        name: 'issue 19: cold activation / anchor, p50',
        metric: 'ratio.firstByteP50',
        op: '<=',
        limit: 1.2,
        unit: 'x',
      },
      {
        name: 'issue 19: cold activation / anchor, p99',
        metric: 'ratio.firstByteP99',
        op: '<=',
        limit: 1.2,
        unit: 'x',
      },
      {
        name: 'issue 19: first activation after load / anchor',
        metric: 'ratio.firstActivation',
        op: '<=',
        limit: 2,
        unit: 'x',
      },
    ],
    notes: [
      `${N} cold activations each (+${WARMUP} warm-up), interleaved one by one; the client is this Node process (the same for both)`,
      'ours = the real agent process; before each connect it reported the job exited and its socket watched (PrintService); ThrottleInterval 0',
      'anchor = a fresh systemd-socket-activate per activation, timed only from connect (after it listened)',
      SETTLE_MS > 0
        ? `both sides: the client waited ${SETTLE_MS} ms (doing nothing) after the readiness check before each connect`
        : 'both sides: connect right after the readiness check (settle 0)',
      'every answer came from a new process (pids checked); ours counted exactly one activation and one run per connection',
    ],
  };
  emit(result);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `socket-activation: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
