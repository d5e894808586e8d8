/**
 * supervisord 4.2 (Debian's `supervisor` package) as the side-by-side anchor: the same N programs
 * as our N jobs, run by `supervisord -n` on a private config and a temporary unix socket, never as
 * a system service.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, killIfSame, type ProcSample } from './proc-stats.ts';

export interface Supervisord {
  readonly pid: number;
  /** From spawn until N children ran. */
  readonly allRunningMs: number;
  /** Programs supervisorctl reports RUNNING (checked once, before any measuring). */
  runningCount(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * supervisord's config for `n` programs running `argv`, as close to our jobs as supervisord allows:
 * autorestart (KeepAlive), started at once (RunAtLoad), output discarded. supervisord still holds
 * a pipe per child stream: that is how it works, and part of what is measured.
 */
export function supervisordConfig(dir: string, n: number, argv: readonly string[]): string {
  const lines = [
    '[unix_http_server]',
    `file=${join(dir, 'supervisor.sock')}`,
    'chmod=0700',
    '[supervisord]',
    `logfile=${join(dir, 'supervisord.log')}`,
    `pidfile=${join(dir, 'supervisord.pid')}`,
    `childlogdir=${dir}`,
    'nodaemon=true',
    'loglevel=warn',
    // 3 pipes per child plus its own: raise the fd floor it checks at start.
    `minfds=${Math.max(1024, 4 * n + 256)}`,
    `minprocs=${Math.max(200, n + 100)}`,
    '[rpcinterface:supervisor]',
    'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
    '[supervisorctl]',
    `serverurl=unix://${join(dir, 'supervisor.sock')}`,
  ];
  const width = String(n).length;
  for (let i = 1; i <= n; i++)
    lines.push(
      `[program:bench${String(i).padStart(width, '0')}]`,
      `command=${argv.join(' ')}`,
      'autostart=true',
      'autorestart=true',
      'startsecs=1',
      'stdout_logfile=NONE',
      'stderr_logfile=NONE',
    );
  return `${lines.join('\n')}\n`;
}

function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (pred()) resolve();
      else if (performance.now() > until) reject(new Error(`timed out after ${timeoutMs} ms: ${what}`));
      else setTimeout(poll, 100);
    };
    poll();
  });
}

/**
 * Starts supervisord with `n` programs running `argv` and waits until all n children exist, at
 * most `startTimeoutMs` (its start is CPU-bound: 5 s for 1,000 programs on a quiet machine, over
 * 120 s on this 2-core machine at a load of 13).
 */
export async function startSupervisord(
  n: number,
  argv: readonly string[],
  startTimeoutMs = 120_000,
): Promise<Supervisord> {
  const dir = mkdtempSync(join(tmpdir(), 'lf-bench-supervisord-'));
  const conf = join(dir, 'supervisord.conf');
  writeFileSync(conf, supervisordConfig(dir, n, argv));
  const t0 = performance.now();
  let child: ChildProcess;
  try {
    child = spawn('supervisord', ['-c', conf, '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  const pid = child.pid;
  if (!spawned || pid === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      'cannot start supervisord: is the supervisor package installed? (scripts/bench.sh installs it)',
    );
  }
  let jobs: ProcSample[] = [];
  const stop = async (): Promise<void> => {
    // Its children as they are now, to clean up after a supervisord that does not stop them.
    const left = [...childrenOf(pid), ...jobs];
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    killIfSame(left);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`supervisord exited ${child.exitCode}: ${stderr}`);
        return childrenOf(pid).length >= n;
      },
      startTimeoutMs,
      `supervisord to start ${n} programs`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const allRunningMs = performance.now() - t0;
  jobs = childrenOf(pid);
  return {
    pid,
    allRunningMs,
    runningCount: () =>
      new Promise((resolve) => {
        execFile('supervisorctl', ['-c', conf, 'status'], { maxBuffer: 1 << 22 }, (_err, stdout) =>
          resolve(stdout.split('\n').filter((l) => /\sRUNNING\s/.test(l)).length),
        );
      }),
    stop,
  };
}
