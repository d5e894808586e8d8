// inetdCompatibility (docs/launchd-semantics.md §4.3; rows 32, 33): Wait=false runs one process per
// connection with the connection on stdin/stdout/stderr, unthrottled and capped; Wait=true hands the
// listening socket on 0/1/2. An unmodified classic inetd program from Debian (micro-httpd) serves.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipUnlessLinux } from '../support/platform.ts';
import {
  alive,
  fixture,
  freePort,
  nodeBin,
  openClient,
  request,
  startSupervisor,
  waitUntil,
  type Supervisor,
} from './sockets-harness.ts';

/** The inode of the TCP listener on 127.0.0.1:<port>, from /proc/net/tcp. */
function listenerInode(port: number): string | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const l of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f[1] === `0100007F:${hex}` && f[3] === '0A') return f[9];
  }
  return undefined;
}

/** A /bin/sh inetd program: reports its pid and fds 0-2, then echoes one line back. */
function chatFixture(dir: string): string {
  return fixture(
    dir,
    'chat.sh',
    `#!/bin/sh
echo "pid=$$ fd0=$(readlink /proc/$$/fd/0) fd1=$(readlink /proc/$$/fd/1) fd2=$(readlink /proc/$$/fd/2)"
read line
echo "bye $line"
`,
  );
}

function field(line: string, name: string): string {
  return new RegExp(`${name}=(\\S+)`).exec(line)?.[1] ?? '';
}

