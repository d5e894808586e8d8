import type {
  ProcessExit,
  ProcessSpawner,
  SpawnFailure,
  SpawnRequest,
  SpawnResult,
  SpawnWarning,
  StdioTarget,
} from '../ports/process-spawner.ts';
import {
  buildSetupArgs,
  checkRequest,
  parseShimStatus,
  type StdioOpenFailurePolicy,
} from './exec-shim-protocol.ts';
import { onChildExit, spawnAddon } from './native-spawn-addon.ts';
import { PosixProcessSpawner } from './posix-spawner.ts';
import { signalJobGroup, signalJobProcess } from './process-spawner.ts';
import { spawnError } from './shim-follower.ts';

/** Options of the direct spawner (the same as the other spawners'). */
export interface DirectProcessSpawnerOptions {
  /**
   * docs/launchd-semantics.md §7 D11, when a StandardIn/Out/ErrorPath cannot be opened. Default 'refuse'
   * (modern).
   */
  readonly stdioOpenFailure?: StdioOpenFailurePolicy;
  /** Path of lf-exec for the requests the direct spawn leaves to the shim (see below). */
  readonly shimPath?: string;
}

/** True when the lfnative addon is built with the direct spawn (spawnJob). */
export function directSpawnAvailable(): boolean {
  try {
    const a = spawnAddon();
    return typeof a.spawnJob === 'function' && a.capabilities.direct === true;
  } catch {
    return false;
  }
}

/**
 * ProcessSpawner with one exec per start: the lfnative addon creates the job's own process
 * (clone(CLONE_VM|CLONE_VFORK) on Linux, fork elsewhere), sets it up there and execs the job
 * (node-agent/native/src/lf-direct.c). The setup is the lf-exec shim's, the same C code
 * (lf-setup.c), split so that the child makes async-signal-safe calls only: what allocates or
 * reads the account database (the environment, supplementary groups, rlimits, the PATH search
 * buffers) is prepared in the agent first. The observable behaviour is the other spawners'
 * (RealProcessSpawner's doc comment): the same fd layout, session, cwd "/", environment, status
 * records, warnings and failures, and exit reporting; the spawner contract tests run against all
 * three (test/src/integration/adapters-*.test.ts).
 *
 * What differs: `spawn` settles synchronously, inside the addon call (which returns once the
 * job has exec'd or failed, having read the status pipe to EOF), so no status socket is read on
 * the event loop; and the job's exec is the only one. A failed exec is reported with stage
 * `exec` and the errno (E2BIG for an argument the kernel refuses), as any exec failure is.
 *
 * Two requests go to the shim (PosixProcessSpawner) instead, because they need a process of
 * their own before the exec: EnableGlobbing (glob(3) allocates, which a vfork-style child must
 * not) and WaitForDebugger (the job stops itself before exec, and the agent would wait for it).
 */
export class DirectProcessSpawner implements ProcessSpawner {
  readonly #stdioPolicy: StdioOpenFailurePolicy;
  readonly #shim: PosixProcessSpawner;

  constructor(options: DirectProcessSpawnerOptions = {}) {
    this.#stdioPolicy = options.stdioOpenFailure ?? 'refuse';
    this.#shim = new PosixProcessSpawner(options);
  }

  /** Spawns done in the current macrotask, and the ones deferred past it (see `spawn`). */
  #inTurn = 0;
  #turnEnds = false;
  readonly #deferred: (() => void)[] = [];

