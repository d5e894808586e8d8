/**
 * Benchmark: what the supervisor adds to one spawn. The same trivial program (/bin/true) is
 * started N times, one at a time, four ways, interleaved in chunks so that machine noise hits all
 * four alike:
 *
 *   bare      a C loop: posix_spawn (returns after the child's exec) + waitpid — the anchor
 *   shim      the same C loop spawning the lf-exec shim with the spawner's exact arguments, exec =
 *             EOF on the shim's status pipe: what the shim itself costs, without Node
 *   node      child_process.spawn in this process (returns after exec) + 'exit'
 *   spawner   the agent's default spawner (DirectProcessSpawner: the job's own process, set up in
 *             the lfnative addon and exec'd once)
 *   posixSpawner  PosixProcessSpawner: posix_spawn of the lf-exec shim, which sets the job up and
 *             execs it (the former default, LAUNCHFLEET_SPAWNER=posix)
 *   nodeSpawner  RealProcessSpawner: child_process.spawn of the same shim (LAUNCHFLEET_SPAWNER=node)
 *   ours      the supervisor: kickstart (the decision) -> job machine -> spawn request -> default spawner
 *             -> 'spawned' seen by the job machine (exec) -> 'exited' processed (reaped)
 *
 * "exec" is the time from the decision until the parent knows the program was exec'd; "reaped"
 * until it has processed the exit. Overhead = ours - bare, at p50 and at p99.
 *
 *   node test/dist/bench/spawn-overhead.js [--quick] [--spawns=N] [--chunk=K]
 *
 * Targets: supervisor overhead on a spawn <= 2 ms p99 over a bare posix_spawn (issue 3), <= 1 ms
 * (issue 19).
 */
import { spawn } from 'node:child_process';
import {
  RealProcessSpawner,
  PosixProcessSpawner,
  createProcessSpawner,
  type ProcessSpawner,
  buildShimArgs,
  execShimPath,
  type JobStatus,
  type SpawnRequest,
} from '@launchfleet/node-agent';
import { spawnRequest } from '@launchfleet/node-agent/testing';
import { buildBareSpawn } from './bare-spawn.ts';
import { emit, intArg, machineInfo, parseArgs, type BenchResult } from './bench-output.ts';
import { round, summarize } from './bench-stats.ts';
import { startSupervisor, trueJob } from './supervisor-harness.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const spawns = intArg(values, 'spawns', quick ? 200 : 2000);
const chunk = Math.min(spawns, intArg(values, 'chunk', 100));
const warmup = quick ? 20 : 50;
const PROGRAM = '/bin/true';
const ENV = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' };

type Method = 'bare' | 'shim' | 'node' | 'spawner' | 'posixSpawner' | 'nodeSpawner' | 'ours';
const METHODS: readonly Method[] = ['bare', 'shim', 'node', 'spawner', 'posixSpawner', 'nodeSpawner', 'ours'];

interface Samples {
  exec: number[];
  reaped: number[];
}

function nodeOnce(): Promise<{ exec: number; reaped: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(PROGRAM, [], { stdio: 'ignore', detached: true, env: ENV });
    const exec = performance.now() - t0; // libuv returns after the child's exec
    child.once('error', reject);
    child.once('exit', () => resolve({ exec, reaped: performance.now() - t0 }));
  });
}

const request: SpawnRequest = spawnRequest({
  label: 'bench.spawner',
  program: PROGRAM,
  argv: [PROGRAM],
  env: { ...ENV, XPC_SERVICE_NAME: 'bench.spawner', TMPDIR: '/tmp' },
});

