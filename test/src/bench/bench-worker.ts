/**
 * The measured process of the supervisor benchmarks, forked by a driver with one WorkerTask as
 * its argument (see worker-protocol.ts). It hosts either the supervisor (supervisor-harness.ts)
 * or a bare Node spawner, and reports over the IPC channel. It prints nothing on stdout.
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { JobStatus } from '@launchfleet/node-agent';
import { messageOf } from '@launchfleet/shared/errors';
import { round, summarize } from './bench-stats.ts';
import { labels, sleeperJob, startSupervisor, trueJob } from './supervisor-harness.ts';
import type { DriverMessage, LagReport, WorkerMessage, WorkerTask } from './worker-protocol.ts';

/** monitorEventLoopDelay's sampling period; prom-client's default precision is the same. */
const RESOLUTION_MS = 10;

function send(m: WorkerMessage): void {
  // Run by hand (no IPC channel): print the messages instead.
  if (process.send) process.send(m);
  else process.stdout.write(`${JSON.stringify(m)}\n`);
}

function rssMB(): number {
  return round(process.memoryUsage.rss() / 1e6, 1);
}

/** Resolves when the driver says stop. */
function untilStop(onMemory: () => void): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m: DriverMessage) => {
      if (m.type === 'stop') resolve();
      else onMemory();
    });
    // A driver that died takes its IPC channel with it: stop too, never linger.
    process.once('disconnect', () => resolve());
  });
}

async function idle(jobs: number): Promise<void> {
  const t0 = performance.now();
  let running = 0;
  let allRunningMs = jobs === 0 ? 0 : Number.NaN;
  const seen = new Set<string>();
  let resolveAll: () => void = () => undefined;
  const allRunning = new Promise<void>((r) => (resolveAll = r));
  if (jobs === 0) resolveAll();
  const sup = await startSupervisor({
    jobs: labels('idle', jobs).map(sleeperJob),
    onStatus: (s: JobStatus) => {
      if (s.pid === undefined || seen.has(s.label)) return;
      seen.add(s.label);
      running++;
      if (running === jobs) {
        allRunningMs = performance.now() - t0;
        resolveAll();
      }
    },
  });
  await allRunning;
  send({
    type: 'ready',
    loaded: sup.report.loaded.length,
    loadMs: round(sup.loadMs, 1),
    allRunningMs: round(allRunningMs, 1),
    warnings: [...sup.problems],
  });
  await untilStop(() => {
    const m = process.memoryUsage();
    send({
      type: 'memory',
      heapUsedMB: round(m.heapUsed / 1e6, 1),
      rssMB: round(m.rss / 1e6, 1),
      externalMB: round(m.external / 1e6, 1),
    });
  });
  const s0 = performance.now();
  await sup.stop();
  send({ type: 'stopped', stopMs: round(performance.now() - s0, 1) });
}

/**
 * Offers `rate` kicks per second for `seconds`, catching up after a late timer (the offered rate
 * holds even if the loop stalls), and measures the loop's delay meanwhile.
 */
async function drive(
  rate: number,
  seconds: number,
  fire: (i: number) => void,
): Promise<{ lag: { p50: number; p99: number; max: number }; cpuPct: number; windowMs: number }> {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  h.enable();
  let issued = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - start;
      if (elapsed >= seconds * 1000) {
        resolve();
        return;
      }
      const due = Math.min(rate * seconds, Math.floor((elapsed * rate) / 1000) + 1);
      while (issued < due) fire(issued++);
      setTimeout(tick, Math.max(0, (issued * 1000) / rate - (performance.now() - start)));
    };
    tick();
  });
  h.disable();
  const windowMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const lagMs = (ns: number): number => round(Math.max(0, ns / 1e6 - RESOLUTION_MS), 2);
  return {
    lag: { p50: lagMs(h.percentile(50)), p99: lagMs(h.percentile(99)), max: lagMs(h.max) },
    cpuPct: round(((cpu.user + cpu.system) / 1000 / windowMs) * 100, 1),
    windowMs: round(windowMs, 0),
  };
}

