// The lfnative socket primitives on real sockets: bind/listen, watch readability without
// accepting, hand the listener to a real job at fd 3, and the errors (docs/launchd-semantics.md §4).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  closeFd,
  isNonBlocking,
  listenSocket,
  pendingConnections,
  setNonBlocking,
  watchReadable,
  nativeBuildDir,
  RealProcessSpawner,
  resolveNode,
  resolveService,
  parseServices,
} from '@launchfleet/node-agent';
import { pidOf, request, start, within } from './adapters-helpers.ts';

let dir = '';
const fds = new Set<number>();
const clients: Socket[] = [];

function own(fd: number): number {
  fds.add(fd);
  return fd;
}
function release(fd: number): void {
  fds.delete(fd);
  closeFd(fd);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lf-sockets-'));
});
after(() => {
  for (const c of clients) c.destroy();
  for (const fd of fds) closeFd(fd);
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves when the watch fires (with its argument). */
function fired(fd: number): { promise: Promise<Error | null>; stop: () => void; count: () => number } {
  let n = 0;
  let resolve: (e: Error | null) => void = () => undefined;
  const promise = new Promise<Error | null>((r) => (resolve = r));
  const w = watchReadable(fd, (err) => {
    n++;
    resolve(err);
  });
  return { promise, stop: () => w.stop(), count: () => n };
}

describe('lfnative: on-demand TCP listener handed to a job', () => {
  test('the watch fires on a pending connection without accepting it; the job accepts at fd 3 and answers', async () => {
    const sock = listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 });
    own(sock.fd);
    assert.equal(sock.address, '127.0.0.1');
    assert.ok(sock.port !== undefined && sock.port > 0);
    assert.equal(isNonBlocking(sock.fd), false, 'sockets start blocking');
    const watch = fired(sock.fd);
    assert.equal(isNonBlocking(sock.fd), true, 'uv_poll makes it non-blocking while armed');

    let answer = '';
    const client = connect({ host: '127.0.0.1', port: sock.port });
    clients.push(client);
    client.setEncoding('utf8');
    client.on('data', (d: string) => (answer += d));
    const clientDone = new Promise((r) => client.once('close', r));
    assert.equal(await within(watch.promise, 5000, 'watch fires'), null);
    assert.equal(watch.count(), 1);
    assert.equal(pendingConnections(sock.fd), 1, 'still in the accept queue: nobody accepted it');
    assert.equal(isNonBlocking(sock.fd), false, 'the flag is restored when the one-shot watch stops');
    // Still pending a while later: the agent side never accepts.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pendingConnections(sock.fd), 1);
    assert.equal(watch.count(), 1, 'one-shot');
    assert.equal(answer, '');

    const spawner = new RealProcessSpawner();
    const job = `
      const net = require('net');
      const srv = net.createServer((c) => { c.end('hello from ' + process.pid + ' LISTEN_PID=' + process.env.LISTEN_PID); srv.close(); });
      srv.listen({ fd: 3 });`;
    const s = await start(
      spawner,
      request({
        program: process.execPath,
        argv: ['node', '-e', job],
        passFds: [sock.fd],
        setListenPid: true,
        env: { PATH: '/usr/bin:/bin' },
      }),
    );
    const pid = pidOf(s.result);
    await within(clientDone, 10000, 'the client gets its answer');
    assert.equal(answer, `hello from ${pid} LISTEN_PID=${pid}`);
    assert.equal((await within(s.exited, 10000, 'job exit')).code, 0);
    // The agent still holds the listener: the port stays bound after the job exits (§4.1).
    assert.equal(pendingConnections(sock.fd), 0);
    const again = fired(sock.fd);
    const c2 = connect({ host: '127.0.0.1', port: sock.port });
    clients.push(c2);
    assert.equal(await within(again.promise, 5000, 're-armed watch fires'), null);
    c2.destroy();
    release(sock.fd);
  });

  test('IPv6 loopback listener reports its address and an ephemeral port', async (t) => {
    let sock;
    try {
      sock = listenSocket({ family: 'ipv6', type: 'stream', address: '::1', port: 0 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
        t.skip('no IPv6 loopback on this machine');
        return;
      }
      throw err;
    }
    own(sock.fd);
    assert.equal(sock.address, '::1');
    const w = fired(sock.fd);
    const c = connect({ host: '::1', port: sock.port ?? 0 });
    clients.push(c);
    assert.equal(await within(w.promise, 5000, 'v6 watch'), null);
    c.destroy();
    release(sock.fd);
  });

  test('a stopped watch never fires; stop is idempotent', async () => {
    const sock = listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 });
    own(sock.fd);
    setNonBlocking(sock.fd, true);
    const w = fired(sock.fd);
    w.stop();
    w.stop();
    assert.equal(isNonBlocking(sock.fd), true, 'restored to what it was (non-blocking here)');
    const c = connect({ host: '127.0.0.1', port: sock.port ?? 0 });
    clients.push(c);
    await new Promise((r) => c.once('connect', r));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(w.count(), 0);
    c.destroy();
    release(sock.fd);
  });
});

