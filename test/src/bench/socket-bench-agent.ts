/**
 * "Ours" in the socket benchmarks: the real agent process (`launchfleet-agent --config`, the
 * same main.ts as production, standalone: no controller, no sessions), its system domain loaded
 * from a directory of plists with `Sockets`. The agent holds the listeners from load; the
 * benchmark reads job state through the agent's own control API (PrintService, what
 * `lfctl print system/<label>` shows), only between measured connections.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, socketPaths, type ServiceStatus } from '@launchfleet/node-agent/control';
import { agentBin, shippedNodeFlags } from './real-agent.ts';
import { childrenOf, killIfSame, type ProcSample } from './proc-stats.ts';
import { freePort } from './socket-bench-net.ts';
import { writeDaemonDirectory, type JobPlist } from './supervisor-harness.ts';
import { workerExecArgv } from './worker-protocol.ts';

/** A running agent process and how to look at its jobs. */
export interface SocketBenchAgent {
  readonly pid: number;
  /** The job's print fields, or an Error value when the agent does not answer or knows no such job. */
  service(label: string): Promise<ServiceStatus | Error>;
  /** The last lines of the agent's log (for error messages). */
  logTail(): string;
  /** SIGTERM (the agent stops every job), wait, remove the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts the agent on `jobs` and resolves once every job is loaded (PrintService answers for it).
 * `nodeFlags` are added after the benchmarks' own (activation-trace.ts preloads its tracer so).
 */
export async function startSocketBenchAgent(
  jobs: readonly JobPlist[],
  opts: { readonly nodeFlags?: readonly string[] } = {},
): Promise<SocketBenchAgent> {
  if (process.getuid?.() !== 0)
    throw new Error('the socket benchmarks run as root (system-domain plists must be root-owned)');
  const root = mkdtempSync(join(tmpdir(), 'lf-bench-sockagent-'));
  const daemons = writeDaemonDirectory(root, jobs);
  const runDir = join(root, 'run');
  const conf = join(root, 'agent.json');
  writeFileSync(
    conf,
    JSON.stringify({
      stateDir: join(root, 'state'),
      runDir,
      daemonDirectories: [daemons],
      agentDirectories: [],
      loadHomeAgents: false,
      sessions: { source: 'none' },
      metricsListen: `127.0.0.1:${await freePort()}`,
    }),
  );
  const logPath = join(root, 'agent.log');
  const logFd = openSync(logPath, 'a');
  // The same extra Node flags as the other benchmarks' measured processes (LF_BENCH_CPU_PROF...).
  const child = spawn(
    process.execPath,
    [...shippedNodeFlags(), ...workerExecArgv(), ...(opts.nodeFlags ?? []), agentBin, '--config', conf],
    {
      stdio: ['ignore', 'ignore', logFd],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LAUNCHFLEET_LOG: 'info' },
    },
  );
  closeSync(logFd);
  child.once('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  const client = new ControlClient(socketPaths(runDir).system);
  let seen: ProcSample[] = [];
  const logTail = (): string => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    client.close();
    if (pid !== undefined) seen = [...seen, ...childrenOf(pid)];
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    killIfSame(seen);
    rmSync(root, { recursive: true, force: true });
  };
  const service = async (label: string): Promise<ServiceStatus | Error> => {
    try {
      const r = await client.call('PrintService', { target: `system/${label}` }, 5_000);
      if (r.error) return new Error(`print system/${label}: ${r.error.message}`);
      return r.service ?? new Error(`print system/${label}: no service in the reply`);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };
  if (pid === undefined) {
    await stop();
    throw new Error('cannot start the agent process');
  }
  const deadline = performance.now() + 60_000;
  for (const job of jobs) {
    const label = job['Label'];
    if (typeof label !== 'string') throw new Error('every benchmark job needs a Label');
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = logTail();
        await stop();
        throw new Error(`the agent exited (${child.exitCode ?? child.signalCode}) while starting:\n${log}`);
      }
      const s = await service(label);
      if (!(s instanceof Error)) break;
      if (performance.now() > deadline) {
        const log = logTail();
        await stop();
        throw new Error(`the agent did not load ${label} within 60 s (${s.message}):\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { pid, service, logTail, stop };
}

/** Every socket of the job is held and watched (the agent will activate on the next connection). */
export function allWatching(s: ServiceStatus): boolean {
  const held = (s.sockets ?? []).flatMap((g) => g.held ?? []);
  return held.length > 0 && held.every((h) => h.state === 'watching');
}

/** Sum of the activations over the job's held sockets. */
export function activations(s: ServiceStatus): number {
  return (s.sockets ?? []).flatMap((g) => g.held ?? []).reduce((n, h) => n + Number(h.activations), 0);
}
