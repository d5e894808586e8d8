/**
 * launchd's check-in for socket-activated programs, for Node programs run by Launchfleet:
 * `launchActivateSocket(name)` is launch_activate_socket(3) (docs/launchd-semantics.md §4.2) over the systemd
 * protocol the agent speaks (docs/launchd-semantics.md §4.4): the agent passes a job's sockets at fds 3, 4,
 * ... with LISTEN_FDS (count), LISTEN_PID (the job's own pid) and LISTEN_FDNAMES (the Sockets group name
 * of each fd, so an IPv4+IPv6 group "Listeners" is "Listeners:Listeners").
 *
 * Usage in a job (import '@launchfleet/node-agent/checkin'):
 *
 *   const fds = launchActivateSocket('Listeners');          // e.g. [3, 4]
 *   for (const fd of fds) net.createServer(onConn).listen({ fd });
 *
 * Errors are thrown as LaunchActivateSocketError with `code` (and `errno`), as the C call returns:
 * - ENOENT: no socket group of that name in the job's plist (not in LISTEN_FDNAMES);
 * - ESRCH: the process was not started by the agent with sockets (no LISTEN_FDS, or LISTEN_PID
 *   is another process's: the variables were inherited from a parent);
 * - EALREADY: that name was already activated in this process (once per name per process).
 *
 * The variables are left in the environment (other names may still be activated), so a child
 * this process spawns sees them, but with the parent's LISTEN_PID: its own check-in fails
 * with ESRCH, as sd_listen_fds(3) intends.
 */
import { constants } from 'node:os';

/** First fd of the systemd protocol (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export type LaunchActivateSocketCode = 'ENOENT' | 'ESRCH' | 'EALREADY';

/** A failed check-in; `code` is one of launch_activate_socket(3)'s errors. */
export class LaunchActivateSocketError extends Error {
  override readonly name = 'LaunchActivateSocketError';
  readonly code: LaunchActivateSocketCode;
  /** The OS's errno number for `code`. */
  readonly errno: number;
  readonly socketName: string;

  constructor(code: LaunchActivateSocketCode, socketName: string, message: string) {
    super(`launch_activate_socket(${JSON.stringify(socketName)}): ${code}: ${message}`);
    this.code = code;
    this.errno = (constants.errno as Record<string, number | undefined>)[code] ?? 0;
    this.socketName = socketName;
  }
}

/** Where the check-in reads from; tests pass their own. */
export interface CheckinSource {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pid: number;
}

/** Names already activated, per source environment (the real process has one). */
const activated = new WeakMap<object, Set<string>>();

/**
 * The fds of socket group `name` (all fds whose LISTEN_FDNAMES entry equals `name`, in order).
 * Throws LaunchActivateSocketError (ENOENT, ESRCH, EALREADY).
 */
export function launchActivateSocket(
  name: string,
  source: CheckinSource = { env: process.env, pid: process.pid },
): number[] {
  const count = parseCount(source.env['LISTEN_FDS']);
  const pid = source.env['LISTEN_PID'];
  if (count === undefined || pid === undefined)
    throw new LaunchActivateSocketError(
      'ESRCH',
      name,
      'The calling process is not managed by launchd (no LISTEN_FDS/LISTEN_PID in the environment)',
    );
  if (pid !== String(source.pid))
    throw new LaunchActivateSocketError(
      'ESRCH',
      name,
      `The calling process is not managed by launchd (LISTEN_PID=${pid} is another process)`,
    );
  const names = (source.env['LISTEN_FDNAMES'] ?? '').split(':');
  const fds: number[] = [];
  for (let i = 0; i < count; i++) if (names[i] === name) fds.push(LISTEN_FDS_START + i);
  if (fds.length === 0)
    throw new LaunchActivateSocketError(
      'ENOENT',
      name,
      "The socket name specified does not exist in the caller's launchd.plist",
    );
  let done = activated.get(source.env);
  if (!done) activated.set(source.env, (done = new Set()));
  if (done.has(name))
    throw new LaunchActivateSocketError('EALREADY', name, 'The specified socket has already been activated');
  done.add(name);
  return fds;
}

/** The group names this process was given (each once, in fd order); [] if not socket-activated. */
export function listenFdNames(source: CheckinSource = { env: process.env, pid: process.pid }): string[] {
  const count = parseCount(source.env['LISTEN_FDS']);
  if (count === undefined || source.env['LISTEN_PID'] !== String(source.pid)) return [];
  const names = (source.env['LISTEN_FDNAMES'] ?? '').split(':').slice(0, count);
  return [...new Set(names.filter((n) => n !== ''))];
}

function parseCount(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,4}$/.test(v)) return undefined;
  return Number(v);
}
