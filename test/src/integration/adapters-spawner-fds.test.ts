// No fd of the agent reaches a job, with any spawner: a job sees only 0, 1, 2 and the passed
// fds, whatever the agent holds (listening sockets, connections, files, pipes), including fds the
// agent itself inherited without close-on-exec. Also: the posix_spawn spawner reaps only its own
// children and leaves child_process's alone (both kinds running at once in one process).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  closeFd,
  listenSocket,
  PosixProcessSpawner,
  DirectProcessSpawner,
  RealProcessSpawner,
  chosenSpawnerKind,
  createProcessSpawner,
  type ProcessSpawner,
} from '@launchfleet/node-agent';
import { killAll, pidOf, request, settledFds, start, within } from './adapters-helpers.ts';
import { skipUnlessLinux } from '../support/platform.ts';

const pids = new Set<number>();
let dir = '';
let server: Server | undefined;
let client: Socket | undefined;
const rawFds: number[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lf-spawner-fds-'));
  // What an agent holds: a held listener (lfnative), a libuv server and a connection to it, a file.
  rawFds.push(listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 }).fd);
  rawFds.push(openSync(join(dir, 'agent-file'), 'w'));
  const srv = createServer();
  server = srv;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const c = connect(port, '127.0.0.1');
  client = c;
  await new Promise((r) => c.once('connect', r));
});
after(async () => {
  killAll(pids);
  client?.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  for (const fd of rawFds) closeFd(fd);
  rmSync(dir, { recursive: true, force: true });
});

const spawners: readonly (readonly [string, ProcessSpawner])[] = [
  ['DirectProcessSpawner', new DirectProcessSpawner()],
  ['PosixProcessSpawner', new PosixProcessSpawner()],
  ['RealProcessSpawner', new RealProcessSpawner()],
];

for (const [name, spawner] of spawners) {
  describe(`${name}: fds of the job`, () => {
    test('only 0, 1, 2 and the passed fds are open in the job', async () => {
      const passed = listenSocket({ family: 'ipv4', type: 'stream', address: '127.0.0.1', port: 0 });
      try {
        const s = await start(
          spawner,
          request({ program: '/bin/sleep', argv: ['sleep', '30'], passFds: [passed.fd] }),
        );
        const pid = pidOf(s.result);
        pids.add(pid);
        const fds = await settledFds(pid, 4);
        assert.deepEqual([...fds.keys()], [0, 1, 2, 3], JSON.stringify([...fds.entries()]));
        assert.match(fds.get(3) ?? '', /^socket:/);
        assert.ok(spawner.signal(pid, 'SIGKILL'));
        assert.deepEqual(await within(s.exited, 5000, 'exit'), { pid, code: null, signal: 'SIGKILL' });
      } finally {
        closeFd(passed.fd);
      }
    });
  });
}

describe('an agent that inherited fds without close-on-exec', () => {
  test('the job still gets only 0, 1, 2 (the child or lf-exec closes the rest), with every spawner', async (ctx) => {
    if (skipUnlessLinux(ctx, 'lists the fds in /proc/<pid>/fd')) return;
    const url = import.meta.resolve('@launchfleet/node-agent');
    // The agent process: fds 3 and 4 inherited from its parent (dup2'ed by libuv: no CLOEXEC).
    const script = `
      import { readdirSync } from 'node:fs';
      import { PosixProcessSpawner, RealProcessSpawner, DirectProcessSpawner } from ${JSON.stringify(url)};
      const out = {};
      for (const [name, s] of [['direct', new DirectProcessSpawner()], ['posix', new PosixProcessSpawner()], ['node', new RealProcessSpawner()]]) {
        let exited;
        const done = new Promise((r) => (exited = r));
        const req = { label: 't', program: '/bin/sleep', argv: ['sleep', '30'], searchPath: false,
          enableGlobbing: false, env: {}, softLimits: {}, hardLimits: {}, lowPriorityIO: false,
          stdin: { kind: 'null' }, stdout: { kind: 'null' }, stderr: { kind: 'null' }, passFds: [],
          setListenPid: false, startSuspended: false };
        const r = await s.spawn(req, exited);
        if (!r.ok) throw new Error(JSON.stringify(r));
        let fds = readdirSync('/proc/' + r.pid + '/fd');
        for (let i = 0; i < 200 && fds.length !== 3; i++) {
          await new Promise((res) => setTimeout(res, 10));
          fds = readdirSync('/proc/' + r.pid + '/fd');
        }
        out[name] = { agent: readdirSync('/proc/self/fd').map(Number).filter((n) => n === 3 || n === 4), job: fds.map(Number).sort((a, b) => a - b) };
        s.signal(r.pid, 'SIGKILL');
        await done;
      }
      process.stdout.write(JSON.stringify(out));
    `;
    const extra = openSync(join(dir, 'inherited'), 'w');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', extra],
    });
    closeSync(extra);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await within(
      new Promise((r) => child.once('close', r)),
      20_000,
      'the agent-like process finishes',
    );
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, { agent: number[]; job: number[] }>;
    for (const kind of ['direct', 'posix', 'node']) {
      assert.deepEqual(out[kind]?.agent, [3, 4], 'the agent process holds the inherited fds');
      assert.deepEqual(out[kind]?.job, [0, 1, 2], `${kind}: ${stdout}`);
    }
  });
});

