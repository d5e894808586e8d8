/**
 * Where the agent's memory goes (issue 19). The real agent process (`launchfleet-agent --config`,
 * standalone, its metrics endpoint on, as supervisor-jobs-1000 runs it), once with 0 jobs (its
 * floor) and once with N KeepAlive `/bin/sleep` jobs, measured from outside and from inside:
 *
 * - /proc/<pid>/status: VmRSS split into anonymous pages (V8's heap, malloc, thread stacks) and
 *   file-backed ones (the node binary's and the libraries' pages in use), and VmHWM (the peak);
 * - a reporter preloaded with `--import`, asked with SIGUSR2 once the jobs have settled:
 *   `process.memoryUsage()` and V8's heap by space (physical pages), and what V8 keeps outside
 *   its heap (external memory, array buffers).
 *
 * Bare Node (the same flags, an idle timer) is measured first: what Node itself takes.
 * With `--base=<checkout>` (a built checkout of an older commit, e.g. `git archive` of main before
 * a change + `npm ci`), that checkout's agent is measured in the same run as the "before" column.
 * With `--sea=FILE` (a single-file agent from scripts/build-agent.sh, as the .deb installs), that
 * binary is the other column instead, from outside only (/proc: a single file takes no --import).
 *
 *   node test/dist/bench/agent-memory.js [--quick] [--jobs=1000] [--settle-seconds=20] [--base=DIR | --sea=FILE]
 *   LF_BENCH_BASE=DIR scripts/bench.sh agent-memory --runs=3
 *
 * Memory only: no timing is judged here (supervisor-jobs-1000 holds the targets against
 * supervisord). The reporter costs the same few KB in every process measured.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { emit, intArg, machineInfo, parseArgs, type BenchResult, type Row } from './bench-output.ts';
import { round } from './bench-stats.ts';
import { shippedNodeFlags, startRealAgent, type RealAgent } from './real-agent.ts';
import { labels, sleeperJob } from './supervisor-harness.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const jobs = intArg(values, 'jobs', quick ? 50 : 1000);
const settleSeconds = intArg(values, 'settle-seconds', quick ? 3 : 20);
const baseDir = values.get('base') ?? (process.env['LF_BENCH_BASE'] || undefined);
const sea = values.get('sea');

const MB = 1e6;

/** The reporter each measured agent preloads: writes its numbers to `out` on SIGUSR2. */
function reporterSource(out: string): string {
  return `import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
process.on('SIGUSR2', () => {
  const spaces = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = s.physical_space_size;
  writeFileSync(${JSON.stringify(out)}, JSON.stringify({ mem: process.memoryUsage(), spaces }));
});
`;
}

interface Report {
  readonly mem: NodeJS.MemoryUsage;
  readonly spaces: Readonly<Record<string, number>>;
}

