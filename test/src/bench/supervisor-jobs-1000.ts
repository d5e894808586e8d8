/**
 * Benchmark: N (1,000) loaded KeepAlive jobs in one supervisor process — its RSS and its idle CPU —
 * beside supervisord running the same N programs, and beside the same supervisor with no jobs (the
 * Node floor). All three run at once and are measured over the same window, so machine noise hits
 * them alike. Only the supervisor processes are measured (/proc/<pid>/stat utime+stime, VmRSS);
 * the jobs' own processes are excluded on both sides.
 *
 *   node test/dist/bench/supervisor-jobs-1000.js [--quick] [--jobs=N] [--idle-seconds=S] [--settle-seconds=S]
 *        [--real-agent=auto|yes|no] [--anchor-start-seconds=120]
 *
 * With --real-agent (default auto: when node-agent/dist/main.js is built) the real agent process
 * (launchfleet-agent --config, standalone, metrics endpoint on) runs the same N jobs and is measured
 * in the same window as a fourth process.
 *
 * Targets (issue 3): RSS <= 120 MB and idle CPU <= 0.5 % of a core with 1,000 loaded jobs.
 * Issue 19: the agent process's RSS and peak within 1.5x supervisord's in the same run, and its
 * idle CPU below supervisord's. The agent process with 0 jobs (its floor) is measured beside it.
 */
import type { ChildProcess } from 'node:child_process';
import { emit, intArg, machineInfo, parseArgs, type BenchResult } from './bench-output.ts';
import { round } from './bench-stats.ts';
import {
  aliveSame,
  childrenOf,
  clockTicks,
  commOf,
  killIfSame,
  peakRssMiB,
  rssMiB,
  sample,
  type ProcSample,
} from './proc-stats.ts';
import { startSupervisord, type Supervisord } from './supervisord-anchor.ts';
import { realAgentAvailable, startRealAgent, type RealAgent } from './real-agent.ts';
import { labels, sleeperJob } from './supervisor-harness.ts';
import { forkWorker, nextMessage, stopWorker } from './worker-protocol.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const jobs = intArg(values, 'jobs', quick ? 100 : 1000);
const idleSeconds = intArg(values, 'idle-seconds', quick ? 5 : 60);
const settleSeconds = intArg(values, 'settle-seconds', quick ? 2 : 5);
/** How long supervisord may take to start every program (longer on a loaded machine). */
const anchorStartSeconds = intArg(values, 'anchor-start-seconds', 120);
const SLEEP = ['/bin/sleep', '86400'];
const realAgentArg = values.get('real-agent') ?? 'auto';
if (!['auto', 'yes', 'no'].includes(realAgentArg)) {
  process.stderr.write('--real-agent must be auto, yes or no\n');
  process.exit(64);
}
const withRealAgent = realAgentArg === 'yes' || (realAgentArg === 'auto' && realAgentAvailable());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (mib: number | undefined): number => round(((mib ?? Number.NaN) * 2 ** 20) / 1e6, 1);

/** The job processes of a supervisor: its children that run sleep. */
function jobProcs(pid: number): ProcSample[] {
  return childrenOf(pid).filter((p) => commOf(p.pid) === 'sleep');
}

interface Measured {
  readonly cpuPct: number;
  /** Highest CPU over 10 s sub-windows (windows of 20 s or more). */
  readonly cpuPctMax10s: number;
  readonly rssMB: number;
  readonly rssMaxMB: number;
  /** The peak since the process started (VmHWM, or a higher sample in the window): includes loading every job. */
  readonly rssPeakMB: number;
}

