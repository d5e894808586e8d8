import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import type {
  ProcessExit,
  ProcessSpawner,
  SpawnFailure,
  SpawnRequest,
  SpawnResult,
  StdioTarget,
} from '../ports/process-spawner.ts';
import {
  buildShimArgs,
  checkRequest,
  parseShimStatus,
  type StdioOpenFailurePolicy,
} from './exec-shim-protocol.ts';
import { execShimPath } from './native-build.ts';

/** Options of the real spawner. */
export interface RealProcessSpawnerOptions {
  /** SPEC §7 D11, when a StandardIn/Out/ErrorPath cannot be opened. Default 'refuse' (modern). */
  readonly stdioOpenFailure?: StdioOpenFailurePolicy;
  /** Path of lf-exec; default: node-agent/native/build/Release/lf-exec. */
  readonly shimPath?: string;
}

/** Status text beyond this is dropped: the shim writes a few short lines at most. */
const maxStatusBytes = 64 * 1024;

/**
 * ProcessSpawner over child_process.spawn of the lf-exec shim. Not the default any more: the
 * agent uses PosixProcessSpawner (posix-spawner.ts, the same shim started with posix_spawn from
 * the lfnative addon) when the addon provides it; `LAUNCHFLEET_SPAWNER=node` selects this one
 * (spawner-choice.ts).
 *
 * - The shim is spawned `detached` (a new session: the agent's terminal signals never reach
 *   jobs, and pgid == pid, as launchd's jobs are process-group leaders) with cwd "/" (launchd's
 *   cwd) and exactly the request's environment.
 * - Node places the job's stdio at 0..2 and `passFds` at 3..n; the status channel (a socketpair
 *   Node creates for a 'pipe' entry) is the next fd, which the shim marks close-on-exec.
 * - `spawn` resolves when the status channel reaches EOF: empty or warnings only = the job
 *   exec'd; an `F` line = a setup failure (the shim's own exit is then not reported). With
 *   WaitForDebugger it resolves when the shim reports it is stopping itself; an exec failure
 *   after SIGCONT then shows as an exit with the errno as exit code.
 * - `onExit` is called exactly once per successful spawn, on a later macrotask than the
 *   resolution, so the caller has recorded the pid before it learns of the exit.
 *
 * - Environment: the runtime builds the job's complete environment (the request's `env`); the
 *   shim adds only HOME, USER, LOGNAME, SHELL (from the final uid's passwd entry) and TMPDIR
 *   (/tmp) when they are absent, as launchd does with setenv(..., 0), plus LISTEN_PID/LISTEN_FDS/
 *   LISTEN_FDNAMES with `setListenPid`. Nothing of the agent's own environment is passed.
 *
 * Event-loop cost per spawn: one fork/exec in libuv (the job's own exec happens in the shim,
 * outside the agent) and one socketpair read; about 1 ms of CPU on the loop per spawn.
 */
export class RealProcessSpawner implements ProcessSpawner {
  readonly #stdioPolicy: StdioOpenFailurePolicy;
  readonly #shimPath: string | undefined;

  constructor(options: RealProcessSpawnerOptions = {}) {
    this.#stdioPolicy = options.stdioOpenFailure ?? 'refuse';
    this.#shimPath = options.shimPath;
  }

  spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    const invalid = checkRequest(req);
    if (invalid) return Promise.resolve({ ok: false, failure: invalid });
    const statusFd = 3 + req.passFds.length;
    const { args, warnings: requestWarnings } = buildShimArgs(req, statusFd, this.#stdioPolicy);
    const stdio: StdioOptions = [
      stdioEntry(req.stdin),
      stdioEntry(req.stdout),
      stdioEntry(req.stderr),
      ...req.passFds,
      'pipe',
    ];
    let child: ChildProcess;
    try {
      child = spawn(this.#shimPath ?? execShimPath(), args, {
        env: { ...req.env },
        stdio,
        detached: true,
        cwd: '/',
        argv0: 'lf-exec',
      });
    } catch (err) {
      return Promise.resolve({ ok: false, failure: spawnError(err) });
    }
    return new Promise<SpawnResult>((resolve) => {
      const status = child.stdio[statusFd] as Readable | null | undefined;
      let text = '';
      let outcome: 'pending' | 'ok' | 'failed' = 'pending';
      let exit: ProcessExit | undefined;
      let exitDelivered = false;

      const deliverExit = (): void => {
        if (outcome !== 'ok' || exit === undefined || exitDelivered) return;
        exitDelivered = true;
        const e = exit;
        setImmediate(() => onExit(e));
      };
      const finish = (result: SpawnResult): void => {
        if (outcome !== 'pending') return;
        outcome = result.ok ? 'ok' : 'failed';
        resolve(result);
        deliverExit();
      };
      const settleFromStatus = (eof: boolean): void => {
        const report = parseShimStatus(text);
        const warnings = [...requestWarnings, ...report.warnings];
        if (report.failure) finish({ ok: false, failure: report.failure });
        else if ((eof || report.suspended) && child.pid !== undefined)
          finish(warnings.length > 0 ? { ok: true, pid: child.pid, warnings } : { ok: true, pid: child.pid });
      };

      child.once('error', (err) => {
        // spawn of the shim itself failed (EAGAIN, EMFILE, a missing shim): no process exists.
        if (child.pid === undefined) finish({ ok: false, failure: spawnError(err) });
      });
      child.once('exit', (code, signal) => {
        exit = { pid: child.pid ?? 0, code: signal === null ? code : null, signal };
        deliverExit();
      });
      if (!status) {
        if (child.pid === undefined) return; // the 'error' event settles it
        finish({ ok: true, pid: child.pid });
        return;
      }
      status.setEncoding('utf8');
      status.on('data', (chunk: string) => {
        if (text.length < maxStatusBytes) text += chunk;
        settleFromStatus(false);
      });
      status.once('error', () => settleFromStatus(true));
      status.once('close', () => settleFromStatus(true));
      status.once('end', () => {
        settleFromStatus(true);
        status.destroy();
      });
    });
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    // pid <= 0 would address process groups or every process: never valid here.
    if (!Number.isInteger(pid) || pid <= 0) return false;
    return signalProcess(pid, signal);
  }

  signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    // pgid 1 would be init's group; 0 the agent's own.
    if (!Number.isInteger(pgid) || pgid <= 1) return false;
    return signalProcess(-pgid, signal);
  }
}

/** kill(2) that reports ESRCH/EPERM as false (shared by both spawners). */
export function signalProcess(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (err) {
    // ESRCH: gone. EPERM: not ours to signal (another user's process reusing the pid, or an
    // agent that is not root); either way the job cannot be signalled. Never throw into timers.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw err;
  }
}

function stdioEntry(t: StdioTarget): 'ignore' | number {
  // A path is opened by the shim after dropping privileges; until then the stream is /dev/null.
  return t.kind === 'fd' ? t.fd : 'ignore';
}

function spawnError(err: unknown): SpawnFailure {
  const e = err as NodeJS.ErrnoException;
  return {
    stage: 'spawn',
    errno: typeof e.code === 'string' ? e.code : 'EINVAL',
    exitStatus: 78,
    message: e instanceof Error ? e.message : String(err),
  };
}
