import { constants } from 'node:os';
import type { ProcessExit } from '../ports/process-spawner.ts';
import { loadAddon } from './native-build.ts';

/**
 * The spawn part of the lfnative addon (node-agent/native/src/lf-spawn.c and lf-direct.c), shared
 * by the two spawners that use it: PosixProcessSpawner (posix_spawn of the lf-exec shim) and
 * DirectProcessSpawner (the job's own process, set up in the addon: one exec per start). The
 * addon reaps every child it started and reports each exit to one callback per process, which
 * this module owns and dispatches by pid.
 */
export interface SpawnAddon {
  /** posix_spawn of the shim (lf-spawn.c). */
  spawn(
    path: string,
    argv: readonly string[],
    envp: readonly string[],
    fds: readonly number[],
  ): { readonly pid: number; readonly statusFd: number };
  /**
   * The direct spawn (lf-direct.c): options = the shim's options, "--", program, argv. pid 0 when
   * the request failed before a process existed; status = the shim's status records, complete.
   */
  spawnJob(
    options: readonly string[],
    envp: readonly string[],
    fds: readonly number[],
  ): { readonly pid: number; readonly status: string };
  onExit(cb: (pid: number, code: number, signal: number) => void): void;
  /** kill(2) without an exception: 0, or the errno (an addon built before it has none). */
  kill?(target: number, signal: number): number;
  readonly capabilities: { readonly setsid: boolean; readonly chdir: boolean; readonly direct?: boolean };
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** Exit handlers of every live child of either spawner, by pid (one addon per process). */
const exitHandlers = new Map<number, (exit: ProcessExit) => void>();
let addon: SpawnAddon | undefined;

/** The addon, loaded once; throws NativeBuildMissingError or an Error when it has no spawn(). */
export function spawnAddon(): SpawnAddon {
  if (addon) return addon;
  const a = loadAddon('lfnative') as Partial<SpawnAddon>;
  if (typeof a.spawn !== 'function' || typeof a.onExit !== 'function' || !a.capabilities)
    throw new Error('the lfnative addon has no spawn(): rebuild it (`npm run build`)');
  a.onExit((pid, code, signal) => {
    const handler = exitHandlers.get(pid);
    if (!handler) return;
    exitHandlers.delete(pid);
    const name = signal === 0 ? null : (signalNames.get(signal) ?? 'SIGKILL');
    handler({ pid, code: name === null ? code : null, signal: name });
  });
  addon = a as SpawnAddon;
  return addon;
}

/** Calls `handler` once when the addon reaps `pid`. */
export function onChildExit(pid: number, handler: (exit: ProcessExit) => void): void {
  exitHandlers.set(pid, handler);
}

/** The addon could not be loaded: process.kill from then on. */
let noAddonKill = false;

/**
 * kill(target, signal) through the addon: true if delivered, false for ESRCH/EPERM, undefined
 * when the addon cannot answer (not built, no kill(), a signal name this OS lacks): then the
 * caller uses process.kill. Other errnos throw, as process.kill's do.
 */
export function killNoThrow(target: number, signal: NodeJS.Signals): boolean | undefined {
  if (noAddonKill) return undefined;
  let a: SpawnAddon;
  try {
    a = spawnAddon();
  } catch {
    noAddonKill = true;
    return undefined;
  }
  const signo = constants.signals[signal] as number | undefined;
  if (a.kill === undefined || signo === undefined) return undefined;
  const err = a.kill(target, signo);
  if (err === 0) return true;
  if (err === constants.errno.ESRCH || err === constants.errno.EPERM) return false;
  throw Object.assign(new Error(`kill ${target} ${signal}: errno ${err}`), { errno: err });
}