describe('lfnative: closing a watched fd', () => {
  test('close() stops the watch first: no callback, and a reused fd number keeps its flags', async () => {
    const sock = listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 });
    const w = fired(sock.fd);
    closeFd(sock.fd);
    const reused = listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 });
    own(reused.fd);
    assert.equal(reused.fd, sock.fd, 'the kernel reuses the lowest free fd number');
    assert.equal(isNonBlocking(reused.fd), false);
    w.stop(); // a late stop() of the closed watch must not touch the new socket
    assert.equal(isNonBlocking(reused.fd), false);
    const c = connect({ host: '127.0.0.1', port: reused.port ?? 0 });
    clients.push(c);
    await new Promise((r) => c.once('connect', r));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.count(), 0);
    c.destroy();
    release(reused.fd);
  });
});

describe('lfnative: datagram and unix sockets', () => {
  test('UDP: readable when a datagram arrives, which stays unread', async () => {
    const sock = listenSocket({ family: 'ipv4', type: 'dgram', address: '127.0.0.1', port: 0 });
    own(sock.fd);
    const w = fired(sock.fd);
    const sender = createSocket('udp4');
    sender.send('ping', sock.port ?? 0, '127.0.0.1');
    assert.equal(await within(w.promise, 5000, 'udp watch'), null);
    sender.close();
    // Unread: a new watch fires at once.
    const w2 = fired(sock.fd);
    assert.equal(await within(w2.promise, 5000, 'still readable'), null);
    release(sock.fd);
  });

  test('unix stream socket: mode bits and owner are set before anyone can connect; watch fires on connect', async () => {
    const path = join(dir, 'service.sock');
    const sock = listenSocket({ family: 'unix', type: 'stream', path, mode: 0o660, uid: 65534, gid: 65534 });
    own(sock.fd);
    assert.equal(sock.path, path);
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o7777, 0o660);
    assert.equal(st.uid, 65534);
    assert.equal(st.gid, 65534);
    const w = fired(sock.fd);
    const c = connect({ path });
    clients.push(c);
    assert.equal(await within(w.promise, 5000, 'unix watch'), null);
    c.destroy();
    // Rebinding the same path replaces the old socket (launchd unlinks it first).
    const again = listenSocket({ family: 'unix', type: 'dgram', path });
    own(again.fd);
    assert.equal(statSync(path).mode & 0o7777, 0o700, 'default mode: what bind under umask 077 gives');
    release(again.fd);
    release(sock.fd);
  });

  test('unix socket over a regular file is refused (EEXIST); the file is untouched', () => {
    const path = join(dir, 'not-a-socket');
    writeFileSync(path, 'data');
    assert.throws(
      () => listenSocket({ family: 'unix', type: 'stream', path }),
      (err: NodeJS.ErrnoException) => err.code === 'EEXIST' && err.syscall === 'bind',
    );
    assert.ok(statSync(path).isFile());
  });
});

describe('lfnative: errors are clear', () => {
  test('EADDRINUSE names the syscall and the address', () => {
    const a = listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 });
    own(a.fd);
    assert.throws(
      () => listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: a.port ?? 0 }),
      (err: NodeJS.ErrnoException) =>
        err.code === 'EADDRINUSE' &&
        err.syscall === 'bind' &&
        err.message.includes(`127.0.0.1 port ${a.port}`),
    );
    release(a.fd);
  });

  test('EACCES binding a port below 1024 as an unprivileged user', async () => {
    const script = `
      const lf = require(${JSON.stringify(join(nativeBuildDir, 'lfnative.node'))});
      try { lf.listen({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 79 }); console.log('bound'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message })); }`;
    const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, cwd: '/' });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await within(new Promise((r) => child.once('close', r)), 10000, 'child');
    const res = JSON.parse(out) as { code: string; syscall: string; message: string };
    assert.equal(res.code, 'EACCES');
    assert.equal(res.syscall, 'bind');
    assert.match(res.message, /permission denied/i);
  });

  test('bad options are TypeErrors; bad fds are EBADF', () => {
    assert.throws(
      () => listenSocket({ family: 'ipx', type: 'stream' } as never),
      (err: NodeJS.ErrnoException) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_VALUE',
    );
    assert.throws(() => listenSocket({ family: 'ipv4', type: 'stream', address: 'localhost' }), TypeError);
    assert.throws(() => listenSocket({ family: 'ipv4', type: 'stream', port: 70000 }), TypeError);
    assert.throws(
      () => closeFd(987654),
      (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.syscall === 'close',
    );
    assert.throws(
      () => watchReadable(987654, () => undefined),
      (err: NodeJS.ErrnoException) => err.code === 'EBADF',
    );
  });
});

describe('socket names', () => {
  test('service names come from /etc/services; numbers pass through; nodes resolve to numeric addresses', async () => {
    assert.equal(await resolveService('8080', 'tcp'), 8080);
    assert.equal(await resolveService('99999', 'tcp'), undefined);
    const services = join(dir, 'services');
    writeFileSync(services, '# comment\nssh\t\t22/tcp\nlf-demo 4242/udp demo-alias # x\n');
    assert.equal(await resolveService('ssh', 'tcp', services), 22);
    assert.equal(await resolveService('demo-alias', 'udp', services), 4242);
    assert.equal(await resolveService('lf-demo', 'tcp', services), undefined);
    assert.equal(parseServices('bad line\nx 70000/tcp\n', 'tcp').size, 0);
    assert.deepEqual(await resolveNode('127.0.0.1'), [{ address: '127.0.0.1', family: 'ipv4' }]);
    assert.deepEqual(await resolveNode('::1', 'ipv4'), []);
    const local = await resolveNode('localhost', 'ipv4');
    assert.ok(local.some((a) => a.address === '127.0.0.1'));
  });
});
