import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Socket, createServer, connect } from 'node:net';
import { once } from 'node:events';
import { installNatsWriteGuard, keepErrorListener, natsNodeTransport } from './nats-write-guard.ts';

/**
 * A client socket just after its server ended the connection and it ended its own side, as the
 * transport's 'end' handler does: ended, not yet destroyed (the window the crash needs).
 */
async function endedSocket(): Promise<{ socket: Socket; close: () => void }> {
  const server = createServer((s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  const socket = connect(addr.port, '127.0.0.1');
  await new Promise<void>((resolve) =>
    socket.on('end', () => {
      socket.end();
      resolve();
    }),
  );
  assert.equal(socket.writableEnded, true);
  assert.equal(socket.destroyed, false);
  return { socket, close: () => server.close() };
}

/** What the transport's _send does on such a socket: the socket's 'error' events, collected. */
async function sendOnEnded(
  send: (this: { socket?: Socket; options: object }, f: Uint8Array) => Promise<void>,
): Promise<string[]> {
  const { socket, close } = await endedSocket();
  const errors: string[] = [];
  socket.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
  try {
    await send.call({ socket, options: {} }, new TextEncoder().encode('PING\r\n')).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    socket.destroy();
    close();
  }
  return errors;
}

describe('nats-write-guard: no write to a socket the server ended', () => {
  test('unguarded, the transport writes after the end and the socket errors (what crashed agents)', async () => {
    const t = natsNodeTransport();
    assert.ok(t, 'the client has its Node transport where 3.4 keeps it');
    // This file imports only the guard's module: nothing installed it yet.
    assert.equal(Reflect.has(t.prototype, Symbol.for('launchfleet.nats-write-guard')), false);
    // An 'error' event (EPIPE, or ERR_STREAM_WRITE_AFTER_END once the end is processed): fatal
    // when the client has removed the socket's listeners by the time it comes.
    const errors = await sendOnEnded(t.prototype._send);
    assert.equal(errors.length, 1, errors.join());
    assert.ok(['EPIPE', 'ERR_STREAM_WRITE_AFTER_END'].includes(errors[0] ?? ''), errors.join());
  });

  test('guarded: the write is dropped, no error; installing twice is once', async () => {
    assert.equal(installNatsWriteGuard(), true);
    assert.equal(installNatsWriteGuard(), true);
    const t = natsNodeTransport();
    assert.ok(t);
    assert.deepEqual(await sendOnEnded(t.prototype._send), []);
  });

  test("a socket's error after its owner removed every listener is dropped, not thrown", async () => {
    const { socket, close } = await endedSocket();
    keepErrorListener(socket);
    socket.removeAllListeners();
    assert.equal(socket.listenerCount('error'), 1);
    // Unguarded this would be an uncaught 'error' event: the test process would end.
    socket.destroy(new Error('EPIPE after the close'));
    await new Promise((r) => socket.on('close', r));
    close();
  });
});