  /**
   * At most `burstPerTurn` spawns run in one turn of the event loop; the rest wait for the next
   * turns (setImmediate), in order. A spawn blocks the thread until the job has exec'd, and a
   * boot starts every RunAtLoad job from one chain of promises: with 1,000 jobs that was one
   * 2.7 s stretch without a turn (the statuses, exits, timers and control calls of every job
   * waited behind it), and what each started job left to do (its status, the start time read
   * for the state file) piled up meanwhile and was promoted to V8's old space: the agent's peak
   * RSS (test/bench/RESULTS.md, issue 19). A lone spawn (an activation, a kickstart, a respawn)
   * runs at once, as before.
   */
  spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    if (this.#deferred.length === 0 && this.#inTurn < burstPerTurn) {
      // Counted after the fork: the count's setImmediate is not on the activation path.
      const r = this.#spawnNow(req, onExit);
      this.#countTurn();
      return r;
    }
    return new Promise((resolve, reject) => {
      this.#deferred.push(() => {
        try {
          resolve(this.#spawnNow(req, onExit));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      this.#countTurn();
    });
  }

  #countTurn(): void {
    this.#inTurn++;
    if (this.#turnEnds) return;
    this.#turnEnds = true;
    setImmediate(() => this.#nextTurn());
  }

  #nextTurn(): void {
    this.#turnEnds = false;
    this.#inTurn = 0;
    const now = this.#deferred.splice(0, burstPerTurn);
    if (this.#deferred.length > 0 || now.length > 0) {
      this.#inTurn = now.length;
      this.#turnEnds = true;
      setImmediate(() => this.#nextTurn());
    }
    for (const run of now) run();
  }

  /**
   * What a direct spawn of `req` does before the addon's call, dropped: no process, nothing kept.
   * Run at a socket job's load (job-spawn.ts `warmJobStart`) so that this code is compiled before
   * the first activation (issue 19). The shim's requests (globbing, WaitForDebugger) are left out.
   */
  warm(req: SpawnRequest): void {
    if (!req.enableGlobbing && !req.startSuspended) prepareDirectSpawn(req, this.#stdioPolicy);
  }

  #spawnNow(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    if (req.enableGlobbing || req.startSuspended) return this.#shim.spawn(req, onExit);
    const prepared = prepareDirectSpawn(req, this.#stdioPolicy);
    if (!prepared.ok) return Promise.resolve(prepared);
    const { options, envp, fds, requestWarnings } = prepared;
    let child: { readonly pid: number; readonly status: string };
    try {
      child = spawnAddon().spawnJob(options, envp, fds);
    } catch (err) {
      return Promise.resolve({ ok: false, failure: spawnError(err) });
    }
    // The status is complete (read to EOF in the addon): the spawn settles now. The child of a
    // failed setup (an F record) is reaped and its exit dropped, as the shim's is.
    const report = parseShimStatus(child.status);
    if (report.failure) return Promise.resolve({ ok: false, failure: report.failure });
    if (child.pid <= 0)
      return Promise.resolve({
        ok: false,
        failure: {
          stage: 'spawn',
          errno: 'EINVAL',
          exitStatus: 78,
          message: 'no process and no failure reported',
        },
      });
    // Held for the job's lifetime: one closure. The exit comes on a later macrotask than this
    // resolution in any case (the addon's SIGCHLD watcher); setImmediate keeps that explicit.
    onChildExit(child.pid, (e) => setImmediate(onExit, e));
    if (requestWarnings.length === 0 && report.warnings.length === 0)
      return Promise.resolve({ ok: true, pid: child.pid });
    return Promise.resolve({ ok: true, pid: child.pid, warnings: [...requestWarnings, ...report.warnings] });
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    return signalJobProcess(pid, signal);
  }

  signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    return signalJobGroup(pgid, signal);
  }
}

/** The addon's arguments for a request, or why the request cannot be spawned. Pure. */
function prepareDirectSpawn(
  req: SpawnRequest,
  stdioPolicy: StdioOpenFailurePolicy,
):
  | {
      readonly ok: true;
      readonly options: string[];
      readonly envp: string[];
      readonly fds: number[];
      readonly requestWarnings: readonly SpawnWarning[];
    }
  | { readonly ok: false; readonly failure: SpawnFailure } {
  const invalid = checkRequest(req);
  if (invalid) return { ok: false, failure: invalid };
  // The options end with "--", the program and its argv.
  const { args: options, warnings: requestWarnings } = buildSetupArgs(req, stdioPolicy);
  const env = req.env;
  const envp: string[] = [];
  for (const k of Object.keys(env)) envp.push(`${k}=${env[k] as string}`);
  const fds = [fdOf(req.stdin), fdOf(req.stdout), fdOf(req.stderr), ...req.passFds];
  return { ok: true, options, envp, fds, requestWarnings };
}

/** Spawns run in one turn of the event loop before the rest wait for the next (see `spawn`). */
const burstPerTurn = 8;

function fdOf(t: StdioTarget): number {
  // A path is opened in the child after dropping privileges; until then the stream is /dev/null (-1).
  return t.kind === 'fd' ? t.fd : -1;
}