/** CPU and RSS of several processes over the same window, RSS sampled every second. */
async function measure(pids: readonly number[], seconds: number): Promise<Measured[]> {
  const first = pids.map((p) => sample(p));
  const t0 = performance.now();
  const rssMax = pids.map(() => 0);
  const sub: number[][] = pids.map(() => []);
  let subStart = first.map((s) => s?.cpuSec ?? Number.NaN);
  let subT = t0;
  for (let i = 1; i <= seconds; i++) {
    await sleep(t0 + i * 1000 - performance.now());
    pids.forEach((p, k) => (rssMax[k] = Math.max(rssMax[k] ?? 0, rssMiB(p) ?? 0)));
    if (i % 10 === 0) {
      const now = performance.now();
      const cur = pids.map((p) => sample(p)?.cpuSec ?? Number.NaN);
      cur.forEach((c, k) => sub[k]?.push((((c - (subStart[k] ?? 0)) * 1000) / (now - subT)) * 100));
      subStart = cur;
      subT = now;
    }
  }
  const wallSec = (performance.now() - t0) / 1000;
  return pids.map((p, k) => {
    const last = sample(p);
    const cpu = (last?.cpuSec ?? Number.NaN) - (first[k]?.cpuSec ?? Number.NaN);
    const subs = sub[k] ?? [];
    return {
      cpuPct: round((cpu / wallSec) * 100, 3),
      cpuPctMax10s: subs.length > 0 ? round(Math.max(...subs), 3) : Number.NaN,
      rssMB: mb(rssMiB(p)),
      rssMaxMB: mb(rssMax[k]),
      // VmHWM is updated lazily by the kernel and can trail a sample taken in the window.
      rssPeakMB: mb(Math.max(peakRssMiB(p) ?? 0, rssMax[k] ?? 0)),
    };
  });
}