/** VmRSS, RssAnon, RssFile, VmHWM of a pid, in bytes. */
function procStatus(pid: number): Record<'rss' | 'anon' | 'file' | 'hwm', number> {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number =>
    Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

async function waitForFile(path: string, ms: number): Promise<string> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (existsSync(path)) {
      const t = readFileSync(path, 'utf8');
      if (t.endsWith('}')) return t;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no memory report in ${path} after ${ms} ms`);
}

/** Reads one process's numbers: /proc from outside, then its reporter (SIGUSR2). */
async function measureOne(
  key: string,
  pid: number,
  out: string | undefined,
  metrics: Record<string, number>,
): Promise<void> {
  const st = procStatus(pid);
  const m = (k: string, bytes: number): void => {
    metrics[`${key}.${k}`] = round(bytes / MB, 1);
  };
  m('rssMB', st.rss);
  m('rssAnonMB', st.anon);
  m('rssFileMB', st.file);
  m('peakMB', Math.max(st.hwm, st.rss));
  if (out === undefined) return; // a single file: no reporter
  process.kill(pid, 'SIGUSR2');
  const r = JSON.parse(await waitForFile(out, 10_000)) as Report;
  const heapPhysical = Object.values(r.spaces).reduce((a, b) => a + b, 0);
  m('heapUsedMB', r.mem.heapUsed);
  m('heapPhysicalMB', heapPhysical);
  for (const space of ['new_space', 'old_space', 'code_space', 'large_object_space'])
    m(`space.${space}MB`, r.spaces[space] ?? 0);
  m('externalMB', r.mem.external);
  // Anonymous pages V8's heap does not account for: malloc (Node's and the addon's), libuv,
  // thread stacks, V8's own tables.
  m('anonOutsideHeapMB', st.anon - heapPhysical);
}

/** Starts one build's agent with 0 and with `jobs` jobs, lets them settle, measures both. */
async function measureBuild(
  name: string,
  bin: string | undefined,
  dir: string,
  metrics: Record<string, number>,
  executable?: string,
): Promise<void> {
  const agents: { key: string; agent: RealAgent; out: string | undefined }[] = [];
  try {
    for (const [key, n] of [
      [`${name}.floor`, 0],
      [`${name}.jobs`, jobs],
    ] as const) {
      const out = join(dir, `${key}.json`);
      const reporter = join(dir, `${key}.mjs`);
      writeFileSync(reporter, reporterSource(out));
      const list = labels(`${name}${n}`, n).map(sleeperJob);
      const agent = await startRealAgent(list, 'sleep', {
        ...(bin ? { bin } : {}),
        ...(executable ? { executable } : {}),
        nodeFlags: [`--import=${reporter}`],
      });
      agents.push({ key, agent, out: executable ? undefined : out });
    }
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    for (const { key, agent, out } of agents) await measureOne(key, agent.pid, out, metrics);
  } finally {
    for (const { agent } of agents) await agent.stop();
  }
}

/** Bare Node with the agent's shipped flags and an idle timer: what Node itself takes. */
async function measureBareNode(dir: string, metrics: Record<string, number>): Promise<void> {
  const out = join(dir, 'node.json');
  const reporter = join(dir, 'node.mjs');
  writeFileSync(reporter, reporterSource(out));
  const child = spawn(
    process.execPath,
    [...shippedNodeFlags(), `--import=${reporter}`, '-e', 'setInterval(() => {}, 1 << 30)'],
    { stdio: 'ignore' },
  );
  child.once('error', () => undefined);
  try {
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    if (child.pid === undefined || child.exitCode !== null) throw new Error('bare node did not start');
    await measureOne('node', child.pid, out, metrics);
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const dir = mkdtempSync(join(tmpdir(), 'lf-bench-agentmem-'));
  const metrics: Record<string, number> = {};
  let baseBin: string | undefined;
  if (baseDir !== undefined) {
    baseBin = resolve(baseDir, 'node-agent', 'bin', 'launchfleet-agent.js');
    if (!existsSync(baseBin) || !existsSync(resolve(baseDir, 'node-agent', 'dist', 'main.js')))
      throw new Error(`--base=${baseDir}: no built agent there (node-agent/bin and node-agent/dist)`);
  }
  try {
    await measureBareNode(dir, metrics);
    await measureBuild('ours', undefined, dir, metrics);
    if (baseBin) await measureBuild('base', baseBin, dir, metrics);
    else if (sea !== undefined) await measureBuild('base', undefined, dir, metrics, resolve(sea));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const other = baseBin !== undefined || sea !== undefined;
  for (const b of other ? ['ours', 'base'] : ['ours']) {
    const per = ((metrics[`${b}.jobs.rssMB`] ?? NaN) - (metrics[`${b}.floor.rssMB`] ?? NaN)) * 1000;
    metrics[`${b}.perJobKB`] = round(per / jobs, 1);
  }
  const anchor = (k: string): Partial<Row> =>
    other
      ? {
          anchor: k.replace(/^ours\./, 'base.'),
          anchorName: sea !== undefined ? 'the single-file agent' : 'the base build (before)',
        }
      : {};
  const row = (what: string, key: string, unit = 'MB'): Row => ({ what, unit, ours: key, ...anchor(key) });
  const rows: Row[] = [
    { what: "bare Node, the agent's flags, idle: RSS", unit: 'MB', ours: 'node.rssMB' },
    { what: 'bare Node: RSS, file-backed', unit: 'MB', ours: 'node.rssFileMB' },
    { what: 'bare Node: V8 heap, physical', unit: 'MB', ours: 'node.heapPhysicalMB' },
    { what: "bare Node: anonymous outside V8's heap", unit: 'MB', ours: 'node.anonOutsideHeapMB' },
  ];
  for (const [k, label] of [
    ['floor', '0 jobs'],
    ['jobs', `${jobs} jobs`],
  ] as const) {
    rows.push(
      row(`${label}: RSS`, `ours.${k}.rssMB`),
      row(`${label}: RSS, anonymous`, `ours.${k}.rssAnonMB`),
      row(`${label}: RSS, file-backed (binary, libraries)`, `ours.${k}.rssFileMB`),
      row(`${label}: peak (VmHWM)`, `ours.${k}.peakMB`),
      row(`${label}: V8 heap, physical`, `ours.${k}.heapPhysicalMB`),
      row(`${label}: V8 heap, used`, `ours.${k}.heapUsedMB`),
      row(`${label}:   new space`, `ours.${k}.space.new_spaceMB`),
      row(`${label}:   old space`, `ours.${k}.space.old_spaceMB`),
      row(`${label}:   code space`, `ours.${k}.space.code_spaceMB`),
      row(`${label}:   large objects`, `ours.${k}.space.large_object_spaceMB`),
      row(`${label}: V8 external`, `ours.${k}.externalMB`),
      row(`${label}: anonymous outside V8's heap`, `ours.${k}.anonOutsideHeapMB`),
    );
  }
  rows.push(row('RSS per job, (N jobs - 0 jobs) / N', 'ours.perJobKB', 'KB'));
  const result: BenchResult = {
    bench: 'agent-memory',
    quick,
    at: new Date().toISOString(),
    machine,
    params: {
      jobs,
      settleSeconds,
      ...(baseDir !== undefined ? { base: baseDir } : {}),
      ...(sea !== undefined ? { sea } : {}),
    },
    metrics,
    rows,
    targets: [],
    notes: [
      'MB = 10^6 bytes; each build is measured with its own shipped Node flags (its bin #! line)',
      `the 0-job and ${jobs}-job agents of a build run together, measured ${settleSeconds} s after their last job started`,
      ...(quick ? ['--quick: small sizes, not for judging'] : []),
    ],
  };
  emit(result);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
