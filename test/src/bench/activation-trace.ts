/**
 * Profiling tool (issue 19): where the time of a cold socket activation goes, activation by
 * activation, in the tail as well as at the median. Not a benchmark with targets: socket-activation.ts
 * is; this runs the same activations (the real agent with a `Sockets` job, ThrottleInterval 0, the C
 * responder; a fresh systemd-socket-activate per anchor sample; interleaved, alternating who goes
 * first) with activation-trace-preload.ts preloaded into the agent, and joins three clocks that are
 * one (CLOCK_MONOTONIC): the client's connect and first byte, the agent's stamps (wake-up, the
 * direct spawn's call and return, GC pauses, log writes, optionally every callback), and the
 * responder's main() and write. Per activation:
 *
 *   connect->wake   the kernel and the agent's event loop until the readability callback runs
 *   wake->fork      the agent's JavaScript from the wake-up to spawnJob (machine step, request)
 *   fork            spawnJob: clone, the child's set-up, its exec (returns once the job exec'd)
 *   fork->main      the exec'd image until the job's main() (loader; and the CPU it waits for)
 *   main->ready     the job's accept;  ready->first: its write until the client has the byte
 *   after-fork      the agent's work after the fork in the same callback (the status, the log
 *                   line, the state store) and (turn) until that loop iteration ended (with the
 *                   microtasks: the 'spawned' step), which competes with the job for the 2 cores
 *
 * and the same split for the anchor (connect->main, main->ready, ready->first). It prints each
 * segment's p50/p90/p99/max for both, then the slowest activations of ours with their split and
 * what overlapped them (GC pauses, log writes, with --hooks=1 the callbacks the loop ran between
 * the connect and the wake-up), and the same split of the first activation after load (the first
 * warm-up, not in the statistics) beside the anchor's first. Before each connect both sides get
 * the benchmark's settle time (socket-bench-net.ts DEFAULT_SETTLE_MS, 0: none; --settle-ms=N).
 *
 * --age-gcs=N: between the load and that first activation the agent is made to run N major GCs
 * (allocation in the tracer, the preload's `age`), as an agent idle for long would: V8 flushes the
 * bytecode of functions not run for `--bytecode-old-age` major GCs (5 in Node 20), so the first
 * activation then shows whether the load-time warm-up survives a long idle. It prints the GCs' time
 * and V8's bytecode size before and after them, and waits a second before the activation.
 *
 *   node --conditions=launchfleet-testing test/dist/bench/activation-trace.js \
 *       [--activations=N] [--slowest=K] [--hooks=1] [--json=PATH] [--settle-ms=MS] [--age-gcs=N]
 *
 * Root (system-domain plists), systemd-socket-activate and cc as for socket-activation; run it
 * under /tmp/lf-suite.lock like the benchmarks. --hooks=1 adds ~1 µs per callback to the agent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServiceStatus } from '@launchfleet/node-agent/control';
import { intArg, machineInfo, parseArgs } from './bench-output.ts';
import { round, summarize } from './bench-stats.ts';
import { allWatching, startSocketBenchAgent, type SocketBenchAgent } from './socket-bench-agent.ts';
import {
  buildResponder,
  findSocketActivate,
  freePort,
  pollUntil,
  settle,
  settleArg,
  startActivator,
  timedRequest,
  type Timed,
} from './socket-bench-net.ts';

const { values } = parseArgs(process.argv.slice(2));
const N = intArg(values, 'activations', 200);
const SLOWEST = intArg(values, 'slowest', 10);
const HOOKS = values.get('hooks') === '1';
// 0 (the default): no ageing; intArg takes positive integers only.
const AGE_GCS = values.get('age-gcs') === '0' ? 0 : intArg(values, 'age-gcs', 0);
const JSON_OUT = values.get('json');
const WARMUP = 5;
const LABEL = 'bench.sock.trace';
const SETTLE = settleArg(values);
if (SETTLE instanceof Error) {
  console.error(`activation-trace: ${SETTLE.message}`);
  process.exit(2);
}
const SETTLE_MS: number = SETTLE;

type Stamp = [kind: string, tNs: number, a?: number | string, b?: number | string];

async function waitIdle(agent: SocketBenchAgent): Promise<void> {
  let last: ServiceStatus | Error = new Error('not asked yet');
  const err = await pollUntil(
    async () => {
      last = await agent.service(LABEL);
      return !(last instanceof Error) && last.pid === undefined && allWatching(last);
    },
    15_000,
    `${LABEL} idle again`,
  );
  if (err !== undefined) throw new Error(`${err.message}\n${agent.logTail()}`);
}

async function anchorOnce(bin: string, responder: string, port: number): Promise<Timed> {
  const a = await startActivator(bin, [], port, [responder]);
  try {
    await settle(SETTLE_MS);
    const t = await timedRequest(port);
    await a.exited;
    return t;
  } finally {
    await a.stop();
  }
}

interface OursRow {
  readonly i: number;
  readonly pid: number;
  readonly firstByte: number;
  readonly connectToWake: number;
  readonly wakeToFork: number;
  readonly fork: number;
  readonly forkToMain: number;
  readonly mainToReady: number;
  readonly readyToFirst: number;
  readonly afterFork: number;
  /** From the fork's return to the end of that loop iteration (microtasks included). */
  readonly turnAfterFork: number;
  /** ms of GC pause inside [connect, first byte], and the pauses (start from connect, ms, kind). */
  readonly gcMs: number;
  readonly events: readonly string[];
}