async function main(): Promise<void> {
  const machine = machineInfo();
  let sd: Supervisord | undefined;
  let agent: RealAgent | undefined;
  /** The agent process with no job: its floor, measured in the same window. */
  let agentFloor: RealAgent | undefined;
  const workers: ChildProcess[] = [];
  const jobLists: ProcSample[][] = [];
  try {
    // supervisord first: its start is the slowest, and ours must not be starting while it measures.
    sd = await startSupervisord(jobs, SLEEP, anchorStartSeconds * 1000);
    const sdAllRunningMs = sd.allRunningMs;

    const ours = forkWorker({ kind: 'idle', jobs });
    workers.push(ours);
    const ready = await nextMessage(ours, 'ready', 180_000);
    const floor = forkWorker({ kind: 'idle', jobs: 0 });
    workers.push(floor);
    const floorReady = await nextMessage(floor, 'ready', 60_000);
    const oursPid = ours.pid ?? 0;
    const floorPid = floor.pid ?? 0;
    let agentProblem: string | undefined;
    if (withRealAgent) {
      try {
        agent = await startRealAgent(labels('real', jobs).map(sleeperJob), 'sleep');
        agentFloor = await startRealAgent([], 'sleep');
      } catch (err) {
        // auto: the agent process is another component's work in progress; report, measure the rest.
        if (realAgentArg === 'yes') throw err;
        agentProblem = err instanceof Error ? err.message : String(err);
      }
    }

    // supervisord calls a program RUNNING after startsecs (1 s): wait for all, then let both settle.
    let sdRunning = 0;
    for (let i = 0; i < 60 && sdRunning < jobs; i++) {
      sdRunning = await sd.runningCount();
      if (sdRunning < jobs) await sleep(1000);
    }
    await sleep(settleSeconds * 1000);
    const oursJobs = jobProcs(oursPid);
    const sdJobs = jobProcs(sd.pid);
    jobLists.push(oursJobs, sdJobs);
    if (oursJobs.length !== jobs || sdJobs.length !== jobs)
      throw new Error(
        `before measuring: ours runs ${oursJobs.length}, supervisord ${sdJobs.length} of ${jobs}`,
      );

    const agentJobs = agent ? jobProcs(agent.pid) : [];
    jobLists.push(agentJobs);
    if (agent && agentJobs.length !== jobs)
      throw new Error(`before measuring: the agent process runs ${agentJobs.length} of ${jobs}`);

    const [o, f, s, a, af] = await measure(
      [oursPid, floorPid, sd.pid, ...(agent && agentFloor ? [agent.pid, agentFloor.pid] : [])],
      idleSeconds,
    );
    if (!o || !f || !s || (agent && (!a || !af))) throw new Error('measurement lost a process');

    // Did any job die and get respawned meanwhile? (Then "idle" was not idle.)
    const same = (before: ProcSample[], pid: number): number => {
      const now = new Set(jobProcs(pid).map((p) => `${p.pid}:${p.startTicks}`));
      return before.filter((p) => !now.has(`${p.pid}:${p.startTicks}`)).length;
    };
    const oursRespawned = same(oursJobs, oursPid);
    const sdRespawned = same(sdJobs, sd.pid);
    const agentRespawned = agent ? same(agentJobs, agent.pid) : Number.NaN;
    const agentAllRunningMs = agent?.allRunningMs ?? Number.NaN;
    const agentStopMs = agent ? await agent.stop() : Number.NaN;
    agent = undefined;
    await agentFloor?.stop();
    agentFloor = undefined;

    ours.send({ type: 'memory' });
    const mem = await nextMessage(ours, 'memory', 10_000);
    const oursStopMs = (await stopWorker(ours, 60_000)) ?? Number.NaN;
    await stopWorker(floor, 30_000);
    const s0 = performance.now();
    await sd.stop();
    const sdStopMs = performance.now() - s0;
    sd = undefined;

    const metrics: Record<string, number> = {
      'ours.rssMB': o.rssMB,
      'ours.rssMaxMB': o.rssMaxMB,
      'ours.rssPeakMB': o.rssPeakMB,
      'ours.cpuPct': o.cpuPct,
      'ours.cpuPctMax10s': o.cpuPctMax10s,
      'ours.heapUsedMB': mem.heapUsedMB,
      'ours.loadMs': ready.loadMs,
      'ours.allRunningMs': ready.allRunningMs,
      'ours.stopMs': oursStopMs,
      'ours.perJobKB': round(((o.rssMB - f.rssMB) * 1000) / jobs, 1),
      'ours.respawnedInWindow': oursRespawned,
      'floor.rssMB': f.rssMB,
      'floor.cpuPct': f.cpuPct,
      'supervisord.rssMB': s.rssMB,
      'supervisord.rssMaxMB': s.rssMaxMB,
      'supervisord.rssPeakMB': s.rssPeakMB,
      'supervisord.cpuPct': s.cpuPct,
      'supervisord.cpuPctMax10s': s.cpuPctMax10s,
      'supervisord.allRunningMs': round(sdAllRunningMs, 1),
      'supervisord.stopMs': round(sdStopMs, 1),
      'supervisord.runningAtStart': sdRunning,
      'supervisord.respawnedInWindow': sdRespawned,
    };
    // Jobs still alive after their supervisor stopped (must be 0: a stop takes the jobs with it).
    metrics['ours.jobsLeftAfterStop'] = aliveSame(oursJobs);
    metrics['supervisord.jobsLeftAfterStop'] = aliveSame(sdJobs);
    metrics['floor.loadMs'] = floorReady.loadMs;
    if (a) {
      metrics['agent.rssMB'] = a.rssMB;
      metrics['agent.rssMaxMB'] = a.rssMaxMB;
      metrics['agent.rssPeakMB'] = a.rssPeakMB;
      metrics['agent.cpuPct'] = a.cpuPct;
      metrics['agent.cpuPctMax10s'] = a.cpuPctMax10s;
      metrics['agent.allRunningMs'] = round(agentAllRunningMs, 1);
      metrics['agent.stopMs'] = round(agentStopMs, 1);
      metrics['agent.respawnedInWindow'] = agentRespawned;
      metrics['agent.jobsLeftAfterStop'] = aliveSame(agentJobs);
      metrics['ratio.agentRss'] = round(a.rssMB / s.rssMB, 2);
      metrics['ratio.agentRssPeak'] = round(a.rssPeakMB / s.rssPeakMB, 2);
      metrics['ratio.agentCpu'] = round(a.cpuPct / s.cpuPct, 2);
    }
    if (af && a) {
      metrics['agentFloor.rssMB'] = af.rssMB;
      metrics['agentFloor.rssPeakMB'] = af.rssPeakMB;
      metrics['agentFloor.cpuPct'] = af.cpuPct;
      metrics['agent.perJobKB'] = round(((a.rssMB - af.rssMB) * 1000) / jobs, 1);
    }
    const result: BenchResult = {
      bench: 'supervisor-jobs-1000',
      quick,
      at: new Date().toISOString(),
      machine,
      params: { jobs, idleSeconds, settleSeconds, program: SLEEP.join(' '), clockTicks: clockTicks() },
      metrics,
      rows: [
        {
          what: `RSS, ${jobs} jobs loaded`,
          unit: 'MB',
          ours: 'ours.rssMB',
          anchor: 'supervisord.rssMB',
          anchorName: 'supervisord 4.2',
        },
        {
          what: 'RSS max in window',
          unit: 'MB',
          ours: 'ours.rssMaxMB',
          anchor: 'supervisord.rssMaxMB',
          anchorName: 'supervisord 4.2',
        },
        {
          what: 'RSS peak since start (VmHWM)',
          unit: 'MB',
          ours: 'ours.rssPeakMB',
          anchor: 'supervisord.rssPeakMB',
          anchorName: 'supervisord 4.2',
        },
        {
          what: `idle CPU over ${idleSeconds} s`,
          unit: '% core',
          ours: 'ours.cpuPct',
          anchor: 'supervisord.cpuPct',
          anchorName: 'supervisord 4.2',
        },
        {
          what: 'idle CPU, worst 10 s',
          unit: '% core',
          ours: 'ours.cpuPctMax10s',
          anchor: 'supervisord.cpuPctMax10s',
          anchorName: 'supervisord 4.2',
        },
        ...(a
          ? ([
              {
                what: 'agent process (main.ts): RSS',
                unit: 'MB',
                ours: 'agent.rssMB',
                anchor: 'supervisord.rssMB',
                anchorName: 'supervisord 4.2',
              },
              {
                what: 'agent process: RSS max in window',
                unit: 'MB',
                ours: 'agent.rssMaxMB',
                anchor: 'supervisord.rssMaxMB',
                anchorName: 'supervisord 4.2',
              },
              {
                what: 'agent process: RSS peak (VmHWM)',
                unit: 'MB',
                ours: 'agent.rssPeakMB',
                anchor: 'supervisord.rssPeakMB',
                anchorName: 'supervisord 4.2',
              },
              {
                what: 'agent process: idle CPU',
                unit: '% core',
                ours: 'agent.cpuPct',
                anchor: 'supervisord.cpuPct',
                anchorName: 'supervisord 4.2',
              },
              {
                what: 'agent process: idle CPU, worst 10 s',
                unit: '% core',
                ours: 'agent.cpuPctMax10s',
                anchor: 'supervisord.cpuPctMax10s',
                anchorName: 'supervisord 4.2',
              },
              { what: 'agent process with 0 jobs (its floor): RSS', unit: 'MB', ours: 'agentFloor.rssMB' },
              { what: 'agent process with 0 jobs: RSS peak', unit: 'MB', ours: 'agentFloor.rssPeakMB' },
              { what: 'agent process with 0 jobs: idle CPU', unit: '% core', ours: 'agentFloor.cpuPct' },
              {
                what: 'agent process: RSS per loaded job, (agent - floor) / jobs',
                unit: 'KB',
                ours: 'agent.perJobKB',
              },
              {
                what: 'agent process: start until all run',
                unit: 'ms',
                ours: 'agent.allRunningMs',
                anchor: 'supervisord.allRunningMs',
                anchorName: 'supervisord 4.2',
              },
              {
                what: 'agent process: stop all jobs',
                unit: 'ms',
                ours: 'agent.stopMs',
                anchor: 'supervisord.stopMs',
                anchorName: 'supervisord 4.2',
              },
              {
                what: 'agent process: jobs left after stop',
                unit: 'count',
                ours: 'agent.jobsLeftAfterStop',
                anchor: 'supervisord.jobsLeftAfterStop',
                anchorName: 'supervisord 4.2',
              },
            ] as const)
          : []),
        { what: 'RSS, 0 jobs (Node floor)', unit: 'MB', ours: 'floor.rssMB' },
        { what: 'idle CPU, 0 jobs', unit: '% core', ours: 'floor.cpuPct' },
        { what: 'RSS per loaded job (ours - floor)/N', unit: 'KB', ours: 'ours.perJobKB' },
        { what: 'V8 heap used', unit: 'MB', ours: 'ours.heapUsedMB' },
        { what: 'load all plists', unit: 'ms', ours: 'ours.loadMs' },
        {
          what: 'start until all jobs run',
          unit: 'ms',
          ours: 'ours.allRunningMs',
          anchor: 'supervisord.allRunningMs',
          anchorName: 'supervisord 4.2',
        },
        {
          what: 'stop all jobs',
          unit: 'ms',
          ours: 'ours.stopMs',
          anchor: 'supervisord.stopMs',
          anchorName: 'supervisord 4.2',
        },
        {
          what: 'jobs left running after stop',
          unit: 'count',
          ours: 'ours.jobsLeftAfterStop',
          anchor: 'supervisord.jobsLeftAfterStop',
          anchorName: 'supervisord 4.2',
        },
        {
          what: 'jobs respawned in window',
          unit: 'count',
          ours: 'ours.respawnedInWindow',
          anchor: 'supervisord.respawnedInWindow',
          anchorName: 'supervisord 4.2',
        },
      ],
      targets: [
        ...(a
          ? ([
              {
                name: 'issue 19: agent RSS / supervisord RSS',
                metric: 'ratio.agentRss',
                op: '<=',
                limit: 1.5,
                unit: 'x',
              },
              {
                name: 'issue 19: agent RSS peak / supervisord RSS peak',
                metric: 'ratio.agentRssPeak',
                op: '<=',
                limit: 1.5,
                unit: 'x',
              },
              {
                name: 'issue 19: agent idle CPU / supervisord idle CPU',
                metric: 'ratio.agentCpu',
                op: '<',
                limit: 1,
                unit: 'x',
              },
              {
                name: `agent process: RSS with ${jobs} jobs`,
                metric: 'agent.rssMB',
                op: '<=',
                limit: 120,
                unit: 'MB',
              },
              {
                name: `agent process: RSS peak`,
                metric: 'agent.rssPeakMB',
                op: '<=',
                limit: 120,
                unit: 'MB',
              },
              {
                name: `agent process: idle CPU`,
                metric: 'agent.cpuPct',
                op: '<=',
                limit: 0.5,
                unit: '% core',
              },
            ] as const)
          : []),
        { name: `RSS with ${jobs} jobs`, metric: 'ours.rssMB', op: '<=', limit: 120, unit: 'MB' },
        {
          name: `RSS peak while loading ${jobs}`,
          metric: 'ours.rssPeakMB',
          op: '<=',
          limit: 120,
          unit: 'MB',
        },
        { name: `idle CPU with ${jobs} jobs`, metric: 'ours.cpuPct', op: '<=', limit: 0.5, unit: '% core' },
      ],
      notes: [
        ...(agentProblem !== undefined
          ? [`agent process not measured, it failed to start: ${agentProblem}`]
          : []),
        'all supervisor processes measured at once over the same window; jobs processes excluded (utime+stime of the supervisor pid only)',
        ...(quick
          ? ['--quick: a smoke run (short window, 1 tick = large CPU step); judge the targets on a full run']
          : []),
        `CPU resolution: 1 tick = ${round(100 / clockTicks() / idleSeconds, 3)} % over the window`,
        'MB = 10^6 bytes; RSS = VmRSS at the end of the window; max = highest 1 s sample in it; peak = VmHWM since start',
        `supervisord: ${sdRunning} of ${jobs} RUNNING per supervisorctl before the window`,
        'ours = the supervisor alone in a worker (DomainManager + real adapters, no NATS link, no control API, no metrics)',
        a
          ? "agent process = launchfleet-agent (main.ts) standalone, with its bin's Node flags: supervisor + control API + metrics endpoint, no controller link; nobody calls its control API or scrapes it during the run (gRPC and the exposition load at first use); its floor = the same with 0 jobs"
          : 'agent process (main.ts) not measured: not built, or --real-agent=no',
      ],
    };
    emit(result);
  } finally {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await sd?.stop();
    await agent?.stop();
    await agentFloor?.stop();
    for (const l of jobLists) killIfSame(l);
  }
}

main().catch((err: unknown) => {
  console.error(`supervisor-jobs-1000: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
