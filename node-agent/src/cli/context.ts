/**
 * What every lfctl subcommand gets: its output streams, the caller's uid, and the control
 * client on the socket chosen from the caller's own uid (control-server.ts has the design):
 * system.sock when the caller can open it (root, or the owner of an unprivileged agent), else
 * the caller's user/<uid>.sock, else public.sock (read-only queries of the system domain).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlCallError, ControlClient } from '../control/control-client.ts';
import { socketPaths } from '../control/control-server.ts';
import type { ControlMethod, ControlMethods, WireError } from '../control/wire.ts';
import { errorString } from './error-strings.ts';

/** Exit codes of lfctl's own (not launchd's). */
export const EXIT = {
  /** EX_USAGE: bad arguments. */
  usage: 64,
  /** EX_UNAVAILABLE: the agent could not be reached. */
  unavailable: 69,
} as const;

export interface CliContext {
  readonly uid: number;
  readonly cwd: string;
  readonly runDir: string;
  /** An explicit --socket. */
  readonly socket?: string;
  /** The socket calls go to (the explicit one, or the one chosen from the caller's uid). */
  socketPath(): string;
  out(text: string): void;
  err(text: string): void;
  /** Calls the agent; a ControlCallError if it cannot be reached. */
  call<M extends ControlMethod>(
    method: M,
    req: ControlMethods[M][0],
    opts?: { wait?: boolean },
  ): Promise<ControlMethods[M][1]>;
  close(): void;
}

/** The run directory: --run-dir, LAUNCHFLEET_RUN_DIR, /var/run/launchfleet, or a development agent's. */
export function defaultRunDir(env: NodeJS.ProcessEnv, cwd: string): string {
  const e = env['LAUNCHFLEET_RUN_DIR'];
  if (e !== undefined && e !== '') return e;
  if (existsSync('/var/run/launchfleet')) return '/var/run/launchfleet';
  const dev = join(cwd, '.launchfleet', 'agent', 'run');
  return existsSync(dev) ? dev : '/var/run/launchfleet';
}

function usable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The socket `launchctl` (lfctl called by that name) uses: chosen from the uid alone, as
 * launchctl talks to "its" launchd without flags: root gets system.sock, anyone else their own
 * user/<uid>.sock, or public.sock (reads of the system domain) when they have no domain yet.
 */
export function launchctlSocket(runDir: string, uid: number): string {
  const p = socketPaths(runDir);
  if (uid === 0) return p.system;
  const mine = join(p.userDir, `${uid}.sock`);
  return existsSync(mine) ? mine : p.public;
}

/** The run directory as `launchctl`: $LAUNCHFLEET_RUN_DIR or /var/run/launchfleet (never the cwd's). */
export function launchctlRunDir(env: NodeJS.ProcessEnv): string {
  const e = env['LAUNCHFLEET_RUN_DIR'];
  return e !== undefined && e !== '' ? e : '/var/run/launchfleet';
}

/** The socket lfctl uses for a caller of `uid`. */
export function chooseSocket(runDir: string, uid: number): string {
  const p = socketPaths(runDir);
  if (usable(p.system)) return p.system;
  const mine = join(p.userDir, `${uid}.sock`);
  if (uid !== 0 && usable(mine)) return mine;
  return p.public;
}

export function makeContext(o: {
  uid: number;
  cwd: string;
  runDir: string;
  socket?: string;
  /** Called as `launchctl`: the socket comes from the uid alone (launchctlSocket). */
  asLaunchctl?: boolean;
  out: (t: string) => void;
  err: (t: string) => void;
}): CliContext {
  const pick = (): string =>
    o.socket ?? (o.asLaunchctl === true ? launchctlSocket(o.runDir, o.uid) : chooseSocket(o.runDir, o.uid));
  let client: ControlClient | undefined;
  return {
    uid: o.uid,
    cwd: o.cwd,
    runDir: o.runDir,
    ...(o.socket !== undefined ? { socket: o.socket } : {}),
    socketPath: pick,
    out: o.out,
    err: o.err,
    call(method, req, opts) {
      client ??= new ControlClient(pick());
      // Reads and quick verbs are bounded; verbs that wait for a job to exit are not.
      return client.call(method, req, opts?.wait === true ? undefined : 30_000);
    },
    close() {
      client?.close();
    },
  };
}

/**
 * `<Verb> failed: <code>: <string>` and the detail, as launchctl prints (docs/launchd-semantics.md §5.3);
 * returns the exit code.
 */
export function reportFailure(
  ctx: CliContext,
  verb: string,
  e: WireError,
  failures: readonly WireError[] = [],
): number {
  ctx.err(`${verb} failed: ${e.code}: ${errorString(e.code) ?? e.error}`);
  const details = failures.length > 0 ? failures : [e];
  for (const f of details) {
    const where = f.path ?? f.label;
    const head = failures.length > 1 ? `${f.code}: ${f.error}: ` : '';
    if (f.message !== '' && f.message !== f.error)
      ctx.err(`${where !== undefined ? `${where}: ` : ''}${head}${f.message}`);
  }
  return e.code;
}

/** An unreachable agent or a gRPC error: a clear line and EX_UNAVAILABLE. */
export function reportCallError(ctx: CliContext, e: unknown): number {
  if (e instanceof ControlCallError) {
    ctx.err(`lfctl: cannot talk to launchfleet-agent (${ctx.socketPath()}): ${e.message}`);
    if (e.grpcCode === 14)
      ctx.err(
        'lfctl: is launchfleet-agent running? (--run-dir or LAUNCHFLEET_RUN_DIR select its run directory)',
      );
    return EXIT.unavailable;
  }
  throw e;
}
