// On-demand sockets (docs/launchd-semantics.md §4.1, §4.2; rows 30, 31, 34): the supervisor holds the sockets
// from load, a pending connection or datagram starts the job without being accepted, the job
// checks in by group name, and nothing is lost across idle exits and relaunches. Real
// sockets on loopback, real child processes.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchActivateSocket } from '@launchfleet/node-agent/checkin';
import { formatPrint } from '@launchfleet/node-agent';
import {
  checkinModule,
  fixture,
  freePort,
  listening,
  nodeBin,
  nodeServerFixture,
  openClient,
  request,
  startSupervisor,
  udpRequest,
  waitUntil,
  type Supervisor,
} from './sockets-harness.ts';

let sup: Supervisor;
before(async () => {
  sup = await startSupervisor();
});
after(async () => {
  await sup.stop();
});

describe('socket activation (systemd protocol + launchd check-in)', () => {
  test('row 30: no family gives two fds (IPv4 and IPv6) bound before any spawn; both clients are served', async () => {
    const port = await freePort();
    const serve = nodeServerFixture(join(sup.dir, 'r30'));
    const failure = await sup.load('t.row30', {
      ProgramArguments: [nodeBin, serve, 'Listeners', '0'],
      Sockets: { Listeners: { SockServiceName: port } },
    });
    assert.equal(failure, undefined, failure?.message);
    const before = sup.status('t.row30');
    assert.equal(before.runs, 0);
    assert.equal(before.pid, undefined);
    assert.ok(
      listening(port, false) && listening(port, true),
      'the agent listens on v4 and v6 before any spawn',
    );
    assert.deepEqual(
      before.sockets?.map((s) => [s.group, s.family, s.port, s.state, s.activations]),
      [
        ['Listeners', 'ipv4', port, 'watching', 0],
        ['Listeners', 'ipv6', port, 'watching', 0],
      ],
    );

    const v4 = await request('127.0.0.1', port);
    assert.match(v4, /fds=3,4 names=Listeners:Listeners family=127\.0\.0\.1/);
    const v6 = await request('::1', port);
    assert.match(v6, /fds=3,4 names=Listeners:Listeners family=::1/);
    const pid = /pid=(\d+)/.exec(v4)?.[1];
    assert.equal(/pid=(\d+)/.exec(v6)?.[1], pid, 'one process serves both families');

    const after = sup.status('t.row30');
    assert.equal(String(after.pid), pid);
    assert.equal(after.immediateReason, 'ipc (socket)');
    assert.deepEqual(
      after.sockets?.map((s) => s.state),
      ['active', 'active'],
    );
    assert.equal(
      after.sockets?.reduce((n, s) => n + s.activations, 0),
      1,
      'one activation started the job',
    );
    assert.match(
      formatPrint(after, Date.now()),
      /Listeners: stream ipv4 127\.0\.0\.1:\d+|Listeners: stream ipv4 0\.0\.0\.0:\d+/,
    );

    await sup.domain.bootout('t.row30', { wait: true });
    assert.ok(!listening(port, false) && !listening(port, true), 'the port is closed after bootout');
  });

  test('row 31: a job that exits without accepting is relaunched at throttle pace until it serves the pending client', async () => {
    const port = await freePort();
    const dir = join(sup.dir, 'r31');
    const serve = nodeServerFixture(dir);
    const job = fixture(
      dir,
      'lazy.sh',
      `#!/bin/sh
date +%s.%N >> "${dir}/spawns"
if [ -e "${dir}/serve" ]; then exec "${nodeBin}" "${serve}" Listeners 0; fi
exit 0
`,
    );
    const failure = await sup.load('t.row31', {
      ProgramArguments: [job],
      ThrottleInterval: 2,
      Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    const client = openClient({ host: '127.0.0.1', port });
    const spawns = (): number[] =>
      existsSync(join(dir, 'spawns'))
        ? readFileSync(join(dir, 'spawns'), 'utf8').trim().split('\n').map(Number)
        : [];
    await waitUntil(() => spawns().length >= 3, 15_000, 'three launches while the connection is pending');
    const t = spawns();
    for (let i = 1; i < t.length; i++)
      assert.ok(
        (t[i] ?? 0) - (t[i - 1] ?? 0) >= 1.9,
        `spawns ${i - 1} and ${i} are ${((t[i] ?? 0) - (t[i - 1] ?? 0)).toFixed(2)} s apart (throttle 2 s)`,
      );
    await waitUntil(() => sup.status('t.row31').subState === 'spawn-scheduled', 10_000, 'throttled');
    const st = sup.status('t.row31');
    assert.deepEqual(
      st.sockets?.map((s) => s.state),
      ['paused'],
      'not watched while throttled (§4.2 job_ignore)',
    );
    assert.ok(!st.armed.includes('socket'));
    assert.equal(st.immediateReason, 'ipc (socket)');
    assert.ok(st.runs >= 2);
    writeFileSync(join(dir, 'serve'), '');
    const line = await client.firstLine;
    assert.match(
      line,
      /^pid=\d+ fds=3 names=Listeners/,
      'the connection waited in the backlog and was served',
    );
    client.socket.destroy();
    await sup.domain.bootout('t.row31', { wait: true });
  });

  test('row 34: check-in by name: ENOENT for an unknown name, EALREADY the second time, ESRCH outside a socket job', async () => {
    const port = await freePort();
    const dir = join(sup.dir, 'r34');
    const out = join(dir, 'out.json');
    const job = fixture(
      dir,
      'checkin.mjs',
      `import { execFileSync } from 'node:child_process';
import { launchActivateSocket } from ${JSON.stringify(checkinModule)};
const attempt = (n) => { try { return launchActivateSocket(n); } catch (e) { return e.code; } };
const r = {};
r.unknown = attempt('Nope');
r.first = attempt('Listeners');
r.second = attempt('Listeners');
r.other = attempt('Other');
r.child = execFileSync(process.execPath, ['--input-type=module', '-e',
  'import { launchActivateSocket as l } from ' + JSON.stringify(${JSON.stringify(checkinModule)}) +
  '; try { l("Listeners"); console.log("ok"); } catch (e) { console.log(e.code); }'], { encoding: 'utf8' }).trim();
process.stdout.write(JSON.stringify(r));
`,
    );
    const failure = await sup.load('t.row34', {
      ProgramArguments: [nodeBin, job],
      RunAtLoad: true,
      StandardOutPath: out,
      Sockets: {
        Listeners: { SockServiceName: String(port) },
        Other: { SockPathName: join(dir, 'other.sock') },
      },
    });
    assert.equal(failure, undefined, failure?.message);
    await waitUntil(
      () => existsSync(out) && readFileSync(out, 'utf8').endsWith('}'),
      15_000,
      'check-in results',
    );
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), {
      unknown: 'ENOENT',
      first: [3, 4],
      second: 'EALREADY',
      other: [5],
      child: 'ESRCH',
    });
    // The test runner itself was not started with sockets.
    assert.throws(() => launchActivateSocket('Listeners'), { code: 'ESRCH' });
    await sup.domain.bootout('t.row34', { wait: true });
  });

  test('idle exit and relaunch: sequential and concurrent connections across restarts are all answered', async () => {
    const port = await freePort();
    const serve = nodeServerFixture(join(sup.dir, 'idle'));
    const failure = await sup.load('t.idle', {
      ProgramArguments: [nodeBin, serve, 'Listeners', '150'],
      ThrottleInterval: 1,
      Sockets: {
        Listeners: { SockServiceName: String(port), SockNodeName: 'localhost', SockFamily: 'IPv4' },
      },
    });
    assert.equal(failure, undefined, failure?.message);
    const pids = new Set<string>();
    const answered = (s: string): void => {
      const pid = /^pid=(\d+) fds=3 /.exec(s)?.[1];
      assert.ok(pid, `an answer from the job, got ${JSON.stringify(s)}`);
      pids.add(pid);
    };
    // Sequential, with pauses longer than the idle timeout: each one may find the job gone.
    for (let i = 0; i < 5; i++) {
      answered(await request('127.0.0.1', port));
      await new Promise((r) => setTimeout(r, i % 2 === 0 ? 400 : 50));
    }
    // Concurrent bursts spread over the idle-exit and throttle windows.
    const all: Promise<string>[] = [];
    for (let burst = 0; burst < 6; burst++) {
      for (let k = 0; k < 5; k++) all.push(request('127.0.0.1', port));
      await new Promise((r) => setTimeout(r, 170));
    }
    for (const s of await Promise.all(all)) answered(s);
    assert.ok(pids.size >= 2, `the job exited idle and was relaunched (pids: ${[...pids].join(', ')})`);
    const st = sup.status('t.idle');
    assert.ok(st.runs >= 2, `runs = ${st.runs}`);
    assert.ok((st.sockets?.[0]?.activations ?? 0) >= pids.size - 1);
    await sup.domain.bootout('t.idle', { wait: true });
  });

  test('stop and relaunch by socket demand while clients keep connecting: every connection is answered', async () => {
    const port = await freePort();
    const serve = nodeServerFixture(join(sup.dir, 'restart'));
    const failure = await sup.load('t.restart', {
      ProgramArguments: [nodeBin, serve, 'Listeners', '0'],
      ThrottleInterval: 1,
      Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    const pids = new Set<string>();
    const all: Promise<string>[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        all.push(request('127.0.0.1', port));
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    let killed: number | undefined;
    for (let i = 0; i < 3; i++) {
      await waitUntil(
        () => ![undefined, killed].includes(sup.status('t.restart').pid),
        10_000,
        'a new instance runs',
      );
      // Let this instance take some connections, then stop it (SIGTERM: the fixture finishes
      // what it accepted and exits); the connections still queued start the next instance.
      await new Promise((res) => setTimeout(res, 500));
      killed = sup.status('t.restart').pid;
      assert.ok(sup.domain.stop('t.restart').ok);
    }
    await waitUntil(() => ![undefined, killed].includes(sup.status('t.restart').pid), 10_000, 'restarted');
    stop = true;
    await load;
    for (const s of await Promise.all(all)) {
      const pid = /^pid=(\d+) /.exec(s)?.[1];
      assert.ok(pid, `answered, got ${JSON.stringify(s)}`);
      pids.add(pid);
    }
    assert.ok(all.length > 50, `${all.length} connections`);
    assert.ok(pids.size >= 3, `several instances served (${pids.size})`);
    assert.ok(sup.status('t.restart').runs >= 3);
    await sup.domain.bootout('t.restart', { wait: true });
  });

  test('UDP: a datagram starts the job, which reads it; a datagram after its exit starts it again', async () => {
    const port = await freePort();
    const dir = join(sup.dir, 'udp');
    const job = fixture(
      dir,
      'udp.mjs',
      `import dgram from 'node:dgram';
import { launchActivateSocket } from ${JSON.stringify(checkinModule)};
for (const fd of launchActivateSocket('Echo')) {
  const u = dgram.createSocket('udp4');
  u.bind({ fd });
  u.on('message', (m, r) => {
    u.send('pong ' + process.pid + ' ' + m, r.port, r.address);
    setTimeout(() => process.exit(0), 100);
  });
}
`,
    );
    const failure = await sup.load('t.udp', {
      ProgramArguments: [nodeBin, job],
      ThrottleInterval: 1,
      Sockets: { Echo: { SockType: 'dgram', SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    assert.deepEqual(
      sup.status('t.udp').sockets?.map((s) => [s.type, s.address, s.port, s.state]),
      [['dgram', '127.0.0.1', port, 'watching']],
    );
    const first = await udpRequest('127.0.0.1', port, 'one');
    assert.match(first, /^pong \d+ one$/);
    await waitUntil(() => sup.status('t.udp').pid === undefined, 10_000, 'the job exits');
    const second = await udpRequest('127.0.0.1', port, 'two');
    assert.match(second, /^pong \d+ two$/);
    assert.notEqual(first.split(' ')[1], second.split(' ')[1]);
    assert.equal(sup.status('t.udp').sockets?.[0]?.activations, 2);
    await sup.domain.bootout('t.udp', { wait: true });
  });

  test('unix socket with SockPathMode: created with the mode before any spawn, served, and left in place at unload', async () => {
    const dir = join(sup.dir, 'unix');
    const serve = nodeServerFixture(dir);
    const path = join(dir, 'svc.sock');
    const failure = await sup.load('t.unix', {
      ProgramArguments: [nodeBin, serve, 'Local', '0'],
      Sockets: { Local: { SockPathName: path, SockPathMode: 0o660 } },
    });
    assert.equal(failure, undefined, failure?.message);
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(sup.status('t.unix').runs, 0);
    const c = openClient({ path });
    assert.match(await c.firstLine, /^pid=\d+ fds=3 names=Local/);
    c.socket.destroy();
    assert.deepEqual(
      sup.status('t.unix').sockets?.map((s) => [s.family, s.path]),
      [['unix', path]],
    );
    await sup.domain.bootout('t.unix', { wait: true });
    assert.ok(existsSync(path), '842 leaves the socket path in place at unload');
  });
});
