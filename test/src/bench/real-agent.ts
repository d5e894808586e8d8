/**
 * The real agent process (node-agent's main.ts, `launchfleet-agent --config`), standalone (no
 * controller), with its system domain loaded from a directory of N plists: measured beside the
 * in-process harness when it has been built. Its metrics endpoint is on (a free loopback port),
 * as in production; sessions are off (no per-user domains).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf, commOf, killIfSame, type ProcSample } from './proc-stats.ts';
import { writeDaemonDirectory, type JobPlist } from './supervisor-harness.ts';
import { workerExecArgv } from './worker-protocol.ts';
import { freePort } from '../support/nats-server.ts';

/** node-agent/bin/launchfleet-agent.js, from test/dist/bench/. */
export const agentBin: string = fileURLToPath(
  new URL('../../../node-agent/bin/launchfleet-agent.js', import.meta.url),
);
const agentMain: string = fileURLToPath(new URL('../../../node-agent/dist/main.js', import.meta.url));

/**
 * The Node flags the agent ships with: those on its bin's `#!/usr/bin/env -S node ...` line,
 * which `node <bin>` would skip. The benchmarks measure the agent as installed.
 */
export function shippedNodeFlags(bin: string = agentBin): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  return m?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

/** Is the agent built? */
export function realAgentAvailable(): boolean {
  return existsSync(agentBin) && existsSync(agentMain);
}

export interface RealAgent {
  readonly pid: number;
  /** `http://127.0.0.1:<port>/metrics` of its metrics endpoint. */
  readonly metricsUrl: string;
  readonly allRunningMs: number;
  /** Stops it (SIGTERM: it stops every job), cleans up; resolves with the stop time in ms. */
  stop(): Promise<number>;
}

export interface RealAgentOptions {
  /** Another build's bin (e.g. an older checkout's, to measure before and after in one run). */
  readonly bin?: string;
  /**
   * A single-file agent (scripts/build-agent.sh) run as `FILE --config ...` instead of a bin under
   * this Node: its Node and flags are its own (`nodeFlags` and the workers' flags do not apply).
   */
  readonly executable?: string;
  /** Node flags added after the shipped ones and the workers' (e.g. `--import` of a reporter). */
  readonly nodeFlags?: readonly string[];
  /** More keys of the agent's config file (e.g. `controller`: the agent then runs its fleet link). */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
}

/** Starts the agent on `jobs` and waits until every job has a process (children named `comm`). */
export async function startRealAgent(
  jobs: readonly JobPlist[],
  comm: string,
  o: RealAgentOptions = {},
): Promise<RealAgent> {
  const bin = o.bin ?? agentBin;
  const root = mkdtempSync(join(tmpdir(), 'lf-bench-realagent-'));
  const daemons = writeDaemonDirectory(root, jobs);
  const conf = join(root, 'agent.json');
  const metricsPort = await freePort();
  writeFileSync(
    conf,
    JSON.stringify({
      stateDir: join(root, 'state'),
      runDir: join(root, 'run'),
      daemonDirectories: [daemons],
      agentDirectories: [],
      loadHomeAgents: false,
      sessions: { source: 'none' },
      metricsListen: `127.0.0.1:${metricsPort}`,
      ...o.extraConfig,
    }),
  );
  const logPath = join(root, 'agent.log');
  const logFd = openSync(logPath, 'a');
  const t0 = performance.now();
  // The same extra Node flags as the workers (LF_BENCH_NODE_FLAGS, LF_BENCH_CPU_PROF), to compare alike.
  const [file, args] = o.executable
    ? [o.executable, ['--config', conf]]
    : [
        process.execPath,
        [...shippedNodeFlags(bin), ...workerExecArgv(), ...(o.nodeFlags ?? []), bin, '--config', conf],
      ];
  const child = spawn(file, args, {
    stdio: ['ignore', 'ignore', logFd],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LAUNCHFLEET_LOG: 'info' },
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const pid = child.pid;
  let seen: ProcSample[] = [];
  const stop = async (): Promise<number> => {
    const s0 = performance.now();
    if (pid !== undefined) seen = [...seen, ...childrenOf(pid)];
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    const ms = performance.now() - s0;
    killIfSame(seen);
    rmSync(root, { recursive: true, force: true });
    return ms;
  };
  const tail = (): string => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-10).join('\n');
    } catch {
      return '';
    }
  };
  if (pid === undefined) {
    await stop();
    throw new Error('cannot start the agent process');
  }
  const until = performance.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = tail();
      await stop();
      throw new Error(`the agent exited (${child.exitCode ?? child.signalCode}) while starting:\n${log}`);
    }
    const running = childrenOf(pid).filter((p) => commOf(p.pid) === comm);
    if (running.length >= jobs.length) {
      seen = running;
      break;
    }
    if (performance.now() > until) {
      const log = tail();
      await stop();
      throw new Error(`the agent ran ${running.length} of ${jobs.length} jobs after 180 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    allRunningMs: performance.now() - t0,
    stop,
  };
}
