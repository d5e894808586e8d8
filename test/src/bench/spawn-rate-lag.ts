/**
 * Benchmark: event-loop lag of the supervisor while it spawns short jobs at 200 per second for
 * 20 s, beside a bare Node process spawning the same program at the same offered rate (the Node
 * floor: what child_process.spawn alone costs the loop). Each runs in its own fresh worker
 * process, one after the other, in the same run. Lag is monitorEventLoopDelay at a 10 ms
 * sampling period (prom-client's default), reported as the delay beyond that period.
 *
 *   node test/dist/bench/spawn-rate-lag.js [--quick] [--rate=R] [--seconds=S] [--labels=L]
 *
 * The supervisor's load: L jobs running /bin/true (ThrottleInterval 0), kicked round-robin, so
 * each job is kicked every L/R seconds; a kick that finds its job still running is dropped and
 * counted as busy. Target (issue 3): event-loop lag < 20 ms while spawning 200 processes/s.
 *
 * "ours" runs the agent's default spawner (PosixProcessSpawner, posix_spawn from the lfnative
 * addon); "oursNode" is the same supervisor with LAUNCHFLEET_SPAWNER=node (RealProcessSpawner,
 * child_process.spawn), the former default, in a third worker.
 */
import { emit, intArg, machineInfo, parseArgs, type BenchResult } from './bench-output.ts';
import { forkWorker, nextMessage, stopWorker, type LagReport, type WorkerTask } from './worker-protocol.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const rate = intArg(values, 'rate', 200);
const seconds = intArg(values, 'seconds', quick ? 5 : 20);
const nLabels = intArg(values, 'labels', 50);

async function runWorker(
  task: WorkerTask,
  spawnerKind?: 'node',
): Promise<{ report: LagReport; warnings: readonly string[] }> {
  // The worker inherits this environment at fork: the spawner choice travels in it.
  const before = process.env.LAUNCHFLEET_SPAWNER;
  if (spawnerKind) process.env.LAUNCHFLEET_SPAWNER = spawnerKind;
  else delete process.env.LAUNCHFLEET_SPAWNER;
  let w;
  try {
    w = forkWorker(task);
  } finally {
    if (before === undefined) delete process.env.LAUNCHFLEET_SPAWNER;
    else process.env.LAUNCHFLEET_SPAWNER = before;
  }
  try {
    const m = await nextMessage(w, 'lag', (seconds + 60) * 1000);
    return { report: m.report, warnings: m.warnings };
  } finally {
    await stopWorker(w, 30_000);
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const node = await runWorker({ kind: 'lag-node', rate, seconds });
  const ours = await runWorker({ kind: 'lag-supervisor', rate, seconds, labels: nLabels });
  const oursNode = await runWorker({ kind: 'lag-supervisor', rate, seconds, labels: nLabels }, 'node');
  const metrics: Record<string, number> = {};
  for (const [who, r] of [
    ['ours', ours.report],
    ['node', node.report],
    ['oursNode', oursNode.report],
  ] as const) {
    for (const [k, v] of Object.entries(r) as [string, number][]) metrics[`${who}.${k}`] = v;
    metrics[`${who}.spawnsPerSec`] = Math.round((r.spawned / r.windowMs) * 1000 * 10) / 10;
  }
  const row = (what: string, unit: string, key: string) =>
    ({ what, unit, ours: `ours.${key}`, anchor: `node.${key}`, anchorName: 'bare Node spawn loop' }) as const;
  const result: BenchResult = {
    bench: 'spawn-rate-lag',
    quick,
    at: new Date().toISOString(),
    machine,
    params: { rate, seconds, labels: nLabels, program: '/bin/true', lagResolutionMs: 10 },
    metrics,
    rows: [
      row('event-loop lag p50', 'ms', 'lagP50Ms'),
      row('event-loop lag p99', 'ms', 'lagP99Ms'),
      row('event-loop lag max', 'ms', 'lagMaxMs'),
      row('achieved spawns/s', '1/s', 'spawnsPerSec'),
      row('spawned', 'count', 'spawned'),
      row('exits processed', 'count', 'exited'),
      row('spawn failures', 'count', 'failed'),
      row('kicks dropped (job still running)', 'count', 'busy'),
      row('decision -> exec under load, p50', 'ms', 'execP50Ms'),
      row('decision -> exec under load, p99', 'ms', 'execP99Ms'),
      row('CPU while spawning', '% core', 'cpuPct'),
      row('RSS after the run', 'MB', 'rssMB'),
      ...(
        [
          ['event-loop lag p99', 'ms', 'lagP99Ms'],
          ['event-loop lag max', 'ms', 'lagMaxMs'],
          ['achieved spawns/s', '1/s', 'spawnsPerSec'],
          ['kicks dropped (job still running)', 'count', 'busy'],
          ['decision -> exec under load, p50', 'ms', 'execP50Ms'],
          ['decision -> exec under load, p99', 'ms', 'execP99Ms'],
          ['CPU while spawning', '% core', 'cpuPct'],
        ] as const
      ).map(([what, unit, key]) => ({
        what: `${what} (vs the child_process spawner)`,
        unit,
        ours: `ours.${key}`,
        anchor: `oursNode.${key}`,
        anchorName: 'supervisor with RealProcessSpawner',
      })),
    ],
    targets: [
      {
        name: `event-loop lag p99 at ${rate} spawns/s`,
        metric: 'ours.lagP99Ms',
        op: '<',
        limit: 20,
        unit: 'ms',
      },
    ],
    notes: [
      ...(quick ? ['--quick: a smoke run (5 s); judge the target on a full run'] : []),
      `offered ${rate}/s for ${seconds} s in each worker; lag = recorded delay - 10 ms sampling period`,
      'node exec = time inside the synchronous spawn() call, which blocks the loop until the exec',
      // ThrottleInterval 0 is chosen on purpose (each job is kicked every L/R s); anything else is news.
      ...ours.warnings
        .filter((w) => !w.includes('ThrottleInterval'))
        .slice(0, 5)
        .map((w) => `supervisor log: ${w}`),
    ],
  };
  emit(result);
}

main().catch((err: unknown) => {
  console.error(`spawn-rate-lag: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