describe('spawner choice and reaping', () => {
  test('the direct spawn is the default; LAUNCHFLEET_SPAWNER=posix|node selects a shim spawner', () => {
    assert.equal(chosenSpawnerKind({ env: {} }), 'direct');
    assert.equal(chosenSpawnerKind({ env: { LAUNCHFLEET_SPAWNER: 'posix' } }), 'posix');
    assert.equal(chosenSpawnerKind({ env: { LAUNCHFLEET_SPAWNER: 'node' } }), 'node');
    assert.equal(chosenSpawnerKind({ env: { LAUNCHFLEET_SPAWNER: 'bogus' } }), 'direct');
    assert.ok(createProcessSpawner({ env: {} }) instanceof DirectProcessSpawner);
    assert.ok(createProcessSpawner({ env: { LAUNCHFLEET_SPAWNER: 'posix' } }) instanceof PosixProcessSpawner);
    assert.ok(createProcessSpawner({ env: { LAUNCHFLEET_SPAWNER: 'node' } }) instanceof RealProcessSpawner);
  });

  test('the direct spawn needs no shim: one exec, the job itself; only EnableGlobbing and WaitForDebugger use lf-exec', async () => {
    const noShim = join(dir, 'no-such-lf-exec');
    const direct = new DirectProcessSpawner({ shimPath: noShim });
    const s = await start(direct, request({ program: '/bin/sh', argv: ['sh', '-c', 'exit 4'] }));
    assert.ok(s.result.ok, JSON.stringify(s.result));
    assert.equal((await within(s.exited, 5000, 'exit')).code, 4);
    // The same request through a spawner of the shim fails without it: the check discriminates.
    const viaShim = await new PosixProcessSpawner({ shimPath: noShim }).spawn(
      request({ program: '/bin/true', argv: ['true'] }),
      () => assert.fail('no exit'),
    );
    assert.deepEqual(viaShim.ok ? undefined : viaShim.failure.errno, 'ENOENT');
    const globbed = await direct.spawn(
      request({ program: '/bin/true', argv: ['true'], enableGlobbing: true }),
      () => assert.fail('no exit'),
    );
    assert.deepEqual(globbed.ok ? undefined : globbed.failure.errno, 'ENOENT');
  });

  test('addon children (direct and posix_spawn) and child_process children exit side by side, each reported once to its owner', async () => {
    const posix = new PosixProcessSpawner();
    const direct = new DirectProcessSpawner();
    const runs = 20;
    const jobs = Array.from({ length: runs }, (_, i) =>
      start(
        i % 2 === 0 ? direct : posix,
        request({ program: '/bin/sh', argv: ['sh', '-c', `exit ${i % 7}`] }),
      ),
    );
    const execs = Array.from(
      { length: runs },
      (_, i) =>
        new Promise<number | null>((resolve) => {
          execFile('/bin/sh', ['-c', `exit ${(i % 5) + 1}`], (err) =>
            resolve(err ? (typeof err.code === 'number' ? err.code : null) : 0),
          );
        }),
    );
    const started = await within(Promise.all(jobs), 20_000, 'posix spawns');
    const exits = await within(Promise.all(started.map((s) => s.exited)), 20_000, 'posix exits');
    assert.deepEqual(
      exits.map((e) => e.code),
      started.map((_, i) => i % 7),
    );
    assert.deepEqual(
      await within(Promise.all(execs), 20_000, 'execFile exits'),
      execs.map((_, i) => (i % 5) + 1),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      started.map((s) => s.exitCalls()),
      started.map(() => 1),
    );
  });
});