const ms = (ns: number): number => ns / 1e6;

function main2(ours: readonly Timed[], trace: { originNs: string; stamps: Stamp[] }): OursRow[] {
  const origin = BigInt(trace.originNs);
  const rel = (t: bigint): number => Number(t - origin);
  const st = trace.stamps;
  const rows: OursRow[] = [];
  ours.forEach((t, i) => {
    const fi = st.findIndex((s) => s[0] === 'fork' && s[3] === t.pid);
    if (fi < 0) throw new Error(`no fork stamp for pid ${t.pid}`);
    const fork = st[fi] as Stamp;
    let wi = fi;
    while (wi >= 0 && st[wi]?.[0] !== 'wake') wi--;
    const wake = st[wi];
    if (!wake) throw new Error(`no wake-up before the fork of pid ${t.pid}`);
    let ei = fi;
    while (ei < st.length && st[ei]?.[0] !== 'wake-end') ei++;
    const wakeEnd = st[ei];
    let ti = fi;
    while (ti < st.length && st[ti]?.[0] !== 'turn-end') ti++;
    const turnEnd = st[ti];
    const c = rel(t.at.connect);
    const first = rel(t.at.first);
    const forkEnd = fork[1] + Number(fork[2]);
    const events: string[] = [];
    let gcMs = 0;
    for (const s of st) {
      const [kind, at] = s;
      if (['wake', 'wake-end', 'turn-end', 'fork', 'cb-end'].includes(kind)) continue;
      const dur = kind === 'cb' ? 0 : Number(s[2] ?? 0);
      if (at + dur < c - 2e6 || at > first) continue;
      if (kind === 'gc' && at + dur >= c) gcMs += ms(Math.min(at + dur, first) - Math.max(at, c));
      if (kind === 'cb' && (at < c || at > wake[1])) continue;
      const what =
        kind === 'cb'
          ? `cb ${String(s[2])}`
          : `${kind}${kind === 'gc' ? `(${String(s[3])})` : ''} ${round(ms(dur), 3)} ms`;
      events.push(`${round(ms(at - c), 3)}: ${what}`);
    }
    rows.push({
      i,
      pid: t.pid,
      firstByte: t.firstByteMs,
      connectToWake: ms(wake[1] - c),
      wakeToFork: ms(fork[1] - wake[1]),
      fork: ms(Number(fork[2])),
      forkToMain: ms(rel(t.at.start) - forkEnd),
      mainToReady: t.jobMs,
      readyToFirst: t.deliverMs,
      afterFork: wakeEnd ? ms(wakeEnd[1] - forkEnd) : Number.NaN,
      turnAfterFork: turnEnd ? ms(turnEnd[1] - forkEnd) : Number.NaN,
      gcMs,
      events,
    });
  });
  return rows;
}

