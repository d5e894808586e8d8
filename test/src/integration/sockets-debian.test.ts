// An unmodified socket-activated daemon from Debian's packages under the supervisor: lighttpd
// with `server.systemd-socket-activation = "enable"` takes the agent's listener from
// LISTEN_FDS/LISTEN_PID (docs/launchd-semantics.md §4.4) and serves; the connection that started it is not
// lost.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort,
  listening,
  request,
  startSupervisor,
  waitUntil,
  type Supervisor,
} from './sockets-harness.ts';

const lighttpd = '/usr/sbin/lighttpd';

let sup: Supervisor;
before(async () => {
  sup = await startSupervisor();
});
after(async () => {
  await sup.stop();
});

describe('systemd-protocol daemons from Debian, unmodified', () => {
  test('lighttpd is started by the first connection, serves it from the backlog, and stops at bootout', async (t) => {
    if (!existsSync(lighttpd)) {
      t.skip('lighttpd is not installed (apt-get install lighttpd; scripts/setup.sh installs it)');
      return;
    }
    const port = await freePort();
    const dir = join(sup.dir, 'lighttpd');
    const www = join(dir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'hello.txt'), 'hello from lighttpd\n');
    const conf = join(dir, 'lighttpd.conf');
    writeFileSync(
      conf,
      [
        `server.document-root = "${www}"`,
        `server.bind = "127.0.0.1"`,
        `server.port = ${port}`,
        `server.systemd-socket-activation = "enable"`,
        `server.errorlog = "${join(dir, 'error.log')}"`,
        `mimetype.assign = (".txt" => "text/plain")`,
        '',
      ].join('\n'),
    );
    const failure = await sup.load('t.lighttpd', {
      ProgramArguments: [lighttpd, '-D', '-f', conf],
      Sockets: { Listeners: { SockServiceName: port, SockNodeName: '127.0.0.1', SockFamily: 'IPv4' } },
    });
    assert.equal(failure, undefined, failure?.message);
    assert.ok(listening(port, false), 'the agent holds the port before lighttpd runs');
    assert.equal(sup.status('t.lighttpd').runs, 0);
    assert.equal(sup.status('t.lighttpd').pid, undefined);

    const first = await request('127.0.0.1', port, 'GET /hello.txt HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(first, /^HTTP\/1\.0 200 OK/);
    assert.match(first, /hello from lighttpd/);
    const st = sup.status('t.lighttpd');
    assert.ok(st.pid !== undefined, 'lighttpd runs');
    assert.equal(st.immediateReason, 'ipc (socket)');
    assert.deepEqual(
      st.sockets?.map((s) => [s.state, s.activations]),
      [['active', 1]],
    );
    // Further requests go to the same lighttpd, which now owns accept().
    const replies = await Promise.all(
      [1, 2, 3].map(() => request('127.0.0.1', port, 'GET /hello.txt HTTP/1.0\r\n\r\n')),
    );
    for (const r of replies) assert.match(r, /hello from lighttpd/);
    assert.equal(sup.status('t.lighttpd').pid, st.pid);
    assert.equal(sup.status('t.lighttpd').runs, 0);

    await sup.domain.bootout('t.lighttpd', { wait: true });
    await waitUntil(() => !listening(port, false), 5000, 'the port is closed after bootout');
  });
});
