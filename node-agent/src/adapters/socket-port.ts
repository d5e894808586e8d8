/**
 * The real SocketPort: the lfnative addon (bind without a libuv listener, a readability watch
 * that never accepts, a non-blocking accept) and socket-names.ts (SockNodeName and
 * SockServiceName resolution). Thrown errno errors become values here, in one place.
 */
import { mkdtemp } from 'node:fs/promises';
import type {
  HeldSocket,
  SocketBindRequest,
  SocketPort,
  SocketResult,
  SocketWatch,
} from '../ports/socket-port.ts';
import { acceptConnection, closeFd, joinMulticast, listenSocket, watchReadable } from './native-sockets.ts';
import { resolveNode, resolveService } from './socket-names.ts';

export interface NativeSocketPortOptions {
  /** The services database; default /etc/services. */
  readonly servicesFile?: string;
}

export class NativeSocketPort implements SocketPort {
  readonly #servicesFile: string | undefined;

  constructor(options: NativeSocketPortOptions = {}) {
    this.#servicesFile = options.servicesFile;
  }

  resolveService(service: string, protocol: 'tcp' | 'udp'): Promise<number | undefined> {
    return resolveService(service, protocol, this.#servicesFile);
  }

  async resolveNode(
    node: string,
    family: 'ipv4' | 'ipv6' | undefined,
  ): Promise<SocketResult<{ readonly addresses: readonly { address: string; family: 'ipv4' | 'ipv6' }[] }>> {
    try {
      return { ok: true, addresses: await resolveNode(node, family) };
    } catch (err) {
      return asError(err);
    }
  }

  bind(req: SocketBindRequest): SocketResult<{ readonly socket: HeldSocket }> {
    try {
      const socket =
        req.family === 'unix'
          ? listenSocket({
              family: 'unix',
              type: req.type,
              path: req.path,
              ...(req.mode !== undefined ? { mode: req.mode } : {}),
              ...(req.uid !== undefined ? { uid: req.uid } : {}),
              ...(req.gid !== undefined ? { gid: req.gid } : {}),
            })
          : listenSocket({
              family: req.family,
              type: req.type,
              port: req.port,
              ...(req.address !== undefined ? { address: req.address } : {}),
              ...(req.multicast ? { multicast: true } : {}),
            });
      return { ok: true, socket };
    } catch (err) {
      return asError(err);
    }
  }

  watchReadable(fd: number, onReadable: (err: Error | null) => void): SocketWatch {
    return watchReadable(fd, onReadable);
  }

  accept(fd: number): SocketResult<{ readonly fd: number | null }> {
    try {
      return { ok: true, fd: acceptConnection(fd) };
    } catch (err) {
      return asError(err);
    }
  }

  joinMulticast(fd: number, group: string, v6: boolean): SocketResult<object> {
    try {
      joinMulticast(fd, group, v6);
      return { ok: true };
    } catch (err) {
      return asError(err);
    }
  }

  async makePrivateDirectory(prefix: string): Promise<SocketResult<{ readonly path: string }>> {
    try {
      return { ok: true, path: await mkdtemp(prefix) };
    } catch (err) {
      return asError(err);
    }
  }

  close(fd: number): void {
    try {
      closeFd(fd);
    } catch {
      // EBADF: already closed; nothing else close(2) reports matters to the caller.
    }
  }
}

function asError(err: unknown): { ok: false; code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return {
    ok: false,
    code: typeof e.code === 'string' ? e.code : 'EIO',
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}