/** One activation of ours, its first byte and the split of it (ms). */
function split(r: OursRow): string {
  return `${round(r.firstByte, 3)} = wake ${round(r.connectToWake, 3)} + js ${round(r.wakeToFork, 3)} + fork ${round(r.fork, 3)} + exec ${round(r.forkToMain, 3)} + accept ${round(r.mainToReady, 3)} + deliver ${round(r.readyToFirst, 3)}; after-fork ${round(r.afterFork, 3)} (turn ${round(r.turnAfterFork, 3)}); gc ${round(r.gcMs, 3)}`;
}

function line(name: string, xs: readonly number[]): string {
  const s = summarize(xs.filter((x) => Number.isFinite(x)));
  const f = (x: number): string => round(x, 3).toFixed(3).padStart(8);
  return `${name.padEnd(22)}${f(s.p50)}${f(s.p90)}${f(s.p99)}${f(s.max)}`;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const bin = findSocketActivate();
  if (bin instanceof Error) throw bin;
  const responder = buildResponder();
  const portOurs = await freePort();
  const portAnchor = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lf-activation-trace-'));
  const tracePath = join(dir, 'trace.json');
  const preload = pathToFileURL(join(import.meta.dirname, 'activation-trace-preload.js'));
  preload.searchParams.set('out', tracePath);
  if (HOOKS) preload.searchParams.set('hooks', '1');
  const agePath = join(dir, 'age.json');
  if (AGE_GCS > 0) {
    preload.searchParams.set('age', agePath);
    preload.searchParams.set('gcs', String(AGE_GCS));
  }
  const agent = await startSocketBenchAgent(
    [
      {
        Label: LABEL,
        ProgramArguments: [responder.path],
        ThrottleInterval: 0,
        Sockets: { Listeners: { SockNodeName: '127.0.0.1', SockServiceName: String(portOurs) } },
      },
    ],
    { nodeFlags: [`--import=${preload.href}`] },
  ).catch((err: unknown) => {
    responder.dispose();
    throw err;
  });
  const ours: Timed[] = [];
  const anchor: Timed[] = [];
  const firsts: Timed[] = [];
  let trace: { originNs: string; stamps: Stamp[] };
  let aged = '';
  try {
    if (AGE_GCS > 0) {
      await waitIdle(agent);
      process.kill(agent.pid, 'SIGUSR2');
      const err = await pollUntil(() => existsSync(agePath), 90_000, 'the agent aged', 50);
      if (err !== undefined) throw err;
      await settle(1_000);
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))?.[1];
      aged = `${readFileSync(agePath, 'utf8')}, the agent's RSS a second later ${Number(rss) / 1000} MB`;
    }
    for (let i = 0; i < WARMUP; i++) {
      await waitIdle(agent);
      await settle(SETTLE_MS);
      const o = await timedRequest(portOurs);
      const a = await anchorOnce(bin, responder.path, portAnchor);
      if (i === 0) firsts.push(o, a);
    }
    for (let i = 0; i < N; i++) {
      const oursOnce = async (): Promise<void> => {
        await waitIdle(agent);
        await settle(SETTLE_MS);
        ours.push(await timedRequest(portOurs));
      };
      if (i % 2 === 0) {
        await oursOnce();
        anchor.push(await anchorOnce(bin, responder.path, portAnchor));
      } else {
        anchor.push(await anchorOnce(bin, responder.path, portAnchor));
        await oursOnce();
      }
    }
    await waitIdle(agent);
  } finally {
    await agent.stop();
    responder.dispose();
  }
  try {
    trace = JSON.parse(readFileSync(tracePath, 'utf8')) as typeof trace;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = main2(ours, trace);
  console.log(
    `activation-trace: ${N} activations each (+${WARMUP} warm-up), hooks ${HOOKS ? 'on' : 'off'}; ` +
      `settle ${SETTLE_MS} ms; load at start ${machine.load1}, at end ${loadavg()[0]?.toFixed(2)}; ${machine.cpu}, ${machine.nproc} CPUs, Node ${machine.node}`,
  );
  console.log(`${'segment (ms)'.padEnd(22)}     p50     p90     p99     max`);
  console.log(
    line(
      'ours connect->first',
      rows.map((r) => r.firstByte),
    ),
  );
  console.log(
    line(
      'sd   connect->first',
      anchor.map((t) => t.firstByteMs),
    ),
  );
  console.log(
    line(
      'ours connect->wake',
      rows.map((r) => r.connectToWake),
    ),
  );
  console.log(
    line(
      'ours wake->fork',
      rows.map((r) => r.wakeToFork),
    ),
  );
  console.log(
    line(
      'ours fork (spawnJob)',
      rows.map((r) => r.fork),
    ),
  );
  console.log(
    line(
      'ours fork->main',
      rows.map((r) => r.forkToMain),
    ),
  );
  console.log(
    line(
      'ours connect->main',
      ours.map((t) => t.toStartMs),
    ),
  );
  console.log(
    line(
      'sd   connect->main',
      anchor.map((t) => t.toStartMs),
    ),
  );
  console.log(
    line(
      'ours main->ready',
      rows.map((r) => r.mainToReady),
    ),
  );
  console.log(
    line(
      'sd   main->ready',
      anchor.map((t) => t.jobMs),
    ),
  );
  console.log(
    line(
      'ours ready->first',
      rows.map((r) => r.readyToFirst),
    ),
  );
  console.log(
    line(
      'sd   ready->first',
      anchor.map((t) => t.deliverMs),
    ),
  );
  console.log(
    line(
      'ours after-fork',
      rows.map((r) => r.afterFork),
    ),
  );
  console.log(
    line(
      'ours GC in window',
      rows.map((r) => r.gcMs),
    ),
  );
  const o = summarize(rows.map((r) => r.firstByte));
  const a = summarize(anchor.map((t) => t.firstByteMs));
  console.log(`ratio p50 ${round(o.p50 / a.p50, 3)}, p99 ${round(o.p99 / a.p99, 3)}`);
  const [firstOurs, firstAnchor] = firsts;
  if (firstOurs && firstAnchor) {
    const [r] = main2([firstOurs], trace);
    if (r) {
      if (aged !== '') console.log(`\naged before the first activation: ${aged}`);
      console.log(`\nfirst activation after load (ms): ours ${split(r)}`);
      console.log(
        `  sd ${round(firstAnchor.firstByteMs, 3)} = connect->main ${round(firstAnchor.toStartMs, 3)} + accept ${round(firstAnchor.jobMs, 3)} + deliver ${round(firstAnchor.deliverMs, 3)}`,
      );
      for (const e of r.events.slice(0, 60)) console.log(`    ${e}`);
    }
  }
  const slow = [...rows].sort((x, y) => y.firstByte - x.firstByte).slice(0, SLOWEST);
  console.log(`\nslowest ${slow.length} of ours (ms; events: start relative to the connect)`);
  for (const r of slow) {
    console.log(`#${r.i} first ${split(r)}`);
    for (const e of r.events.slice(0, 30)) console.log(`    ${e}`);
  }
  if (JSON_OUT)
    writeFileSync(
      JSON_OUT,
      JSON.stringify({ machine, ours: rows, anchor: anchor.map((t) => ({ ...t, at: undefined })) }),
    );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