describe('inetdCompatibility', () => {
  let sup: Supervisor;
  before(async () => {
    sup = await startSupervisor();
  });
  after(async () => {
    await sup.stop();
  });

  test('row 32: Wait=false: two concurrent clients get two processes, each with its connection on 0, 1 and 2; no throttle', async () => {
    const port = await freePort();
    const job = chatFixture(join(sup.dir, 'r32'));
    const failure = await sup.load('t.row32', {
      ProgramArguments: [job],
      inetdCompatibility: { Wait: false },
      Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    const a = openClient({ host: '127.0.0.1', port });
    const b = openClient({ host: '127.0.0.1', port });
    const [la, lb] = await Promise.all([a.firstLine, b.firstLine]);
    const pa = Number(field(la, 'pid'));
    const pb = Number(field(lb, 'pid'));
    assert.notEqual(pa, pb, 'one process per connection');
    assert.ok(alive(pa) && alive(pb), 'both run at the same time');
    for (const l of [la, lb]) {
      assert.match(field(l, 'fd0'), /^socket:\[\d+\]$/);
      assert.equal(field(l, 'fd1'), field(l, 'fd0'));
      assert.equal(field(l, 'fd2'), field(l, 'fd0'));
    }
    assert.notEqual(field(la, 'fd0'), field(lb, 'fd0'), 'each has its own connection');
    const st = sup.status('t.row32');
    assert.equal(st.pid, undefined, 'the job itself is not running: the agent accepts on its behalf');
    assert.equal(st.inetd?.instances, 2);
    assert.equal(st.inetd?.wait, false);
    a.socket.write('a\n');
    b.socket.write('b\n');
    await waitUntil(() => a.all().includes('bye a') && b.all().includes('bye b'), 10_000, 'both answered');
    a.socket.destroy();
    b.socket.destroy();
    await waitUntil(() => sup.status('t.row32').inetd?.instances === 0, 10_000, 'instances exit');

    // ThrottleInterval is the default 10 s: five quick connections in a row prove inetd jobs are not throttled.
    const t0 = Date.now();
    for (let i = 0; i < 5; i++)
      assert.match(await request('127.0.0.1', port, `x${i}\n`), new RegExp(`bye x${i}`));
    assert.ok(Date.now() - t0 < 5000, `5 sequential connections took ${Date.now() - t0} ms`);
    assert.equal(sup.status('t.row32').inetd?.accepted, 7);
    assert.equal(sup.status('t.row32').sockets?.[0]?.activations, 7);
    await sup.domain.bootout('t.row32', { wait: true });
  });

  test('row 33: Wait=true: the program gets the listening socket on 0 and 1 (stderr keeps its path) and accepts itself; not throttled', async (ctx) => {
    if (skipUnlessLinux(ctx, 'reads the fds in /proc/<pid>/fd')) return;
    const port = await freePort();
    const dir = join(sup.dir, 'r33');
    const errPath = join(dir, 'err.log');
    const job = fixture(
      dir,
      'wait.mjs',
      `import net from 'node:net';
import { readlinkSync } from 'node:fs';
const t = (n) => readlinkSync('/proc/self/fd/' + n);
const info = 'pid=' + process.pid + ' fd0=' + t(0) + ' fd1=' + t(1) + ' fd2=' + t(2);
net.createServer((c) => { c.end(info + '\\n'); setTimeout(() => process.exit(0), 50); }).listen({ fd: 0 });
`,
    );
    const failure = await sup.load('t.row33', {
      ProgramArguments: [nodeBin, job],
      inetdCompatibility: { Wait: true },
      StandardErrorPath: errPath,
      Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    const inode = listenerInode(port);
    assert.ok(inode, 'the agent listens before any spawn');
    const first = await request('127.0.0.1', port);
    assert.equal(field(first, 'fd0'), `socket:[${inode}]`, 'fd 0 is the listening socket itself');
    assert.equal(field(first, 'fd1'), field(first, 'fd0'));
    assert.equal(field(first, 'fd2'), errPath);
    await waitUntil(() => sup.status('t.row33').pid === undefined, 10_000, 'the job exits');
    const t0 = Date.now();
    const second = await request('127.0.0.1', port);
    assert.ok(
      Date.now() - t0 < 5000,
      `relaunched after ${Date.now() - t0} ms (ThrottleInterval 10 s does not apply)`,
    );
    assert.notEqual(field(second, 'pid'), field(first, 'pid'));
    await waitUntil(() => sup.status('t.row33').runs === 2, 10_000, 'the second run ends');
    await sup.domain.bootout('t.row33', { wait: true });
  });

  test("Debian's micro-httpd, a classic inetd program, serves unmodified under Wait=false", async (t) => {
    const program = '/usr/sbin/micro-httpd';
    if (!existsSync(program)) {
      t.skip('micro-httpd is not installed (apt-get install micro-httpd; scripts/setup.sh installs it)');
      return;
    }
    const port = await freePort();
    const www = join(sup.dir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'hello.txt'), 'hello from inetd\n');
    const failure = await sup.load('t.microhttpd', {
      ProgramArguments: [program, www],
      inetdCompatibility: { Wait: false },
      Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    const get = 'GET /hello.txt HTTP/1.0\r\n\r\n';
    const replies = await Promise.all([1, 2, 3].map(() => request('127.0.0.1', port, get)));
    for (const r of replies) {
      assert.match(r, /^HTTP\/1\.0 200 /);
      assert.match(r, /hello from inetd/);
    }
    assert.match(await request('127.0.0.1', port, 'GET /missing HTTP/1.0\r\n\r\n'), /^HTTP\/1\.0 404 /);
    assert.equal(sup.status('t.microhttpd').inetd?.accepted, 4);
    await sup.domain.bootout('t.microhttpd', { wait: true });
  });
});

describe('inetdCompatibility Wait=false cap', () => {
  let sup: Supervisor;
  before(async () => {
    sup = await startSupervisor({ maxInetdInstances: 2 });
  });
  after(async () => {
    await sup.stop();
  });

  test('connections beyond the cap wait in the backlog (not refused) and are served when an instance exits', async () => {
    const port = await freePort();
    const job = chatFixture(join(sup.dir, 'cap'));
    const failure = await sup.load('t.cap', {
      ProgramArguments: [job],
      inetdCompatibility: { Wait: false },
      Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    const a = openClient({ host: '127.0.0.1', port });
    const b = openClient({ host: '127.0.0.1', port });
    await Promise.all([a.firstLine, b.firstLine]);
    const c = openClient({ host: '127.0.0.1', port });
    let cServed = false;
    void c.firstLine.then(() => (cServed = true));
    await new Promise<void>((r) => c.socket.once('connect', () => r()));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cServed, false, 'the third connection waits while two instances run');
    const st = sup.status('t.cap');
    assert.equal(st.inetd?.instances, 2);
    assert.equal(st.inetd?.maxInstances, 2);
    assert.equal(st.sockets?.[0]?.state, 'active');
    a.socket.write('done\n');
    assert.match(await c.firstLine, /^pid=\d+ /, 'served once a slot is free');
    for (const x of [a, b, c]) x.socket.destroy();
    await waitUntil(() => sup.status('t.cap').inetd?.instances === 0, 10_000, 'instances exit');
    assert.equal(sup.status('t.cap').sockets?.[0]?.state, 'watching');
    await sup.domain.bootout('t.cap', { wait: true });
  });
});
