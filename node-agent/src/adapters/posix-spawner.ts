import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
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
import { onChildExit, spawnAddon, type SpawnAddon } from './native-spawn-addon.ts';
import { signalJobGroup, signalJobProcess } from './process-spawner.ts';

/** Options of the posix_spawn spawner (the same as RealProcessSpawner's). */
export interface PosixProcessSpawnerOptions {
  /**
   * docs/launchd-semantics.md §7 D11, when a StandardIn/Out/ErrorPath cannot be opened. Default 'refuse'
   * (modern).
   */
  readonly stdioOpenFailure?: StdioOpenFailurePolicy;
  /** Path of lf-exec; default: node-agent/native/build/Release/lf-exec. */
  readonly shimPath?: string;
}

/** True when the lfnative addon is built and has spawn() (then PosixProcessSpawner works). */
export function posixSpawnAvailable(): boolean {
  try {
    spawnAddon();
    return true;
  } catch {
    return false;
  }
}

/**
 * ProcessSpawner over posix_spawn of the lf-exec shim, from the lfnative addon. The observable
 * behaviour is RealProcessSpawner's (read its doc comment): the same shim, arguments, status
 * protocol, fd layout, session, cwd "/", environment and exit reporting. What differs is how the
 * shim is started:
 *
 * - child_process.spawn (libuv 1.46) fork()s the whole agent and blocks the event loop until
 *   the child execs, about 1-2 ms per spawn at 100 MB RSS and much more on a loaded machine
 *   (test/bench/RESULTS.md). glibc's posix_spawn is clone(CLONE_VM|CLONE_VFORK): no page-table
 *   copy; the loop waits only until the shim has exec'd.
 * - The addon builds the fd map (stdio at 0..2, passFds at 3..n, the status socketpair next)
 *   without collisions, starts a new session (POSIX_SPAWN_SETSID), resets every signal to its
 *   default and empties the mask (SETSIGDEF, SETSIGMASK) and sets cwd "/" (addchdir_np). Where
 *   the platform lacks SETSID or addchdir_np, lf-exec does it (--setsid, --reset-cwd).
 * - libuv does not know these children: the addon reaps them itself on SIGCHLD with
 *   waitpid(pid, WNOHANG) for each pid it started (never waitpid(-1), so the children of
 *   child_process are not stolen, and libuv's per-pid waitpid does not steal ours).
 *
 * Event-loop cost per spawn: the posix_spawn call (the shim's exec in the vforked child), one
 * socketpair read and one SIGCHLD scan over the live children.
 */
export class PosixProcessSpawner implements ProcessSpawner {
  readonly #stdioPolicy: StdioOpenFailurePolicy;
  readonly #shimPath: string | undefined;

  constructor(options: PosixProcessSpawnerOptions = {}) {
    this.#stdioPolicy = options.stdioOpenFailure ?? 'refuse';
    this.#shimPath = options.shimPath;
  }

  spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    const invalid = checkRequest(req);
    if (invalid) return Promise.resolve({ ok: false, failure: invalid });
    let native: SpawnAddon;
    let shim: string;
    try {
      native = spawnAddon();
      shim = this.#shimPath ?? execShimPath();
    } catch (err) {
      return Promise.resolve({ ok: false, failure: spawnError(err) });
    }
    const statusFd = 3 + req.passFds.length;
    const built = buildShimArgs(req, statusFd, this.#stdioPolicy);
    const requestWarnings = built.warnings;
    const extra: string[] = [];
    if (!native.capabilities.setsid) extra.push('--setsid');
    if (!native.capabilities.chdir) extra.push('--reset-cwd');
    const argv = ['lf-exec', ...extra, ...built.args];
    const envp = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const fds = [fdOf(req.stdin), fdOf(req.stdout), fdOf(req.stderr), ...req.passFds];
    let child: { readonly pid: number; readonly statusFd: number };
    try {
      child = native.spawn(shim, argv, envp, fds);
    } catch (err) {
      return Promise.resolve({ ok: false, failure: spawnError(err) });
    }
    const pid = child.pid;
    return new Promise<SpawnResult>((resolve) => {
      const shimRun = followShim({ pid: () => pid, requestWarnings, resolve, onExit });
      // The shim's exit after a failure (F line) is reaped and dropped, as with child_process.
      onChildExit(pid, (e) => shimRun.exited(e));
      let status: Socket;
      try {
        status = new Socket({ fd: child.statusFd, readable: true, writable: false });
      } catch {
        // Cannot read the channel (should not happen for a fresh socketpair): the shim runs.
        closeQuietly(child.statusFd);
        shimRun.finish({ ok: true, pid });
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

function fdOf(t: StdioTarget): number {
  // A path is opened by the shim after dropping privileges; until then the stream is /dev/null (-1).
  return t.kind === 'fd' ? t.fd : -1;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing more to do
  }
}
