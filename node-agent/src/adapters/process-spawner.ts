import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import type {
  ProcessExit,
  ProcessSpawner,
  SpawnRequest,
  SpawnResult,
  StdioTarget,
} from '../ports/process-spawner.ts';
import { buildShimArgs, checkRequest, type StdioOpenFailurePolicy } from './exec-shim-protocol.ts';
import { followShim, spawnError } from './shim-follower.ts';
import { execShimPath } from './native-build.ts';
import { killNoThrow } from './native-spawn-addon.ts';

/** Options of the real spawner. */
export interface RealProcessSpawnerOptions {
  /**
   * docs/launchd-semantics.md §7 D11, when a StandardIn/Out/ErrorPath cannot be opened. Default 'refuse'
   * (modern).
   */
  readonly stdioOpenFailure?: StdioOpenFailurePolicy;
  /** Path of lf-exec; default: node-agent/native/build/Release/lf-exec. */
  readonly shimPath?: string;
}

/**
 * ProcessSpawner over child_process.spawn of the lf-exec shim. Not the default any more: the
 * agent uses DirectProcessSpawner (direct-spawner.ts: the job's own process set up in the
 * lfnative addon, one exec) or PosixProcessSpawner (posix-spawner.ts: the same shim started
 * with posix_spawn) when the addon provides them; `LAUNCHFLEET_SPAWNER=node` selects this one
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
      const shimRun = followShim({ pid: () => child.pid, requestWarnings, resolve, onExit });
      child.once('error', (err) => {
        // spawn of the shim itself failed (EAGAIN, EMFILE, a missing shim): no process exists.
        if (child.pid === undefined) shimRun.finish({ ok: false, failure: spawnError(err) });
      });
      child.once('exit', (code, signal) =>
        shimRun.exited({ pid: child.pid ?? 0, code: signal === null ? code : null, signal }),
      );
      const status = child.stdio[statusFd] as Readable | null | undefined;
      if (!status) {
        if (child.pid === undefined) return; // the 'error' event settles it
        shimRun.finish({ ok: true, pid: child.pid });
        return;
      }
      shimRun.follow(status);
    });
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    return signalJobProcess(pid, signal);
  }

  signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    return signalJobGroup(pgid, signal);
  }
}

/** Signals one job process (both spawners). pid <= 0 would address groups or every process. */
export function signalJobProcess(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return signalProcess(pid, signal);
}

/** Signals a job's process group (both spawners). pgid 1 is init's group, 0 the agent's own. */
export function signalJobGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  return signalProcess(-pgid, signal);
}

/** kill(2) that reports ESRCH/EPERM as false (shared by both spawners). */
export function signalProcess(target: number, signal: NodeJS.Signals): boolean {
  // Through the addon when it is built: no ErrnoException built and thrown for the ESRCH of a
  // group already gone, which is the usual answer to the group signal after every exit.
  const native = killNoThrow(target, signal);
  if (native !== undefined) return native;
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
