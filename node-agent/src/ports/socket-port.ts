/**
 * Port: the sockets the agent holds for launchd-style on-demand activation (docs/launchd-semantics.md §4), as
 * raw fds with no listener of the agent's own on them, so that the job (not the agent) accepts.
 * The only code that calls it is the socket manager (node-agent/src/supervisor/sockets/).
 * Real adapter: node-agent/src/adapters/socket-port.ts over the lfnative addon and
 * socket-names.ts. Errors are values: `{ ok: false, code, message }` with an errno name.
 */

/** What to bind: an inet address and port, or a unix path. */
export type SocketBindRequest =
  | {
      readonly family: 'ipv4' | 'ipv6';
      readonly type: 'stream' | 'dgram' | 'seqpacket';
      /** A numeric address; undefined = the wildcard (0.0.0.0 or ::). */
      readonly address?: string;
      readonly port: number;
      /** MulticastGroup sockets get no SO_REUSEADDR. */
      readonly multicast?: boolean;
    }
  | {
      readonly family: 'unix';
      readonly type: 'stream' | 'dgram' | 'seqpacket';
      readonly path: string;
      /** SockPathMode; undefined = 0700 (launchd's bind under umask 077). */
      readonly mode?: number;
      readonly uid?: number;
      readonly gid?: number;
    };

/** A bound (and, for stream/seqpacket, listening) socket; the caller owns `fd`. */
export interface HeldSocket {
  readonly fd: number;
  /** The bound numeric address and port (inet). */
  readonly address?: string;
  readonly port?: number;
  /** The socket path (unix). */
  readonly path?: string;
}

/** An OS or resolver error as a value. */
export interface SocketError {
  readonly ok: false;
  /** errno name or resolver code: 'EADDRINUSE', 'EACCES', 'ENOTFOUND', ... */
  readonly code: string;
  readonly message: string;
}

export type SocketResult<T> = ({ readonly ok: true } & T) | SocketError;

/** Stops a readability watch; idempotent. */
export interface SocketWatch {
  stop(): void;
}

export interface SocketPort {
  /** SockServiceName: a decimal port, or a name from the services database; undefined if unknown. */
  resolveService(service: string, protocol: 'tcp' | 'udp'): Promise<number | undefined>;
  /** SockNodeName: every address, like getaddrinfo (launchd binds one socket per result). */
  resolveNode(
    node: string,
    family: 'ipv4' | 'ipv6' | undefined,
  ): Promise<SocketResult<{ readonly addresses: readonly { address: string; family: 'ipv4' | 'ipv6' }[] }>>;
  /** socket + bind (+ listen for stream/seqpacket). The fd is close-on-exec and blocking. */
  bind(req: SocketBindRequest): SocketResult<{ readonly socket: HeldSocket }>;
  /**
   * Calls `onReadable` once when `fd` has a pending connection or datagram, without accepting or
   * reading; then the watch is over (arm again for more). The fd's blocking flag is restored
   * when the watch stops, so stop it before handing the fd to a job.
   */
  watchReadable(fd: number, onReadable: (err: Error | null) => void): SocketWatch;
  /** One accept that never blocks (inetd Wait=false); null when nothing is pending. */
  accept(fd: number): SocketResult<{ readonly fd: number | null }>;
  /** MulticastGroup: join the group on any interface. */
  joinMulticast(fd: number, group: string, v6: boolean): SocketResult<object>;
  /** SecureSocketWithKey: a fresh 0700 directory (mkdtemp) under `prefix`, e.g. /tmp/launch-. */
  makePrivateDirectory(prefix: string): Promise<SocketResult<{ readonly path: string }>>;
  /** close(2); never throws. */
  close(fd: number): void;
}
