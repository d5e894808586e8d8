import { loadAddon } from './native-build.ts';

/**
 * Typed access to the lfnative addon (node-agent/native/src/lfnative.c): sockets the agent
 * holds for launchd-style on-demand activation, as raw fds with no libuv listener (a libuv
 * listener would accept, stealing the job's connections), and a readability watch that never
 * accepts. Every fd is close-on-exec and blocking; pass them to jobs with SpawnRequest.passFds.
 *
 * Errors are thrown as Error with `code` (errno name, e.g. 'EADDRINUSE'), `errno` and `syscall`
 * for OS failures, or TypeError with code 'ERR_INVALID_ARG_VALUE' for bad options.
 */

export type SocketFamily = 'ipv4' | 'ipv6' | 'unix';
export type SocketType = 'stream' | 'dgram' | 'seqpacket';

/** Options of `listenSocket`. */
export type ListenOptions =
  | {
      readonly family: 'ipv4' | 'ipv6';
      readonly type: SocketType;
      /** Numeric address; default: any (0.0.0.0 or ::). Resolve names first (socket-names.ts). */
      readonly address?: string;
      /** 0 = an ephemeral port (read it back from the result). */
      readonly port?: number;
      /** A multicast socket: no SO_REUSEADDR (joining the group is the caller's next step). */
      readonly multicast?: boolean;
      readonly backlog?: number;
    }
  | {
      readonly family: 'unix';
      readonly type: SocketType;
      readonly path: string;
      /** SockPathMode; default 0o700 (what launchd's bind under umask 077 gives). */
      readonly mode?: number;
      /** SockPathOwner / SockPathGroup; -1 or absent = unchanged. */
      readonly uid?: number;
      readonly gid?: number;
      readonly backlog?: number;
    };

/** A bound (and, for stream/seqpacket, listening) socket. The caller owns `fd`. */
export interface BoundSocket {
  readonly fd: number;
  /** The bound numeric address and port (inet families). */
  readonly address?: string;
  readonly port?: number;
  /** The socket path (unix). */
  readonly path?: string;
}

/** Stops a readability watch; idempotent. */
export interface ReadableWatch {
  stop(): void;
}

interface LfNative {
  listen(opts: ListenOptions): BoundSocket;
  watchReadable(fd: number, cb: (err: Error | null) => void): ReadableWatch;
  close(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
  isNonBlocking(fd: number): boolean;
  pendingConnections(fd: number): number | null;
  accept(fd: number): number | null;
  joinMulticast(fd: number, group: string, v6: boolean): void;
}

let addon: LfNative | undefined;
function native(): LfNative {
  addon ??= loadAddon('lfnative') as LfNative;
  return addon;
}

/** socket + bind (+ listen for stream/seqpacket). See the addon header for the details. */
export function listenSocket(opts: ListenOptions): BoundSocket {
  return native().listen(opts);
}

/**
 * Calls `onReadable` once when `fd` becomes readable (a pending connection or datagram), then
 * stops; call again to re-arm. `onReadable(err)` reports a poll error. While armed, the fd is
 * O_NONBLOCK (libuv's doing); the original flag is restored when the watch stops, so stop
 * the watch before handing the fd to a job.
 */
export function watchReadable(fd: number, onReadable: (err: Error | null) => void): ReadableWatch {
  return native().watchReadable(fd, onReadable);
}

/** close(2) on a raw fd from listenSocket. */
export function closeFd(fd: number): void {
  native().close(fd);
}

export function setNonBlocking(fd: number, on: boolean): void {
  native().setNonBlocking(fd, on);
}

export function isNonBlocking(fd: number): boolean {
  return native().isNonBlocking(fd);
}

/** The accept-queue length of a TCP listener (Linux); null where the OS does not tell. */
export function pendingConnections(fd: number): number | null {
  return native().pendingConnections(fd);
}

/**
 * One accept(2) on a listener that never blocks (inetd Wait=false: the agent accepts for the
 * job). Null when nothing is pending. The connection fd is close-on-exec and blocking; the
 * caller owns it (closeFd).
 */
export function acceptConnection(fd: number): number | null {
  return native().accept(fd);
}

/** MulticastGroup: join `group` (a numeric address) on any interface. */
export function joinMulticast(fd: number, group: string, v6: boolean): void {
  native().joinMulticast(fd, group, v6);
}
