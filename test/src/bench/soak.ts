/**
 * The soak (issue 17, docs/fault-suite.md): the local fleet (real nats-server, controller and two
 * real agent processes, scripts/local-fleet.sh's way: test/src/support/local-fleet.ts) plus N
 * simulated nodes (the fleet simulator, test/src/sim, one process, production link timings) for
 * a duration, with churn:
 *
 * - every `--apply-every-s` (default 120 s) a new version of an applied job to every node;
 * - a crash-looping job on every node for the whole run (the real agents run it for real: it
 *   exits 1 after a second and KeepAlive restarts it; 5 % of the simulated nodes crash-loop
 *   every job, 5 % start slowly, 5 % lose their link and come back on a schedule);
 * - every `--rollout-every-s` (default 600 s) a rollout of a second job over every node
 *   (canary 1, waves of 25 %, a quarter of the nodes in flux at once, 5 s healthy);
 * - every `--restart-every-s` (default 300 s) the second real agent (`churn`) restarted,
 *   SIGKILL and SIGTERM in turn (it reaps or adopts what its predecessor left). The measured
 *   agent (`agent`) is never restarted, so its memory is one process' over the whole run.
 *
 * Every `--sample-s` (default 60 s) it samples RSS (VmRSS) and CPU (utime + stime since the last
 * sample, % of one core) of the measured agent, the controller, nats-server and the simulator,
 * prints a line, and at the end the trend per process: the least-squares slope of RSS over time
 * in bytes per hour, over the whole run and over its second half (the first minutes are warm-up:
 * caches, JIT, the simulator's enrolment), with first/last/max RSS and mean CPU. The results
 * (every sample, the trend, the churn counts, the end state) go to `--out` as JSON.
 *
 * With `--agent-mem` the measured agent runs with mem-trace-preload.ts: every sample also holds its
 * JS heap (process.memoryUsage: heapUsed, heapTotal, external, arrayBuffers) beside RSS (anon and
 * file-backed), and it writes a heap snapshot at `--heap-snapshot-at-min` (default 5) and at the end
 * (next to `--out`), so growth can be told apart: JS objects, or native memory.
 *
 * The soak says why it ends: an uncaught error, an unhandled rejection and every catchable
 * terminating signal are logged (and stop it cleanly, with its figures); the exit code is logged;
 * scripts/soak.sh logs the exit status (and the signal) of the node process itself.
 *
 *   scripts/soak.sh [--nodes 200] [--duration-min 60] [--sample-s 60] [--out FILE] [--agent-mem] ...
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildXmlPlist } from '@launchfleet/shared';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { repoRoot } from '../support/paths.ts';
import { clockTicks } from './proc-stats.ts';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    'duration-min': { type: 'string', default: '60' },
    'sample-s': { type: 'string', default: '60' },
    'apply-every-s': { type: 'string', default: '120' },
    'rollout-every-s': { type: 'string', default: '600' },
    'restart-every-s': { type: 'string', default: '300' },
    mix: { type: 'string', default: 'healthy=85,crash=5,slow=5,churn=5' },
    out: { type: 'string' },
    'agent-mem': { type: 'boolean', default: false },
    'heap-snapshot-at-min': { type: 'string', default: '5' },
  },
});
const num = (name: string, s: string | undefined): number => {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`soak: --${name} must be a positive number\n`);
    process.exit(2);
  }
  return n;
};
const nodes = Math.round(num('nodes', v.nodes));
const durationMs = num('duration-min', v['duration-min']) * 60_000;
const sampleMs = num('sample-s', v['sample-s']) * 1000;
const applyEveryMs = num('apply-every-s', v['apply-every-s']) * 1000;
const rolloutEveryMs = num('rollout-every-s', v['rollout-every-s']) * 1000;
const restartEveryMs = num('restart-every-s', v['restart-every-s']) * 1000;
const out = v.out ?? join('/tmp', `lf-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);

const agentMem = v['agent-mem'] === true;
const heapSnapshotAtMin = num('heap-snapshot-at-min', v['heap-snapshot-at-min']);
const memTrace = `${out}.agent-mem.jsonl`;

const t0 = Date.now();
const say = (s: string) => console.log(`[soak ${((Date.now() - t0) / 60_000).toFixed(1)} min] ${s}`);

// ---- why the soak ends ---------------------------------------------------------------------
// A soak that dies must say why (2026-12-06: one ended at 41 minutes with no line in its log).
// Synchronous writes: these run when the process may be about to end.
const note = (s: string): void => {
  const line = `[soak ${((Date.now() - t0) / 60_000).toFixed(1)} min, ${new Date().toISOString()}] ${s}\n`;
  try {
    writeSync(1, line);
  } catch {
    try {
      writeSync(2, line);
    } catch {
      // nowhere left to say it
    }
  }
};
/** Set by a signal or a fatal error: the main loop ends and the soak stops the fleet and reports. */
let stopping = false;
const fatal: string[] = [];
process.on('uncaughtException', (e, origin) => {
  note(`${origin}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}; stopping`);
  fatal.push(`${origin}: ${String(e)}`);
  stopping = true;
});
process.on('unhandledRejection', (e) => {
  note(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}; stopping`);
  fatal.push(`unhandled rejection: ${String(e)}`);
  stopping = true;
});
// Every catchable signal whose default ends the process (SIGKILL cannot be caught: soak.sh logs it).
for (const sig of [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR2',
  'SIGALRM',
  'SIGVTALRM',
  'SIGXCPU',
] as const) {
  process.on(sig, () => {
    if (stopping) {
      note(`${sig} again while stopping: exiting now (the fleet's processes may be left)`);
      process.exit(128 + 1);
    }
    note(`received ${sig}: stopping (the figures so far follow)`);
    stopping = true;
  });
}
process.on('exit', (code) => note(`exiting, code ${code}`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- /proc ---------------------------------------------------------------------------------
/** VmRSS and its anonymous (heap, stacks: malloc and V8) and file-backed (code, mapped files) parts. */
function rssBytes(pid: number): { rss: number; rssAnon?: number; rssFile?: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const rss = kb('VmRSS');
    if (rss === undefined) return undefined;
    const rssAnon = kb('RssAnon');
    const rssFile = kb('RssFile');
    return { rss, ...(rssAnon !== undefined && { rssAnon }), ...(rssFile !== undefined && { rssFile }) };
  } catch {
    return undefined;
  }
}

/** The measured agent's memory as its preload last wrote it (mem-trace-preload.ts). */
interface AgentMem {
  readonly t: number;
  readonly pid: number;
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly spaces?: Record<string, { used: number; committed: number }>;
  readonly event?: string;
  readonly file?: string;
  readonly snapshotMs?: number;
}
function memTraceLines(file: string): AgentMem[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AgentMem);
  } catch {
    return [];
  }
}
function cpuSec(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTicks();
  } catch {
    return undefined;
  }
}
/** The pid of the nats-server started with this fleet's config (local-fleet does not hand it out). */
function natsPid(dir: string): number | undefined {
  const conf = join(dir, 'nats', 'nats.conf');
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(conf)) return Number(d);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    sxx += ((xs[i] ?? 0) - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** What the broker holds at a sample: /varz (its own view of its memory, connections, subscriptions) and /jsz per stream. */
interface BrokerSample {
  readonly memBytes?: number;
  readonly connections?: number;
  readonly subscriptions?: number;
  /** JetStream's totals (/jsz): bytes in memory and in file stores, messages, streams, consumers. */
  readonly js?: {
    memory: number;
    storage: number;
    messages: number;
    bytes: number;
    streams: number;
    consumers: number;
  };
  /** Per stream: messages, bytes, subjects held and consumers. */
  readonly streams?: Record<
    string,
    { messages: number; bytes: number; subjects?: number; consumers: number }
  >;
  readonly error?: string;
}

interface Sample {
  readonly tMin: number;
  readonly proc: Record<
    string,
    { pid: number; rss: number; rssAnon?: number; rssFile?: number; cpuPct: number } | undefined
  >;
  /** With --agent-mem: the measured agent's JS heap figures (its preload's latest line). */
  readonly agentMem?: AgentMem;
  readonly simConnected?: number;
  readonly simEnrolled?: number;
  readonly broker?: BrokerSample;
}

/** Reads /varz and /jsz (every account, every stream) from nats-server's monitoring port. */
async function brokerSample(monitorUrl: string): Promise<BrokerSample> {
  try {
    const get = async (path: string): Promise<Record<string, unknown>> => {
      const r = await fetch(`${monitorUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
      if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
      return (await r.json()) as Record<string, unknown>;
    };
    const varz = await get('/varz');
    const jsz = await get('/jsz?accounts=true&streams=true');
    const num = (x: unknown) => (typeof x === 'number' ? x : 0);
    const streams: NonNullable<BrokerSample['streams']> = {};
    for (const acc of (jsz['account_details'] as Record<string, unknown>[] | undefined) ?? []) {
      for (const st of (acc['stream_detail'] as Record<string, unknown>[] | undefined) ?? []) {
        const state = (st['state'] ?? {}) as Record<string, unknown>;
        streams[String(st['name'])] = {
          messages: num(state['messages']),
          bytes: num(state['bytes']),
          ...(typeof state['num_subjects'] === 'number' && { subjects: state['num_subjects'] }),
          consumers: num(state['consumer_count']),
        };
      }
    }
    return {
      memBytes: num(varz['mem']),
      connections: num(varz['connections']),
      subscriptions: num(varz['subscriptions']),
      js: {
        memory: num(jsz['memory']),
        storage: num(jsz['storage']),
        messages: num(jsz['messages']),
        bytes: num(jsz['bytes']),
        streams: num(jsz['streams']),
        consumers: num(jsz['consumers']),
      },
      streams,
    };
  } catch (e) {
    return { error: String(e) };
  }
}

// ---- the fleet -----------------------------------------------------------------------------
const plist = (label: string, script: string, extra: Record<string, unknown> = {}) =>
  buildXmlPlist({
    Label: label,
    ProgramArguments: ['/bin/sh', '-c', script],
    KeepAlive: true,
    ThrottleInterval: 1,
    ...(extra as Record<string, never>),
  });

async function main(): Promise<void> {
  say(
    `${nodes} simulated nodes + 2 real agents for ${durationMs / 60_000} min; sample every ${sampleMs / 1000} s; ` +
      `apply every ${applyEveryMs / 1000} s, rollout every ${rolloutEveryMs / 1000} s, agent restart every ${restartEveryMs / 1000} s; mix ${v.mix}`,
  );
  const preload = join(repoRoot, 'test', 'dist', 'bench', 'mem-trace-preload.js');
  if (agentMem) say(`agent memory trace: ${memTrace} (heap snapshots next to it)`);
  const fleet: LocalFleet = await startLocalFleet({
    extraAgents: [{ name: 'churn', labels: { role: 'churn' } }],
    ...(agentMem && {
      agentEnv: {
        NODE_OPTIONS: `--import=${pathToFileURL(preload).href}?out=${encodeURIComponent(memTrace)}&every=${sampleMs}`,
      },
    }),
  });
  let sim: ChildProcess | undefined;
  const failures: string[] = [];
  const counts = {
    applies: 0,
    applyFailures: 0,
    rollouts: 0,
    rolloutFailures: 0,
    rolloutsSucceeded: 0,
    rolloutsNotSucceeded: 0,
    restarts: 0,
  };
  /** Every rollout's outcome: its phase once it ended (or when the soak stopped waiting). */
  const rolloutOutcomes: { id: string; phase: string; endedAfterS?: number; waitedS: number }[] = [];
  const samples: Sample[] = [];
  let simStats: { enrolled?: number; connected?: number; offline?: number } = {};
  try {
    // One token for every simulated node (its use count is the fleet size).
    const t = await fleet.cli(['tokens', 'create', '--ttl', '24h', '--uses', String(nodes), '--json']);
    if (t.code !== 0) throw new Error(`tokens create: ${t.stderr}`);
    const tok = JSON.parse(t.stdout) as { token: string; enrollCredentials: string };
    const tokenFile = join(fleet.dir, 'sim-tokens.txt');
    writeFileSync(tokenFile, `${Array(nodes).fill(tok.token).join('\n')}\n${tok.enrollCredentials}`, {
      mode: 0o600,
    });
    sim = spawn(
      process.execPath,
      [
        '--conditions=launchfleet-testing',
        join(repoRoot, 'test', 'dist', 'sim', 'main.js'),
        ...['--agents', String(nodes), '--nats', fleet.natsUrl, '--token-file', tokenFile],
        ...['--mix', v.mix ?? '', '--report-sec', '10', '--start-concurrency', '20'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
    );
    let buf = '';
    sim.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const m = JSON.parse(line) as { type: string; message?: string };
          if (m.type === 'stats') simStats = m as typeof simStats;
          if (m.type === 'error') failures.push(`simulator: ${m.message ?? ''}`);
        } catch {
          // not a stats line
        }
      }
    });
    const simExit = new Promise<void>((r) => sim?.once('exit', () => r()));
    // Enrolment: every simulated node in the fleet view (bounded; the soak goes on regardless and says so).
    const tEnrol = Date.now();
    for (;;) {
      const l = await fleet.cli(['nodes', 'list', '--json']);
      const n = l.code === 0 ? ((JSON.parse(l.stdout) as { nodes?: unknown[] }).nodes?.length ?? 0) : 0;
      if (n >= nodes + 2) {
        say(`${n} nodes enrolled in ${((Date.now() - tEnrol) / 1000).toFixed(0)} s`);
        break;
      }
      if (Date.now() - tEnrol > 300_000) {
        failures.push(`only ${n} of ${nodes + 2} nodes enrolled after 5 min`);
        say(failures[failures.length - 1] ?? '');
        break;
      }
      await sleep(5000);
    }

    const dir = fleet.dir;
    let version = 0;
    const apply = async (label: string, file: string, text: string, args: string[]) => {
      const f = join(dir, file);
      writeFileSync(f, text);
      return fleet.cli([...args, f], 120_000);
    };
    // The crash loop, for the whole run.
    {
      const r = await apply('com.soak.crash', 'crash.plist', plist('com.soak.crash', 'sleep 1; exit 1'), [
        'jobs',
        'apply',
        '--all',
      ]);
      if (r.code !== 0) failures.push(`crash-loop apply: ${r.stderr.trim()}`);
    }
    const applyNext = async () => {
      version++;
      const r = await apply(
        'com.soak.app',
        'app.plist',
        plist('com.soak.app', `exec sleep ${91_000 + version}`),
        ['jobs', 'apply', '--all'],
      );
      counts.applies++;
      if (r.code !== 0) {
        counts.applyFailures++;
        failures.push(`apply v${version}: ${r.stderr.trim().slice(0, 300)}`);
      }
    };
    let rolloutN = 0;
    let pendingRollout: { id: string; startedAt: number } | undefined;
    /**
     * Waits (up to `maxWaitMs`) for the last rollout to end and records its outcome: the soak checks
     * that every rollout finished (phase succeeded), not only that it started. A rollout still
     * running when the wait ends is a failure too (its deadline is 5 min, the next one is due later).
     */
    const settleRollout = async (maxWaitMs: number) => {
      const p = pendingRollout;
      if (!p) return;
      pendingRollout = undefined;
      const tWait = Date.now();
      let phase: string;
      for (;;) {
        const r = await fleet.cli(['rollout', 'status', p.id, '--json']);
        if (r.code === 0) {
          try {
            const ph = (JSON.parse(r.stdout) as { phase?: unknown }).phase;
            phase = typeof ph === 'string' ? ph : JSON.stringify(ph ?? 'unknown');
          } catch {
            phase = 'unparsable';
          }
        } else phase = `status failed: ${r.stderr.trim().slice(0, 200)}`;
        if (/^(succeeded|failed|aborted|rolled[-_]?back|rolledBack)$/i.test(phase)) break;
        if (Date.now() - tWait >= maxWaitMs) break;
        await sleep(5000);
      }
      const ended = /^(succeeded|failed|aborted|rolled[-_]?back|rolledBack)$/i.test(phase);
      rolloutOutcomes.push({
        id: p.id,
        phase,
        ...(ended && { endedAfterS: Math.round((Date.now() - p.startedAt) / 1000) }),
        waitedS: Math.round((Date.now() - tWait) / 1000),
      });
      if (phase === 'succeeded') counts.rolloutsSucceeded++;
      else {
        counts.rolloutsNotSucceeded++;
        failures.push(`rollout ${p.id}: ${ended ? 'ended' : 'still'} ${phase}`);
      }
      say(
        `rollout ${p.id}: ${phase}${ended ? ` (${Math.round((Date.now() - p.startedAt) / 1000)} s after its start)` : ''}`,
      );
    };
    const rollout = async () => {
      await settleRollout(60_000);
      rolloutN++;
      const id = `soak-${rolloutN}`;
      const r = await apply(
        'com.soak.rolled',
        'rolled.plist',
        plist('com.soak.rolled', `exec sleep ${92_000 + rolloutN}`),
        [
          'rollout',
          'start',
          '--all',
          '--id',
          id,
          ...[
            '--canary',
            '1',
            '--waves',
            '25%',
            '--max-unavailable',
            String(Math.max(1, Math.ceil(nodes / 4))),
          ],
          ...['--min-healthy', '5s', '--deadline', '5m', '--max-unhealthy', String(nodes)],
        ],
      );
      counts.rollouts++;
      if (r.code !== 0) {
        counts.rolloutFailures++;
        failures.push(`rollout ${id}: ${r.stderr.trim().slice(0, 300)}`);
      } else pendingRollout = { id, startedAt: Date.now() };
    };
    let kill = true;
    const restartChurnAgent = async () => {
      await fleet.killAgent('churn', kill ? 'SIGKILL' : 'SIGTERM');
      kill = !kill;
      await fleet.restartAgent('churn');
      counts.restarts++;
    };

    await applyNext();
    await rollout();
    const pids = (): Record<string, number | undefined> => ({
      agent: fleet.agentPid('agent'),
      controller: fleet.controllerPid('controller'),
      'nats-server': natsPid(dir),
      simulator: sim?.pid,
    });
    let lastCpu: Record<string, { pid: number; cpu: number; at: number }> = {};
    const takeSample = async () => {
      const now = Date.now();
      const proc: Sample['proc'] = {};
      const nextCpu: typeof lastCpu = {};
      for (const [name, pid] of Object.entries(pids())) {
        if (pid === undefined) continue;
        const mem = rssBytes(pid);
        const cpu = cpuSec(pid);
        if (mem === undefined || cpu === undefined) continue;
        const last = lastCpu[name];
        const cpuPct =
          last && last.pid === pid ? ((cpu - last.cpu) / ((now - last.at) / 1000)) * 100 : Number.NaN;
        nextCpu[name] = { pid, cpu, at: now };
        proc[name] = { pid, ...mem, cpuPct };
      }
      lastCpu = nextCpu;
      const broker = await brokerSample(fleet.natsMonitorUrl);
      const agentPidNow = fleet.agentPid('agent');
      const agentMemNow = agentMem
        ? memTraceLines(memTrace)
            .filter((x) => x.pid === agentPidNow && x.event === undefined)
            .at(-1)
        : undefined;
      const s: Sample = {
        tMin: (now - t0) / 60_000,
        proc,
        ...(simStats.connected !== undefined && { simConnected: simStats.connected }),
        ...(simStats.enrolled !== undefined && { simEnrolled: simStats.enrolled }),
        ...(agentMemNow && { agentMem: agentMemNow }),
        broker,
      };
      samples.push(s);
      if (agentMemNow) {
        const m = (b: number) => (b / 1048576).toFixed(1);
        const a = proc['agent'];
        say(
          `agent memory: rss ${m(agentMemNow.rss)} (anon ${m(a?.rssAnon ?? 0)}, file ${m(a?.rssFile ?? 0)}), ` +
            `heap used ${m(agentMemNow.heapUsed)} of ${m(agentMemNow.heapTotal)}, external ${m(agentMemNow.external)}, ` +
            `arrayBuffers ${m(agentMemNow.arrayBuffers)} MiB`,
        );
      }
      say(
        Object.entries(proc)
          .map(
            ([k, p]) =>
              `${k} ${((p?.rss ?? 0) / 1048576).toFixed(1)} MiB ${Number.isNaN(p?.cpuPct) ? '-' : (p?.cpuPct ?? 0).toFixed(1)} %`,
          )
          .join(', ') + `; simulated connected ${simStats.connected ?? '?'}/${nodes}`,
      );
      if (broker.error) say(`broker monitor: ${broker.error}`);
      else
        say(
          `broker: mem ${((broker.memBytes ?? 0) / 1048576).toFixed(1)} MiB, ${broker.connections} conns, ${broker.subscriptions} subs; ` +
            Object.entries(broker.streams ?? {})
              .map(([k, st]) => `${k} ${st.messages} msgs ${(st.bytes / 1048576).toFixed(2)} MiB`)
              .join(', '),
        );
    };

    /** Asks the measured agent's preload for a heap snapshot and waits (up to 2 min) until it is written. */
    const snapshots: { atMin: number; file?: string; heapUsedAfter?: number; snapshotMs?: number }[] = [];
    const heapSnapshot = async () => {
      const pid = fleet.agentPid('agent');
      if (!agentMem || pid === undefined) return;
      const before = memTraceLines(memTrace).filter((x) => x.event === 'snapshot').length;
      const atMin = (Date.now() - t0) / 60_000;
      process.kill(pid, 'SIGUSR2');
      const t = Date.now();
      while (Date.now() - t < 120_000) {
        const snaps = memTraceLines(memTrace).filter((x) => x.event === 'snapshot');
        const last = snaps.at(-1);
        if (snaps.length > before && last) {
          snapshots.push({
            atMin,
            ...(last.file !== undefined && { file: last.file }),
            heapUsedAfter: last.heapUsed,
            ...(last.snapshotMs !== undefined && { snapshotMs: last.snapshotMs }),
          });
          say(
            `agent heap snapshot ${last.file} (${last.snapshotMs} ms); heap used just after it ${(last.heapUsed / 1048576).toFixed(1)} MiB`,
          );
          return;
        }
        await sleep(1000);
      }
      say('agent heap snapshot: not written within 2 min');
    };
    let snapshotTaken = false;

    const tStart = Date.now();
    await takeSample();
    let nextSample = tStart + sampleMs;
    let nextApply = tStart + applyEveryMs;
    let nextRollout = tStart + rolloutEveryMs;
    let nextRestart = tStart + restartEveryMs;
    while (!stopping && Date.now() - tStart < durationMs) {
      if (sim.exitCode !== null || sim.signalCode !== null) {
        failures.push(`the simulator exited (${sim.exitCode ?? sim.signalCode})`);
        break;
      }
      const now = Date.now();
      if (now >= nextSample) {
        await takeSample();
        nextSample += sampleMs;
        if (agentMem && !snapshotTaken && (Date.now() - t0) / 60_000 >= heapSnapshotAtMin) {
          snapshotTaken = true;
          await heapSnapshot();
        }
      }
      if (now >= nextApply) {
        await applyNext();
        nextApply += applyEveryMs;
      }
      if (now >= nextRollout) {
        await rollout();
        nextRollout += rolloutEveryMs;
      }
      if (now >= nextRestart) {
        await restartChurnAgent().catch((e: unknown) => failures.push(`restart: ${String(e)}`));
        nextRestart += restartEveryMs;
      }
      await sleep(1000);
    }
    say(
      `main loop ended: ${stopping ? `stopping (${fatal.length > 0 ? fatal.join('; ') : 'signal'})` : sim.exitCode !== null || sim.signalCode !== null ? 'the simulator exited' : 'duration reached'}`,
    );
    await takeSample();
    await heapSnapshot();
    // The last rollout (deadline 5 min) gets up to 6 min to end.
    await settleRollout(stopping ? 10_000 : 360_000);

    // ---- end state -------------------------------------------------------------------------
    const l = await fleet.cli(['nodes', 'list', '--json']);
    const list = l.code === 0 ? (JSON.parse(l.stdout) as { nodes?: { presence: string | number }[] }) : {};
    const online = (list.nodes ?? []).filter((n) => /online/i.test(String(n.presence))).length;
    const agentLife = fleet.agentPid('agent');
    const lastAppCmd = `sleep ${91_000 + version}`;
    const realAppInstances = readdirSync('/proc').filter((d) => {
      try {
        return (
          /^\d+$/.test(d) &&
          readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim() === lastAppCmd
        );
      } catch {
        return false;
      }
    }).length;
    const end = {
      nodesListed: list.nodes?.length ?? 0,
      nodesOnline: online,
      measuredAgentAlive: agentLife !== undefined,
      lastAppVersion: version,
      lastAppInstancesOnRealAgents: realAppInstances,
      simulator: simStats,
    };

    // ---- the trend -------------------------------------------------------------------------
    const names = ['agent', 'controller', 'nats-server', 'simulator'];
    const trend: Record<string, unknown> = {};
    const rows: string[] = [];
    for (const name of names) {
      const pts = samples.flatMap((s) => {
        const p = s.proc[name];
        return p ? [{ t: s.tMin / 60, rss: p.rss, cpu: p.cpuPct, pid: p.pid }] : [];
      });
      if (pts.length === 0) continue;
      const lastPid = pts[pts.length - 1]?.pid;
      const same = pts.filter((p) => p.pid === lastPid);
      const half = same.filter(
        (p) => p.t >= (same[0]?.t ?? 0) + ((same[same.length - 1]?.t ?? 0) - (same[0]?.t ?? 0)) / 2,
      );
      const all = slope(
        same.map((p) => p.t),
        same.map((p) => p.rss),
      );
      const second = slope(
        half.map((p) => p.t),
        half.map((p) => p.rss),
      );
      const cpus = same.map((p) => p.cpu).filter((c) => Number.isFinite(c));
      const meanCpu = cpus.reduce((a, b) => a + b, 0) / Math.max(1, cpus.length);
      const rss = same.map((p) => p.rss);
      const t = {
        samples: same.length,
        pid: lastPid,
        restartedDuringRun: same.length !== pts.length,
        rssFirst: rss[0],
        rssLast: rss[rss.length - 1],
        rssMax: Math.max(...rss),
        bytesPerHour: Math.round(all),
        bytesPerHourSecondHalf: Math.round(second),
        cpuMeanPct: Number(meanCpu.toFixed(2)),
      };
      trend[name] = t;
      const mib = (b: number | undefined) => ((b ?? 0) / 1048576).toFixed(1);
      rows.push(
        `| ${name} | ${t.samples} | ${mib(t.rssFirst)} | ${mib(t.rssLast)} | ${mib(t.rssMax)} | ` +
          `${(all / 1048576).toFixed(2)} | ${(second / 1048576).toFixed(2)} | ${t.cpuMeanPct} |`,
      );
    }
    // ---- the measured agent: where its RSS is (anon/file) and its JS heap, first -> last, per hour
    const agentMemRows: string[] = [];
    const agentMemTrend: Record<string, unknown> = {};
    {
      const lastPid = samples.at(-1)?.proc['agent']?.pid;
      const pts = samples.filter((x) => x.proc['agent']?.pid === lastPid);
      const series: [string, (x: Sample) => number | undefined][] = [
        ['RSS', (x) => x.proc['agent']?.rss],
        ['RSS anon', (x) => x.proc['agent']?.rssAnon],
        ['RSS file', (x) => x.proc['agent']?.rssFile],
        ['heap used', (x) => x.agentMem?.heapUsed],
        ['heap total', (x) => x.agentMem?.heapTotal],
        ['external', (x) => x.agentMem?.external],
        ['arrayBuffers', (x) => x.agentMem?.arrayBuffers],
        [
          'RSS - heap total - external',
          (x) =>
            x.agentMem && x.proc['agent']
              ? x.proc['agent'].rss - x.agentMem.heapTotal - x.agentMem.external
              : undefined,
        ],
      ];
      for (const [name, get] of series) {
        const p = pts.flatMap((x) => {
          const y = get(x);
          return y === undefined ? [] : [{ t: x.tMin / 60, y }];
        });
        if (p.length < 2) continue;
        const tMid = ((p[0]?.t ?? 0) + (p.at(-1)?.t ?? 0)) / 2;
        const half = p.filter((q) => q.t >= tMid);
        const all = slope(
          p.map((q) => q.t),
          p.map((q) => q.y),
        );
        const second = slope(
          half.map((q) => q.t),
          half.map((q) => q.y),
        );
        agentMemTrend[name] = {
          first: p[0]?.y,
          last: p.at(-1)?.y,
          min: Math.min(...p.map((q) => q.y)),
          max: Math.max(...p.map((q) => q.y)),
          perHour: Math.round(all),
          perHourSecondHalf: Math.round(second),
        };
        const mib = (b: number | undefined) => ((b ?? 0) / 1048576).toFixed(1);
        agentMemRows.push(
          `| ${name} | ${p.length} | ${mib(p[0]?.y)} | ${mib(p.at(-1)?.y)} | ${mib(Math.min(...p.map((q) => q.y)))} | ${mib(Math.max(...p.map((q) => q.y)))} | ${(all / 1048576).toFixed(2)} | ${(second / 1048576).toFixed(2)} |`,
        );
      }
    }
    // ---- what grows in the broker: its own memory figure and every stream, first -> last, per hour
    const bs = samples.filter((x) => x.broker && !x.broker.error);
    const brokerGrowth: Record<string, unknown> = {};
    const brokerRows: string[] = [];
    if (bs.length >= 2) {
      const first = bs[0];
      const last = bs[bs.length - 1];
      const hours = bs.map((x) => x.tMin / 60);
      const row = (name: string, ys: number[], unit: 'MiB' | 'n') => {
        const sl = slope(hours, ys);
        const f = (y: number | undefined) =>
          unit === 'MiB' ? ((y ?? 0) / 1048576).toFixed(2) : String(y ?? 0);
        brokerGrowth[name] = { first: ys[0], last: ys[ys.length - 1], perHour: Math.round(sl) };
        brokerRows.push(
          `| ${name} | ${f(ys[0])} | ${f(ys[ys.length - 1])} | ${unit === 'MiB' ? (sl / 1048576).toFixed(2) : sl.toFixed(0)} ${unit === 'MiB' ? 'MiB' : ''}/h |`,
        );
      };
      row(
        'varz mem (MiB)',
        bs.map((x) => x.broker?.memBytes ?? 0),
        'MiB',
      );
      row(
        'connections',
        bs.map((x) => x.broker?.connections ?? 0),
        'n',
      );
      row(
        'subscriptions',
        bs.map((x) => x.broker?.subscriptions ?? 0),
        'n',
      );
      row(
        'jsz memory store (MiB)',
        bs.map((x) => x.broker?.js?.memory ?? 0),
        'MiB',
      );
      row(
        'jsz file store (MiB)',
        bs.map((x) => x.broker?.js?.storage ?? 0),
        'MiB',
      );
      row(
        'jsz consumers',
        bs.map((x) => x.broker?.js?.consumers ?? 0),
        'n',
      );
      const names = new Set([
        ...Object.keys(first?.broker?.streams ?? {}),
        ...Object.keys(last?.broker?.streams ?? {}),
      ]);
      for (const st of [...names].sort()) {
        row(
          `${st} bytes (MiB)`,
          bs.map((x) => x.broker?.streams?.[st]?.bytes ?? 0),
          'MiB',
        );
        row(
          `${st} messages`,
          bs.map((x) => x.broker?.streams?.[st]?.messages ?? 0),
          'n',
        );
      }
    }
    failures.push(...fatal);
    const result = {
      at: new Date(t0).toISOString(),
      command: process.argv.slice(2).join(' '),
      node: process.version,
      nodes,
      durationMin: (Date.now() - t0) / 60_000,
      settings: { sampleMs, applyEveryMs, rolloutEveryMs, restartEveryMs, mix: v.mix },
      counts,
      rolloutOutcomes,
      brokerGrowth,
      end,
      failures,
      trend,
      agentMemTrend,
      heapSnapshots: snapshots,
      samples,
    };
    writeFileSync(out, JSON.stringify(result, null, 2));
    console.log(
      '\n| process | samples | RSS first MiB | last MiB | max MiB | trend MiB/h (all) | trend MiB/h (2nd half) | CPU mean % |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    if (agentMemRows.length > 0) {
      console.log(
        '\n| measured agent | samples | first MiB | last MiB | min MiB | max MiB | trend MiB/h (all) | trend MiB/h (2nd half) |',
      );
      console.log('|---|---|---|---|---|---|---|---|');
      for (const r of agentMemRows) console.log(r);
      for (const sn of snapshots)
        console.log(
          `heap snapshot at ${sn.atMin.toFixed(1)} min: ${sn.file} (heap used just after: ${((sn.heapUsedAfter ?? 0) / 1048576).toFixed(1)} MiB)`,
        );
    }
    if (brokerRows.length > 0) {
      console.log('\n| broker (nats-server /varz, /jsz) | first | last | trend |');
      console.log('|---|---|---|---|');
      for (const r of brokerRows) console.log(r);
    }
    console.log(
      `\nchurn: ${counts.applies} applies (${counts.applyFailures} failed), ${counts.rollouts} rollouts (${counts.rolloutFailures} failed to start, ${counts.rolloutsSucceeded} succeeded, ${counts.rolloutsNotSucceeded} did not), ` +
        `${counts.restarts} agent restarts; end: ${end.nodesOnline}/${end.nodesListed} nodes online, ` +
        `simulator connected ${simStats.connected ?? '?'}, last app version v${version} runs ${realAppInstances} time(s) on the 2 real agents`,
    );
    if (failures.length > 0) console.log(`failures:\n  ${failures.join('\n  ')}`);
    console.log(`results: ${out}`);
    process.exitCode = failures.length > 0 ? 1 : 0;
    if (sim.exitCode === null) {
      sim.kill('SIGTERM');
      await Promise.race([simExit, sleep(25_000)]);
    }
  } finally {
    if (sim?.pid !== undefined && sim.exitCode === null && sim.signalCode === null) {
      try {
        process.kill(-sim.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await fleet.stop();
  }
}

await main().catch((e: unknown) => {
  note(`the soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
// Open handles (the simulator's pipe, signal handlers) must not keep a finished soak alive.
process.exit(process.exitCode ?? 0);
