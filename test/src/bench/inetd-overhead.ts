/**
 * Benchmark: per-connection overhead of inetd-style activation (one process per connection),
 * side by side with systemd-socket-activate in the same run (issue 9).
 *
 *   ours     the real agent process (launchfleet-agent) with an `inetdCompatibility {Wait=false}`
 *            job: the agent accepts each connection and spawns the job with it on 0/1/2
 *   anchor   `systemd-socket-activate --accept --inetd -l 127.0.0.1:PORT <responder>`: accepts,
 *            forks and execs the job with the connection on 0/1
 *
 * The job is the same C responder for both (test/bench/native/socket-bench-responder.c: writes
 * "pid=<pid>" to fd 1 and exits). Two modes, each in chunks of K connections alternating between
 * the two systems so that machine noise hits both alike:
 *
 *   sequential   one connection at a time: connect -> first byte, connect -> close, and
 *                connections/s = connections / wall time of the chunks
 *   concurrent   C clients, each connecting again as soon as its last connection closed
 *
 * Also the activator's own CPU time per connection (utime + stime of the agent / of
 * systemd-socket-activate from /proc, the jobs' processes not included), over all connections.
 * Every answer must come from a process of its own (pids checked per chunk), and the agent must
 * count every connection (inetd.accepted).
 *
 *   node test/dist/bench/inetd-overhead.js [--quick] [--connections=M] [--concurrency=C] [--chunk=K]
 *
 * Target (issue 3, read per connection): <= 5 ms p99 connect -> first byte over the anchor.
 */
import { emit, intArg, machineInfo, parseArgs, type BenchResult } from './bench-output.ts';
import { round, summarize } from './bench-stats.ts';
import { rssMiB, sample } from './proc-stats.ts';
import { startSocketBenchAgent } from './socket-bench-agent.ts';
import {
  buildResponder,
  findSocketActivate,
  freePort,
  socketActivateVersion,
  startActivator,
  timedRequest,
  type Timed,
} from './socket-bench-net.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const M = intArg(values, 'connections', quick ? 60 : 600);
const C = intArg(values, 'concurrency', 8);
const K = Math.min(M, intArg(values, 'chunk', quick ? 30 : 50));
const WARMUP = quick ? 5 : 20;
const LABEL = 'bench.sock.inetd';

type Mode = 'seq' | 'conc';
type Who = 'ours' | 'sd';

interface Tally {
  readonly timed: Timed[];
  wallMs: number;
  cpuSec: number;
  connections: number;
}

/** `count` connections with `clients` of them in flight at a time; the pids of the answers must differ. */
async function chunk(
  port: number,
  count: number,
  clients: number,
  who: Who,
): Promise<{ timed: Timed[]; wallMs: number }> {
  const timed: Timed[] = [];
  let next = 0;
  const t0 = performance.now();
  const client = async (): Promise<void> => {
    while (next < count) {
      next++;
      timed.push(await timedRequest(port));
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, count) }, client));
  const wallMs = performance.now() - t0;
  const pids = new Set(timed.map((t) => t.pid));
  // A pid can come back only after the kernel's pid counter wrapped: never within one chunk here.
  if (pids.size !== count)
    throw new Error(`${who}: ${count} connections were answered by only ${pids.size} processes`);
  return { timed, wallMs };
}