/** Waits until `done()` or `ms` passed. */
async function settle(done: () => boolean, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (!done() && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
}

async function lagSupervisor(rate: number, seconds: number, nLabels: number): Promise<void> {
  const names = labels('kick', nLabels);
  const kickedAt = new Map<string, number>();
  const lastPid = new Map<string, number>();
  const lastFailureAt = new Map<string, number>();
  const execMs: number[] = [];
  let spawned = 0;
  let failed = 0;
  let busy = 0;
  let measuring = false;
  const sup = await startSupervisor({
    jobs: names.map(trueJob),
    onStatus: (s: JobStatus) => {
      if (s.pid !== undefined && lastPid.get(s.label) !== s.pid) {
        lastPid.set(s.label, s.pid);
        if (!measuring) return;
        spawned++;
        const t = kickedAt.get(s.label);
        if (t !== undefined) execMs.push(performance.now() - t);
        kickedAt.delete(s.label);
      }
      if (s.spawnFailure && lastFailureAt.get(s.label) !== s.spawnFailure.at) {
        lastFailureAt.set(s.label, s.spawnFailure.at);
        if (measuring) failed++;
      }
    },
  });
  const system = sup.system;
  const idleNow = (label: string): boolean => {
    const kind = system.runner(label)?.current.sub.kind;
    return kind === 'waiting' || kind === 'exited';
  };
  // Warm-up: one kick of every label (JIT, the user-database cache), then measure.
  for (const l of names) void system.kickstart(l);
  await settle(() => names.every(idleNow), 10_000);
  measuring = true;
  const r = await drive(rate, seconds, (i) => {
    const label = names[i % names.length] ?? '';
    if (!idleNow(label)) {
      busy++;
      return;
    }
    kickedAt.set(label, performance.now());
    void system.kickstart(label);
  });
  await settle(() => names.every(idleNow), 10_000);
  measuring = false;
  const runs = system.statuses().reduce((a, s) => a + s.runs, 0);
  const e = summarize(execMs);
  const report: LagReport = {
    lagP50Ms: r.lag.p50,
    lagP99Ms: r.lag.p99,
    lagMaxMs: r.lag.max,
    offered: rate * seconds,
    spawned,
    exited: runs - nLabels, // the warm-up ran each label once
    failed,
    busy,
    execP50Ms: round(e.p50, 3),
    execP99Ms: round(e.p99, 3),
    cpuPct: r.cpuPct,
    windowMs: r.windowMs,
    rssMB: rssMB(),
  };
  const warnings = [...sup.problems];
  await sup.stop();
  send({ type: 'lag', report, warnings });
}

async function lagNode(rate: number, seconds: number): Promise<void> {
  let spawned = 0;
  let exited = 0;
  let failed = 0;
  const execMs: number[] = [];
  const once = (record: boolean): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      // The same child setup the spawner gives a job: stdio on /dev/null, a new session.
      const child = spawn('/bin/true', [], {
        stdio: 'ignore',
        detached: true,
        env: { PATH: '/usr/bin:/bin' },
      });
      // libuv returns from spawn() only after the child's exec (or its failure).
      if (record) execMs.push(performance.now() - t0);
      child.once('error', () => {
        if (record) failed++;
        resolve();
      });
      child.once('spawn', () => {
        if (record) spawned++;
      });
      child.once('exit', () => {
        if (record) exited++;
        resolve();
      });
    });
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) pending.push(once(false)); // warm-up
  await Promise.all(pending.splice(0));
  const r = await drive(rate, seconds, () => {
    pending.push(once(true));
  });
  await Promise.all(pending);
  const e = summarize(execMs);
  send({
    type: 'lag',
    report: {
      lagP50Ms: r.lag.p50,
      lagP99Ms: r.lag.p99,
      lagMaxMs: r.lag.max,
      offered: rate * seconds,
      spawned,
      exited,
      failed,
      busy: 0,
      execP50Ms: round(e.p50, 3),
      execP99Ms: round(e.p99, 3),
      cpuPct: r.cpuPct,
      windowMs: r.windowMs,
      rssMB: rssMB(),
    },
    warnings: [],
  });
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
  switch (task.kind) {
    case 'idle':
      return idle(task.jobs);
    case 'lag-supervisor':
      return lagSupervisor(task.rate, task.seconds, task.labels);
    case 'lag-node':
      return lagNode(task.rate, task.seconds);
    default: {
      const never: never = task;
      throw new Error(`unknown task ${JSON.stringify(never)}`);
    }
  }
}

main().then(
  () => process.disconnect?.(),
  (err: unknown) => {
    send({ type: 'error', message: messageOf(err) });
    process.exitCode = 1;
    process.disconnect?.();
  },
);