async function main(): Promise<void> {
  const machine = machineInfo();
  const bare = buildBareSpawn();
  const spawner = createProcessSpawner();
  const posixSpawner = new PosixProcessSpawner();
  const nodeSpawner = new RealProcessSpawner();
  const label = 'bench.spawn.true';
  // The supervisor's view of its one job: resolves the pending spawn's promises.
  let onExec: (() => void) | undefined;
  let onReaped: (() => void) | undefined;
  let lastPid: number | undefined;
  let lastRuns = 0;
  const failures: string[] = [];
  const sup = await startSupervisor({
    jobs: [trueJob(label)],
    onStatus: (s: JobStatus) => {
      if (s.pid !== undefined && s.pid !== lastPid) {
        lastPid = s.pid;
        onExec?.();
      }
      if (s.spawnFailure && failures.length < 5) failures.push(JSON.stringify(s.spawnFailure));
      if (s.runs !== lastRuns) {
        lastRuns = s.runs;
        onReaped?.();
      }
    },
  });
  const oursOnce = (): Promise<{ exec: number; reaped: number }> =>
    new Promise((resolve, reject) => {
      let exec = Number.NaN;
      const t0 = performance.now();
      const timer = setTimeout(
        () => reject(new Error(`no exit within 10 s; failures: ${failures.join('; ')}`)),
        10_000,
      );
      onExec = () => (exec = performance.now() - t0);
      onReaped = () => {
        clearTimeout(timer);
        onExec = onReaped = undefined;
        resolve({ exec, reaped: performance.now() - t0 });
      };
      void sup.system.kickstart(label);
    });
  const spawnerOnce = (sp: ProcessSpawner): Promise<{ exec: number; reaped: number }> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      let exec = Number.NaN;
      sp.spawn(request, () => resolve({ exec, reaped: performance.now() - t0 })).then((r) => {
        exec = performance.now() - t0;
        if (!r.ok) reject(new Error(`spawner: ${JSON.stringify(r.failure)}`));
      }, reject);
    });

  // The spawner puts the status channel at fd 3 when no fds are passed.
  const shimArgv = [`--status-fd=3`, execShimPath(), ...buildShimArgs(request, 3, 'refuse').args];
  const samples: Record<Method, Samples> = {
    bare: { exec: [], reaped: [] },
    shim: { exec: [], reaped: [] },
    node: { exec: [], reaped: [] },
    spawner: { exec: [], reaped: [] },
    posixSpawner: { exec: [], reaped: [] },
    nodeSpawner: { exec: [], reaped: [] },
    ours: { exec: [], reaped: [] },
  };
  const runChunk = async (m: Method, n: number, into: Samples | undefined): Promise<void> => {
    if (m === 'bare' || m === 'shim') {
      const r = await bare.run(n, m === 'bare' ? [PROGRAM] : shimArgv);
      into?.exec.push(...r.execMs);
      into?.reaped.push(...r.reapedMs);
      return;
    }
    const once =
      m === 'node'
        ? nodeOnce
        : m === 'spawner'
          ? () => spawnerOnce(spawner)
          : m === 'posixSpawner'
            ? () => spawnerOnce(posixSpawner)
            : m === 'nodeSpawner'
              ? () => spawnerOnce(nodeSpawner)
              : oursOnce;
    for (let i = 0; i < n; i++) {
      const r = await once();
      into?.exec.push(r.exec);
      into?.reaped.push(r.reaped);
    }
  };
  try {
    for (const m of METHODS) await runChunk(m, warmup, undefined);
    for (let done = 0; done < spawns; done += chunk) {
      const n = Math.min(chunk, spawns - done);
      for (const m of METHODS) await runChunk(m, n, samples[m]);
    }
  } finally {
    await sup.stop();
    bare.dispose();
  }

  const metrics: Record<string, number> = {};
  for (const m of METHODS) {
    const e = summarize(samples[m].exec);
    const r = summarize(samples[m].reaped);
    metrics[`${m}.execP50Ms`] = round(e.p50);
    metrics[`${m}.execP99Ms`] = round(e.p99);
    metrics[`${m}.execMaxMs`] = round(e.max);
    metrics[`${m}.reapedP50Ms`] = round(r.p50);
    metrics[`${m}.reapedP99Ms`] = round(r.p99);
  }
  const at = (k: string): number => metrics[k] ?? Number.NaN;
  metrics['overhead.execP50Ms'] = round(at('ours.execP50Ms') - at('bare.execP50Ms'));
  metrics['overhead.execP99Ms'] = round(at('ours.execP99Ms') - at('bare.execP99Ms'));
  metrics['overhead.reapedP50Ms'] = round(at('ours.reapedP50Ms') - at('bare.reapedP50Ms'));
  metrics['overhead.reapedP99Ms'] = round(at('ours.reapedP99Ms') - at('bare.reapedP99Ms'));
  // Where the overhead goes: Node's spawn over C, the shim over Node, the supervisor over the spawner.
  metrics['split.shimInCOverBareP50Ms'] = round(at('shim.execP50Ms') - at('bare.execP50Ms'));
  metrics['split.nodeOverBareP50Ms'] = round(at('node.execP50Ms') - at('bare.execP50Ms'));
  metrics['split.spawnerOverNodeP50Ms'] = round(at('spawner.execP50Ms') - at('node.execP50Ms'));
  metrics['split.nodeSpawnerOverNodeP50Ms'] = round(at('nodeSpawner.execP50Ms') - at('node.execP50Ms'));
  metrics['split.spawnerOverShimInCP50Ms'] = round(at('spawner.execP50Ms') - at('shim.execP50Ms'));
  metrics['split.spawnerOverBareP50Ms'] = round(at('spawner.execP50Ms') - at('bare.execP50Ms'));
  metrics['split.posixSpawnerOverSpawnerP50Ms'] = round(
    at('posixSpawner.execP50Ms') - at('spawner.execP50Ms'),
  );
  metrics['split.supervisorOverSpawnerP50Ms'] = round(at('ours.execP50Ms') - at('spawner.execP50Ms'));
  metrics['spawnFailures'] = failures.length;

  const bareRow = (what: string, key: string) =>
    ({
      what,
      unit: 'ms',
      ours: `ours.${key}`,
      anchor: `bare.${key}`,
      anchorName: 'C posix_spawn loop',
    }) as const;
  const result: BenchResult = {
    bench: 'spawn-overhead',
    quick,
    at: new Date().toISOString(),
    machine,
    params: { spawns, chunk, warmup, program: PROGRAM },
    metrics,
    rows: [
      bareRow('decision -> exec, p50', 'execP50Ms'),
      bareRow('decision -> exec, p99', 'execP99Ms'),
      bareRow('decision -> exec, max', 'execMaxMs'),
      bareRow('decision -> reaped, p50', 'reapedP50Ms'),
      bareRow('decision -> reaped, p99', 'reapedP99Ms'),
      {
        what: 'C loop + lf-exec shim -> exec, p50',
        unit: 'ms',
        ours: 'shim.execP50Ms',
        anchor: 'bare.execP50Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'C loop + lf-exec shim -> exec, p99',
        unit: 'ms',
        ours: 'shim.execP99Ms',
        anchor: 'bare.execP99Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'node spawn -> exec, p50',
        unit: 'ms',
        ours: 'node.execP50Ms',
        anchor: 'bare.execP50Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'node spawn -> exec, p99',
        unit: 'ms',
        ours: 'node.execP99Ms',
        anchor: 'bare.execP99Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'RealProcessSpawner (child_process) + lf-exec -> exec, p50',
        unit: 'ms',
        ours: 'nodeSpawner.execP50Ms',
        anchor: 'bare.execP50Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'RealProcessSpawner (child_process) + lf-exec -> exec, p99',
        unit: 'ms',
        ours: 'nodeSpawner.execP99Ms',
        anchor: 'bare.execP99Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'PosixProcessSpawner (posix_spawn) + lf-exec -> exec, p50',
        unit: 'ms',
        ours: 'posixSpawner.execP50Ms',
        anchor: 'bare.execP50Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'PosixProcessSpawner (posix_spawn) + lf-exec -> exec, p99',
        unit: 'ms',
        ours: 'posixSpawner.execP99Ms',
        anchor: 'bare.execP99Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'default spawner (direct, one exec) -> exec, p50',
        unit: 'ms',
        ours: 'spawner.execP50Ms',
        anchor: 'bare.execP50Ms',
        anchorName: 'C posix_spawn loop',
      },
      {
        what: 'default spawner (direct, one exec) -> exec, p99',
        unit: 'ms',
        ours: 'spawner.execP99Ms',
        anchor: 'bare.execP99Ms',
        anchorName: 'C posix_spawn loop',
      },
      { what: 'overhead (ours - bare), exec p50', unit: 'ms', ours: 'overhead.execP50Ms' },
      { what: 'overhead (ours - bare), exec p99', unit: 'ms', ours: 'overhead.execP99Ms' },
      { what: 'overhead (ours - bare), reaped p99', unit: 'ms', ours: 'overhead.reapedP99Ms' },
      { what: 'split p50: lf-exec shim (in C) over C', unit: 'ms', ours: 'split.shimInCOverBareP50Ms' },
      { what: 'split p50: Node spawn over C', unit: 'ms', ours: 'split.nodeOverBareP50Ms' },
      { what: 'split p50: default spawner over Node spawn', unit: 'ms', ours: 'split.spawnerOverNodeP50Ms' },
      {
        what: 'split p50: RealProcessSpawner over Node spawn',
        unit: 'ms',
        ours: 'split.nodeSpawnerOverNodeP50Ms',
      },
      { what: 'split p50: default spawner over the C loop', unit: 'ms', ours: 'split.spawnerOverBareP50Ms' },
      {
        what: 'split p50: posix_spawn + lf-exec over the default spawner (the second exec)',
        unit: 'ms',
        ours: 'split.posixSpawnerOverSpawnerP50Ms',
      },
      { what: 'split p50: supervisor over spawner', unit: 'ms', ours: 'split.supervisorOverSpawnerP50Ms' },
    ],
    targets: [
      {
        name: 'issue 3: spawn overhead over posix_spawn, p99',
        metric: 'overhead.execP99Ms',
        op: '<=',
        limit: 2,
        unit: 'ms',
      },
      {
        name: 'issue 19: spawn overhead over posix_spawn, p99',
        metric: 'overhead.execP99Ms',
        op: '<=',
        limit: 1,
        unit: 'ms',
      },
    ],
    notes: [
      ...(quick ? ['--quick: a smoke run (few samples for a p99); judge the target on a full run'] : []),
      `${spawns} spawns per method after ${warmup} warm-up, interleaved in chunks of ${chunk}; sequential (one process at a time)`,
      "exec: bare = posix_spawn return (glibc returns after exec); shim = status pipe EOF in C; node = spawn() return (libuv waits for exec); spawner = the addon call returning (the job exec'd, status read to EOF); posixSpawner/nodeSpawner = lf-exec status channel EOF seen by Node; ours = the job machine's spawned",
      `spawner = ${spawner.constructor.name} (the agent's default), posixSpawner = PosixProcessSpawner, nodeSpawner = RealProcessSpawner; ours uses the default`,
      'every child: stdio on /dev/null, new session; ours adds the launchd environment and the job machine',
      ...(failures.length > 0 ? [`spawn failures: ${failures.join('; ')}`] : []),
    ],
  };
  emit(result);
}

main().catch((err: unknown) => {
  console.error(`spawn-overhead: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