function cpuOf(pid: number): number {
  const s = sample(pid);
  if (!s) throw new Error(`the activator (pid ${pid}) is gone`);
  return s.cpuSec;
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
      inetdCompatibility: { Wait: false },
      Sockets: { Listeners: { SockNodeName: '127.0.0.1', SockServiceName: String(portOurs) } },
    },
  ]).catch((err: unknown) => {
    responder.dispose();
    throw err;
  });
  const tallies = new Map<string, Tally>();
  const tally = (who: Who, mode: Mode): Tally => {
    const key = `${who}.${mode}`;
    let t = tallies.get(key);
    if (!t) {
      t = { timed: [], wallMs: 0, cpuSec: 0, connections: 0 };
      tallies.set(key, t);
    }
    return t;
  };
  const sdVersion = socketActivateVersion(bin);
  let acceptedByAgent: number;
  let agentRss: number;
  try {
    const sd = await startActivator(bin, ['--accept', '--inetd'], portAnchor, [responder.path]);
    try {
      const pids: Record<Who, number> = { ours: agent.pid, sd: sd.pid };
      const ports: Record<Who, number> = { ours: portOurs, sd: portAnchor };
      for (const who of ['ours', 'sd'] as const) await chunk(ports[who], WARMUP, 1, who);
      let round_ = 0;
      for (let done = 0; done < M; done += K, round_++) {
        const size = Math.min(K, M - done);
        const order: readonly Who[] = round_ % 2 === 0 ? ['ours', 'sd'] : ['sd', 'ours'];
        for (const mode of ['seq', 'conc'] as const)
          for (const who of order) {
            const cpu0 = cpuOf(pids[who]);
            const r = await chunk(ports[who], size, mode === 'seq' ? 1 : C, who);
            const t = tally(who, mode);
            t.cpuSec += cpuOf(pids[who]) - cpu0;
            t.wallMs += r.wallMs;
            t.connections += size;
            t.timed.push(...r.timed);
          }
      }
    } finally {
      await sd.stop();
    }
    const s = await agent.service(LABEL);
    if (s instanceof Error) throw s;
    acceptedByAgent = Number(s.inetd?.accepted ?? Number.NaN);
    agentRss = rssMiB(agent.pid) ?? Number.NaN;
  } finally {
    await agent.stop();
    responder.dispose();
  }
  const expected = WARMUP + 2 * M;
  if (acceptedByAgent !== expected)
    throw new Error(
      `the agent counted ${acceptedByAgent} accepted connections, the clients made ${expected}`,
    );

  const metrics: Record<string, number> = {};
  for (const who of ['ours', 'sd'] as const)
    for (const mode of ['seq', 'conc'] as const) {
      const t = tally(who, mode);
      const fb = summarize(t.timed.map((x) => x.firstByteMs));
      const cl = summarize(t.timed.map((x) => x.closeMs));
      const p = `${who}.${mode}`;
      metrics[`${p}.connPerSec`] = round(t.connections / (t.wallMs / 1000), 1);
      metrics[`${p}.firstByteP50Ms`] = round(fb.p50);
      metrics[`${p}.firstByteP99Ms`] = round(fb.p99);
      metrics[`${p}.closeP50Ms`] = round(cl.p50);
      metrics[`${p}.closeP99Ms`] = round(cl.p99);
      metrics[`${p}.toStartP50Ms`] = round(summarize(t.timed.map((x) => x.toStartMs)).p50);
      metrics[`${p}.toStartP99Ms`] = round(summarize(t.timed.map((x) => x.toStartMs)).p99);
      metrics[`${p}.cpuMsPerConn`] = round((t.cpuSec * 1000) / t.connections);
    }
  metrics['ours.agentRssMB'] = round(agentRss, 1);
  for (const mode of ['seq', 'conc'] as const) {
    metrics[`overhead.${mode}.firstByteP50Ms`] = round(
      (metrics[`ours.${mode}.firstByteP50Ms`] ?? Number.NaN) -
        (metrics[`sd.${mode}.firstByteP50Ms`] ?? Number.NaN),
    );
    metrics[`overhead.${mode}.firstByteP99Ms`] = round(
      (metrics[`ours.${mode}.firstByteP99Ms`] ?? Number.NaN) -
        (metrics[`sd.${mode}.firstByteP99Ms`] ?? Number.NaN),
    );
    metrics[`ratio.${mode}.connPerSec`] = round(
      (metrics[`ours.${mode}.connPerSec`] ?? Number.NaN) / (metrics[`sd.${mode}.connPerSec`] ?? Number.NaN),
      3,
    );
  }
  const an = `systemd-socket-activate --accept --inetd (${sdVersion})`;
  const row = (what: string, unit: string, key: string) => ({
    what,
    unit,
    ours: `ours.${key}`,
    anchor: `sd.${key}`,
    anchorName: an,
  });
  const result: BenchResult = {
    bench: 'inetd-overhead',
    quick,
    at: new Date().toISOString(),
    machine,
    params: { connections: M, concurrency: C, chunk: K, warmup: WARMUP, job: 'socket-bench-responder (C)' },
    metrics,
    rows: [
      row('sequential: connections/s', '1/s', 'seq.connPerSec'),
      row('sequential: connect -> first byte p50', 'ms', 'seq.firstByteP50Ms'),
      row('sequential: connect -> first byte p99', 'ms', 'seq.firstByteP99Ms'),
      row(`concurrency ${C}: connections/s`, '1/s', 'conc.connPerSec'),
      row(`concurrency ${C}: connect -> first byte p50`, 'ms', 'conc.firstByteP50Ms'),
      row(`concurrency ${C}: connect -> first byte p99`, 'ms', 'conc.firstByteP99Ms'),
      row('sequential: connect -> close p50', 'ms', 'seq.closeP50Ms'),
      row('sequential: connect -> close p99', 'ms', 'seq.closeP99Ms'),
      row(`concurrency ${C}: connect -> close p99`, 'ms', 'conc.closeP99Ms'),
      row("sequential split: connect -> job's main() p50", 'ms', 'seq.toStartP50Ms'),
      row("sequential split: connect -> job's main() p99", 'ms', 'seq.toStartP99Ms'),
      row('sequential: activator CPU per connection', 'ms', 'seq.cpuMsPerConn'),
      row(`concurrency ${C}: activator CPU per connection`, 'ms', 'conc.cpuMsPerConn'),
      { what: 'connections/s, ours / anchor, sequential', unit: 'x', ours: 'ratio.seq.connPerSec' },
      { what: `connections/s, ours / anchor, concurrency ${C}`, unit: 'x', ours: 'ratio.conc.connPerSec' },
      {
        what: 'overhead over the anchor, sequential first byte p99',
        unit: 'ms',
        ours: 'overhead.seq.firstByteP99Ms',
      },
      {
        what: `overhead over the anchor, concurrency ${C} first byte p99`,
        unit: 'ms',
        ours: 'overhead.conc.firstByteP99Ms',
      },
    ],
    targets: [
      {
        name: 'inetd per-connection overhead, first byte p99, sequential (F.10)',
        metric: 'overhead.seq.firstByteP99Ms',
        op: '<=',
        limit: 5,
        unit: 'ms',
      },
      {
        name: "issue 19: connections/s >= the anchor's, sequential",
        metric: 'ratio.seq.connPerSec',
        op: '>=',
        limit: 1,
        unit: 'x',
      },
      {
        name: `issue 19: connections/s >= the anchor's, concurrency ${C}`,
        metric: 'ratio.conc.connPerSec',
        op: '>=',
        limit: 1,
        unit: 'x',
      },
    ],
    notes: [
      `${M} connections per system and mode (+${WARMUP} warm-up), in chunks of ${K} alternating between the two; clients in this Node process`,
      'every answer came from a process of its own (pids checked per chunk); the agent counted every connection (inetd.accepted)',
      'activator CPU = utime+stime of the agent process / of systemd-socket-activate, the jobs not included',
      'ours has no ThrottleInterval in the plist (default 10 s): inetd Wait=false instances are not throttled',
    ],
  };
  emit(result);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `inetd-overhead: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
