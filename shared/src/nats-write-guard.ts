/**
 * A guard against a crash in the NATS client's Node transport (@nats-io/transport-node 3.4, the
 * newest release): a write to a socket whose server already ended it (a server in lame-duck mode
 * closing its clients, a broker going away) makes Node destroy the socket with
 * `ERR_STREAM_WRITE_AFTER_END` and emit that as an 'error' event a tick later. When the client
 * closes the connection in between (our close of a connection the server is ending, or its own
 * close handler), it has removed the socket's listeners by then, and the unhandled 'error'
 * event ends the process: every job's supervisor with it. Seen with 5,000 simulated agents moving
 * off servers in lame-duck mode during a rolling restart (test/bench/FLEET-RESULTS.md): the
 * agents' processes exited within seconds.
 *
 * The guard (1) drops a write to a socket that can no longer be written (ended or destroyed): the
 * bytes could not reach the server anyway, and the client learns of the close from the socket's
 * 'end' and 'close' as before; and (2) keeps an 'error' listener on each of the transport's
 * sockets after the transport removed its own, so that an error that comes after the client
 * stopped listening (an EPIPE of a write that raced the server's close) is dropped, not fatal.
 * Installed once, when the agent's link module (node-agent/src/link/node-connection.ts) or the
 * controller (controller/src/api/start-controller.ts) loads; a client whose transport does not
 * look as expected is left alone, and the process warns.
 */
import { EventEmitter } from 'node:events';
// The transport's own module, imported statically so that a bundle (the agent's single
// executable, scripts/build-agent.sh) patches the very class its connections use. A require at
// run time found no such file in the packaged agent and left it unguarded (2026-12-07).
import * as nodeTransport from '@nats-io/transport-node/lib/node_transport.js';

interface Writable {
  readonly writableEnded?: boolean;
  readonly destroyed?: boolean;
}

interface TransportPrototype {
  _send: (this: { socket?: Writable; options?: object }, frame: Uint8Array) => Promise<void>;
  connect: (this: { socket?: unknown }, ...args: unknown[]) => Promise<unknown>;
  [guarded]?: true;
}

const guarded = Symbol.for('launchfleet.nats-write-guard');

/** The transport's class, or undefined when this client has none where 3.4 keeps it. */
export function natsNodeTransport(): { prototype: TransportPrototype } | undefined {
  const t = (nodeTransport as unknown as { NodeTransport?: { prototype: Partial<TransportPrototype> } })
    .NodeTransport;
  const p = t?.prototype;
  return typeof p?._send === 'function' && typeof p.connect === 'function'
    ? (t as { prototype: TransportPrototype })
    : undefined;
}

/** Installs the guard (once) and warns when this client's transport is not the one it guards. */
export function guardNatsTransport(): void {
  if (!installNatsWriteGuard())
    process.emitWarning(
      'the NATS client transport is not the one shared/src/nats-write-guard.ts guards: not guarded',
    );
}

/** Installs the guard (once). False: the transport is not the one this guards. */
export function installNatsWriteGuard(): boolean {
  const t = natsNodeTransport();
  if (!t) return false;
  const proto = t.prototype;
  if (proto[guarded]) return true;
  const send = proto._send;
  proto._send = function (this: { socket?: Writable }, frame: Uint8Array): Promise<void> {
    const s = this.socket;
    if (s?.writableEnded === true || s?.destroyed === true) return Promise.resolve();
    return send.call(this, frame);
  };
  const connect = proto.connect;
  proto.connect = async function (this: { socket?: unknown }, ...args: unknown[]): Promise<unknown> {
    const r = await connect.apply(this, args);
    keepErrorListener(this.socket);
    return r;
  };
  proto[guarded] = true;
  return true;
}

/**
 * Makes `socket` keep a no-op 'error' listener whenever all of its listeners (or its 'error'
 * ones) are removed: what comes after its owner stopped listening is dropped, not thrown.
 */
export function keepErrorListener(socket: unknown): void {
  if (!(socket instanceof EventEmitter)) return;
  const removeAll = socket.removeAllListeners.bind(socket);
  socket.removeAllListeners = (event?: string | symbol): typeof socket => {
    removeAll(event);
    if (event === undefined || event === 'error') socket.on('error', ignore);
    return socket;
  };
}

function ignore(): void {
  // after the transport's close: nothing to do
}
