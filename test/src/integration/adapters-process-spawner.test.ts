// The spawner contract on real processes: every SpawnRequest field, read back from /proc of the
// running job or from what it wrote. Run against every spawner: DirectProcessSpawner (the job's
// own process set up in the lfnative addon, one exec: the agent's default), PosixProcessSpawner
// (posix_spawn of lf-exec, LAUNCHFLEET_SPAWNER=posix) and RealProcessSpawner (child_process.spawn
// of lf-exec, LAUNCHFLEET_SPAWNER=node). Sections (§), rows and D numbers are those of
// docs/launchd-semantics.md.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  RealProcessSpawner,
  PosixProcessSpawner,
  DirectProcessSpawner,
  type StdioOpenFailurePolicy,
  type ProcessExit,
  type ProcessSpawner,
  execShimPath,
} from '@launchfleet/node-agent';
import {
  execed,
  killAll,
  pidOf,
  procArgv,
  procEnviron,
  settledFds,
  procStat,
  procStatus,
  request,
  start,
  waitUntil,
  within,
} from './adapters-helpers.ts';
import { skipUnlessLinux } from '../support/platform.ts';

type Make = (o?: { readonly stdioOpenFailure?: StdioOpenFailurePolicy }) => ProcessSpawner;
const spawners: readonly (readonly [string, Make])[] = [
  ['DirectProcessSpawner', (o) => new DirectProcessSpawner(o)],
  ['PosixProcessSpawner', (o) => new PosixProcessSpawner(o)],
  ['RealProcessSpawner', (o) => new RealProcessSpawner(o)],
];
const pids = new Set<number>();

function track(pid: number): number {
  pids.add(pid);
  return pid;
}

after(() => killAll(pids));

for (const [name, make] of spawners) contract(name, make);

function contract(name: string, make: Make): void {
  const spawner = make();
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lf-spawner-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe(`${name}: what the job gets`, () => {
    test('argv and environment are exactly the request; only fds 0-2 are open; nothing of the agent leaks', async (ctx) => {
      if (skipUnlessLinux(ctx, 'reads the job through /proc/<pid>')) return;
      process.env.LF_AGENT_SECRET = 'must-not-leak';
      const env = {
        PATH: '/usr/bin:/bin',
        HOME: '/nonexistent-home',
        USER: 'someone',
        LOGNAME: 'someone',
        SHELL: '/bin/false',
        TMPDIR: '/var/tmp',
        'WITH SPACE': 'a b=c',
        EMPTY: '',
      };
      const s = await start(spawner, request({ program: '/bin/sleep', argv: ['sleep', '30'], env }));
      const pid = track(pidOf(s.result));
      await execed(pid);
      assert.deepEqual(procEnviron(pid), env);
      assert.deepEqual(procArgv(pid), ['sleep', '30']);
      const fds = await settledFds(pid, 3);
      assert.deepEqual([...fds.keys()], [0, 1, 2], JSON.stringify([...fds.entries()]));
      assert.equal(fds.get(0), '/dev/null');
      assert.equal(readlinkSync(`/proc/${pid}/cwd`), '/', 'launchd jobs start in /');
      // Node ignores SIGPIPE; the job must start with default dispositions and nothing blocked.
      assert.equal(procStatus(pid).SigIgn, '0000000000000000');
      assert.equal(procStatus(pid).SigBlk, '0000000000000000');
      assert.ok(spawner.signal(pid, 'SIGKILL'));
      const exit = await within(s.exited, 5000, 'exit');
      assert.deepEqual(exit, { pid, code: null, signal: 'SIGKILL' });
      // argv[0] is free, and elements may be empty or contain spaces (anything but NUL).
      const weird = ['sleeper', '-c', 'sleep 30; :', 'x y', ''];
      const t = await start(spawner, request({ program: '/bin/sh', argv: weird, env }));
      const pid2 = track(pidOf(t.result));
      await execed(pid2);
      assert.deepEqual(procArgv(pid2), weird);
      assert.ok(spawner.signalGroup(pid2, 'SIGKILL'), 'sh and its sleep child');
      await within(t.exited, 5000, 'exit');
      delete process.env.LF_AGENT_SECRET;
    });

    test('HOME, USER, LOGNAME, SHELL and TMPDIR are filled in only when absent', async () => {
      const s = await start(
        spawner,
        request({ program: '/bin/sleep', argv: ['sleep', '30'], env: { USER: 'kept' } }),
      );
      const pid = track(pidOf(s.result));
      await execed(pid);
      const env = procEnviron(pid);
      assert.equal(env.USER, 'kept');
      assert.equal(env.HOME, '/root');
      assert.equal(env.LOGNAME, 'root');
      assert.equal(env.TMPDIR, '/tmp');
      assert.ok(env.SHELL !== undefined && env.SHELL.startsWith('/'));
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('the shim closes every inherited fd above the passed ones (agent fds never reach the job)', async () => {
      // Drive lf-exec directly with a stray inherited fd at 5 that the agent would never pass.
      const stray = openSync(join(dir, 'stray'), 'w');
      const child = spawn(execShimPath(), ['--status-fd=3', '--nfds=0', '--', '/bin/sleep', 'sleep', '30'], {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'ignore', stray],
        detached: true,
      });
      closeSync(stray);
      const pid = track(child.pid ?? 0);
      const status = child.stdio[3];
      assert.ok(status);
      let text = '';
      status.on('data', (d: Buffer) => (text += d.toString()));
      await within(new Promise((r) => status.once('close', r)), 5000, 'status channel closed at exec');
      assert.equal(text, '');
      const fds = await settledFds(pid, 3);
      assert.deepEqual([...fds.keys()], [0, 1, 2], JSON.stringify([...fds.entries()]));
      child.kill('SIGKILL');
    });

    test('the shim refuses to run without its status channel, and reports bad options', async () => {
      const bare = spawn(execShimPath(), ['--', '/bin/true', 'true'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      bare.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise((r) => bare.once('close', r));
      assert.equal(code, 78);
      assert.match(err, /status-fd/);
      const bad = spawn(execShimPath(), ['--status-fd=3', '--bogus', '--', '/bin/true', 'true'], {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      });
      let text = '';
      bad.stdio[3]?.on('data', (d: Buffer) => (text += d.toString()));
      const code2 = await new Promise((r) => bad.once('close', r));
      assert.equal(code2, 78);
      assert.match(text, /^F\targs\t22\t78\tbad option --bogus\n$/);
    });
  });

  describe(`${name}: program lookup (§7 D16)`, () => {
    test('an absolute Program is exec-ed without PATH search; a bare name is searched in the final PATH', async () => {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      const out = join(dir, 'lookup.out');
      writeFileSync(join(bin, 'lf-hello'), `#!/bin/sh\necho found-by-path "$@" >> ${out}\n`);
      chmodSync(join(bin, 'lf-hello'), 0o755);
      const env = { PATH: `/usr/bin:/bin:${bin}` };
      const viaPath = await start(
        spawner,
        request({ program: 'lf-hello', argv: ['lf-hello', 'a'], searchPath: true, env }),
      );
      assert.equal((await within(viaPath.exited, 5000, 'exit')).code, 0);
      assert.equal(readFileSync(out, 'utf8'), 'found-by-path a\n');
      // The agent's own PATH does not matter: the job's PATH lacks bin/, so the lookup fails.
      const notInPath = await spawner.spawn(
        request({
          program: 'lf-hello',
          argv: ['lf-hello'],
          searchPath: true,
          env: { PATH: '/usr/bin:/bin' },
        }),
        () => assert.fail('no exit for a failed spawn'),
      );
      assert.equal(notInPath.ok, false);
      assert.equal(!notInPath.ok && notInPath.failure.errno, 'ENOENT');
      // Without searchPath a bare name is a path relative to "/": not found.
      const noSearch = await spawner.spawn(request({ program: 'lf-hello', argv: ['lf-hello'], env }), () =>
        assert.fail('no exit for a failed spawn'),
      );
      assert.deepEqual(noSearch.ok ? undefined : [noSearch.failure.stage, noSearch.failure.errno], [
        'exec',
        'ENOENT',
      ]);
    });

    test('a missing program is a spawn failure with the errno as exit status (842), never an exit', async () => {
      let exits = 0;
      const r = await spawner.spawn(
        request({ program: join(dir, 'no-such-program'), argv: ['x'] }),
        () => exits++,
      );
      assert.deepEqual(r.ok ? undefined : { ...r.failure, message: undefined }, {
        stage: 'exec',
        errno: 'ENOENT',
        exitStatus: 2,
        message: undefined,
      });
      assert.match(r.ok ? '' : r.failure.message, /no-such-program/);
      const notExec = join(dir, 'not-executable');
      writeFileSync(notExec, '#!/bin/sh\n');
      chmodSync(notExec, 0o644);
      const r2 = await spawner.spawn(request({ program: notExec, argv: ['x'] }), () => exits++);
      assert.equal(r2.ok ? '' : r2.failure.errno, 'EACCES');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(exits, 0);
    });

    test('a request that cannot be passed to the OS is refused as a value, not a throw', async () => {
      const r = await spawner.spawn(
        request({ program: '/bin/true', argv: ['true', 'a\0b'] }),
        () => undefined,
      );
      assert.equal(r.ok ? '' : r.failure.stage, 'request');
      const r2 = await spawner.spawn(request({ program: '/bin/true', argv: [] }), () => undefined);
      assert.equal(r2.ok, false);
      const r3 = await spawner.spawn(
        request({ program: '/bin/true', argv: ['true'], env: { 'A=B': 'x' } }),
        () => undefined,
      );
      assert.equal(r3.ok, false);
      // The OS refuses an argument over MAX_ARG_STRLEN: the shim cannot even start; the direct
      // spawn's one exec (the job's) fails, reported as an exec failure (842: errno as status).
      const r4 = await spawner.spawn(
        request({ program: '/bin/true', argv: ['true', 'x'.repeat(200_000)] }),
        () => assert.fail('no exit'),
      );
      assert.deepEqual(r4.ok ? undefined : [r4.failure.stage, r4.failure.errno], [
        name === 'DirectProcessSpawner' ? 'exec' : 'spawn',
        'E2BIG',
      ]);
    });
  });

  describe(`${name}: process context`, () => {
    test('WorkingDirectory is the cwd; a missing one is a warning and the job still runs in /', async (ctx) => {
      if (skipUnlessLinux(ctx, 'reads the cwd through /proc/<pid>/cwd')) return;
      const s = await start(
        spawner,
        request({ program: '/bin/sleep', argv: ['sleep', '30'], workingDirectory: dir }),
      );
      const pid = track(pidOf(s.result));
      assert.equal(readlinkSync(`/proc/${pid}/cwd`), dir);
      spawner.signal(pid, 'SIGKILL');
      const missing = join(dir, 'missing-cwd');
      const m = await start(
        spawner,
        request({ program: '/bin/sleep', argv: ['sleep', '30'], workingDirectory: missing }),
      );
      const pid2 = track(pidOf(m.result));
      assert.ok(m.result.ok);
      assert.deepEqual(
        m.result.warnings?.map((w) => [w.stage, w.errno]),
        [['cwd', 'ENOENT']],
      );
      assert.equal(readlinkSync(`/proc/${pid2}/cwd`), '/');
      spawner.signal(pid2, 'SIGKILL');
      await within(Promise.all([s.exited, m.exited]), 5000, 'exits');
    });

    test('Umask, Nice and LowPriorityIO are applied', async (ctx) => {
      if (skipUnlessLinux(ctx, 'ionice and /proc')) return;
      const s = await start(
        spawner,
        request({ program: '/bin/sleep', argv: ['sleep', '30'], umask: 0o027, nice: 7, lowPriorityIO: true }),
      );
      const pid = track(pidOf(s.result));
      assert.equal(s.result.ok && s.result.warnings, undefined);
      assert.equal(procStatus(pid).Umask, '0027');
      assert.equal(procStat(pid)[16], '7', 'nice field of /proc/pid/stat');
      const ionice = spawn('ionice', ['-p', String(pid)]);
      let io = '';
      ionice.stdout.on('data', (d: Buffer) => (io += d.toString()));
      await new Promise((r) => ionice.once('close', r));
      assert.match(io, /idle/);
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('rlimits replace only the given half; an invalid value is a warning', async (ctx) => {
      if (skipUnlessLinux(ctx, 'reads /proc/<pid>/limits')) return;
      const s = await start(
        spawner,
        request({
          program: '/bin/sleep',
          argv: ['sleep', '30'],
          softLimits: { NumberOfFiles: 256, Core: 0, CPU: -1 },
          hardLimits: { NumberOfFiles: 512, FileSize: 1048576 },
        }),
      );
      const pid = track(pidOf(s.result));
      const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
      const row = (name: string): string[] =>
        (limits.split('\n').find((l) => l.startsWith(name)) ?? '').slice(26).trim().split(/\s+/);
      assert.deepEqual(row('Max open files').slice(0, 2), ['256', '512']);
      assert.equal(row('Max core file size')[0], '0');
      const before = readFileSync('/proc/self/limits', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Max file size'));
      assert.ok(before?.includes('unlimited'));
      assert.deepEqual(
        row('Max file size').slice(0, 2),
        ['1048576', '1048576'],
        'soft is clamped to the new hard',
      );
      assert.ok(s.result.ok);
      assert.deepEqual(
        s.result.warnings?.map((w) => w.stage),
        ['rlimit'],
      );
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('StandardOutPath is created 0666 & ~umask and appended across runs; StandardErrorPath too (rows 43)', async () => {
      const out = join(dir, 'logs', 'out.log');
      const err = join(dir, 'logs', 'err.log');
      mkdirSync(dirname(out), { recursive: true });
      for (const n of [1, 2]) {
        const s = await start(
          spawner,
          request({
            program: '/bin/sh',
            argv: ['sh', '-c', `echo out${n}; echo err${n} >&2`],
            umask: 0o022,
            stdout: { kind: 'path', path: out },
            stderr: { kind: 'path', path: err },
          }),
        );
        assert.equal((await within(s.exited, 5000, 'exit')).code, 0);
      }
      assert.equal(readFileSync(out, 'utf8'), 'out1\nout2\n');
      assert.equal(readFileSync(err, 'utf8'), 'err1\nerr2\n');
      assert.equal(statSync(out).mode & 0o777, 0o644);
      const s = await start(
        spawner,
        request({
          program: '/bin/true',
          argv: ['true'],
          umask: 0o077,
          stdout: { kind: 'path', path: join(dir, 'logs', 'private') },
        }),
      );
      await within(s.exited, 5000, 'exit');
      assert.equal(statSync(join(dir, 'logs', 'private')).mode & 0o777, 0o600);
    });

    test('StandardInPath is read from; a missing one fails the spawn', async () => {
      const input = join(dir, 'input.txt');
      const output = join(dir, 'copied.txt');
      writeFileSync(input, 'from stdin\n');
      const s = await start(
        spawner,
        request({
          program: '/bin/cat',
          argv: ['cat'],
          stdin: { kind: 'path', path: input },
          stdout: { kind: 'path', path: output },
        }),
      );
      assert.equal((await within(s.exited, 5000, 'exit')).code, 0);
      assert.equal(readFileSync(output, 'utf8'), 'from stdin\n');
      const r = await spawner.spawn(
        request({ program: '/bin/cat', argv: ['cat'], stdin: { kind: 'path', path: join(dir, 'no-input') } }),
        () => undefined,
      );
      assert.deepEqual(r.ok ? undefined : [r.failure.stage, r.failure.errno, r.failure.exitStatus], [
        'stdin',
        'ENOENT',
        78,
      ]);
      // A FIFO never hangs the spawn: stdin opens at once; stdout with no reader is ENXIO.
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const f = await within(
        start(spawner, request({ program: '/bin/cat', argv: ['cat'], stdin: { kind: 'path', path: fifo } })),
        5000,
        'spawn with a FIFO as stdin',
      );
      assert.ok(f.result.ok);
      assert.equal((await within(f.exited, 5000, 'cat sees EOF')).code, 0);
      const w = await within(
        spawner.spawn(
          request({ program: '/bin/true', argv: ['true'], stdout: { kind: 'path', path: fifo } }),
          () => assert.fail('no exit'),
        ),
        5000,
        'spawn with a FIFO as stdout',
      );
      assert.deepEqual(w.ok ? undefined : [w.failure.stage, w.failure.errno], ['stdout', 'ENXIO']);
    });

    test('an unopenable StandardOutPath: modern refuses with 78, 842 mode warns and runs (§7 D11)', async () => {
      const bad = join(dir, 'no-such-dir', 'out.log');
      const asDir = join(dir, 'a-directory');
      mkdirSync(asDir);
      const req = (path: string) =>
        request({
          program: '/bin/sh',
          argv: ['sh', '-c', 'echo ran > "$0"', join(dir, `ran-${path.length}`)],
          stdout: { kind: 'path', path },
        });
      const modern = await spawner.spawn(req(bad), () => assert.fail('no exit for a failed spawn'));
      assert.deepEqual(
        modern.ok ? undefined : [modern.failure.stage, modern.failure.errno, modern.failure.exitStatus],
        ['stdout', 'ENOENT', 78],
      );
      const modernDir = await spawner.spawn(req(asDir), () => assert.fail('no exit'));
      assert.equal(modernDir.ok ? '' : modernDir.failure.errno, 'EISDIR');

      const legacy = make({ stdioOpenFailure: 'warn' });
      const s = await start(legacy, req(bad));
      assert.ok(s.result.ok);
      assert.deepEqual(
        s.result.warnings?.map((w) => [w.stage, w.errno]),
        [['stdout', 'ENOENT']],
      );
      assert.equal((await within(s.exited, 5000, 'exit')).code, 0);
      assert.equal(readFileSync(join(dir, `ran-${bad.length}`), 'utf8'), 'ran\n');
    });

    test('EnableGlobbing expands argv (GLOB_NOCHECK keeps non-matches, ~ is HOME)', async () => {
      const g = join(dir, 'glob');
      mkdirSync(g);
      writeFileSync(join(g, 'a.txt'), '');
      writeFileSync(join(g, 'b.txt'), '');
      const out = join(dir, 'glob.out');
      const s = await start(
        spawner,
        request({
          program: '/bin/sh',
          argv: ['sh', '-c', 'for a in "$@"; do echo "$a"; done', 'sh', `${g}/*.txt`, `${g}/*.none`, '~'],
          enableGlobbing: true,
          env: { PATH: '/usr/bin:/bin', HOME: '/home/globber' },
          stdout: { kind: 'path', path: out },
        }),
      );
      await within(s.exited, 5000, 'exit');
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      assert.deepEqual(lines.slice(0, 2).sort(), [join(g, 'a.txt'), join(g, 'b.txt')]);
      assert.deepEqual(lines.slice(2), [`${g}/*.none`, '/home/globber']);
    });

    test('WaitForDebugger: resolves with the job stopped before exec; SIGCONT lets it exec', async () => {
      const s = await start(
        spawner,
        request({ program: '/bin/sh', argv: ['sh', '-c', 'exit 7'], startSuspended: true }),
      );
      const pid = track(pidOf(s.result));
      await waitUntil(() => procStat(pid)[0] === 'T', 5000, 'stopped');
      assert.ok(spawner.signal(pid, 'SIGCONT'));
      assert.deepEqual(await within(s.exited, 5000, 'exit'), { pid, code: 7, signal: null });
      assert.equal(s.exitCalls(), 1);
    });
  });

  describe(`${name}: socket activation fds`, () => {
    test('passFds land at 3..n in order, LISTEN_PID is the job pid, LISTEN_FDS/LISTEN_FDNAMES are set', async () => {
      const fa = openSync(join(dir, 'fd-a'), 'w');
      const fb = openSync(join(dir, 'fd-b'), 'w');
      const s = await start(
        spawner,
        request({
          program: '/bin/sleep',
          argv: ['sleep', '30'],
          passFds: [fb, fa],
          setListenPid: true,
          listenFdNames: ['second', 'first'],
        }),
      );
      closeSync(fa);
      closeSync(fb);
      const pid = track(pidOf(s.result));
      // The loader's transient library fd can show right after the exec: see settledFds.
      const fds = await settledFds(pid, 5);
      assert.deepEqual([...fds.keys()], [0, 1, 2, 3, 4], JSON.stringify([...fds.entries()]));
      assert.equal(fds.get(3), join(dir, 'fd-b'));
      assert.equal(fds.get(4), join(dir, 'fd-a'));
      // The fds are in place before the exec; the environment only once it laid out the new image.
      await execed(pid);
      const env = procEnviron(pid);
      assert.equal(env.LISTEN_PID, String(pid));
      assert.equal(env.LISTEN_FDS, '2');
      assert.equal(env.LISTEN_FDNAMES, 'second:first');
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('an fd as stdin/stdout (inetd style) is the job stream', async () => {
      const outPath = join(dir, 'fd-stdout');
      const out = openSync(outPath, 'w');
      const s = await start(
        spawner,
        request({ program: '/bin/sh', argv: ['sh', '-c', 'echo via-fd'], stdout: { kind: 'fd', fd: out } }),
      );
      closeSync(out);
      await within(s.exited, 5000, 'exit');
      assert.equal(readFileSync(outPath, 'utf8'), 'via-fd\n');
    });
  });

  describe(`${name}: RootDirectory`, () => {
    test('the job runs chrooted (a copied dash and its libraries)', async (t) => {
      if (skipUnlessLinux(t, 'copies dash and its ELF libraries')) return;
      const root = join(dir, 'chroot');
      const files = ['/bin/dash', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'];
      try {
        for (const f of files) {
          mkdirSync(join(root, dirname(f)), { recursive: true });
          copyFileSync(f, join(root, f));
          chmodSync(join(root, f), 0o755);
        }
      } catch (err) {
        t.skip(`cannot build a chroot from this system's dash: ${String(err)}`);
        return;
      }
      const s = await start(
        spawner,
        request({
          program: '/bin/dash',
          argv: ['dash', '-c', 'echo inside; pwd; [ -e /bin/dash ] && [ ! -e /etc/passwd ] && echo isolated'],
          rootDirectory: root,
          stdout: { kind: 'path', path: '/out.txt' },
        }),
      );
      assert.equal((await within(s.exited, 5000, 'exit')).code, 0);
      assert.equal(readFileSync(join(root, 'out.txt'), 'utf8'), 'inside\n/\nisolated\n');
    });
  });
}

describe('DirectProcessSpawner: a burst of spawns', () => {
  test('8 run in the turn that asked, the rest in the next turns, in order; every one runs and is reaped', async () => {
    const spawner = new DirectProcessSpawner();
    let turn = 0;
    let done = false;
    const tick = (): void => {
      turn++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const n = 20;
    const order: number[] = [];
    const turns: number[] = [];
    const exits: Promise<ProcessExit>[] = [];
    const results = Array.from({ length: n }, (_, i) => {
      let onExit: (e: ProcessExit) => void = () => undefined;
      exits.push(new Promise<ProcessExit>((r) => (onExit = r)));
      return spawner.spawn(request({ program: '/bin/true', argv: ['true'] }), onExit).then((r) => {
        order.push(i);
        turns[i] = turn;
        return r;
      });
    });
    try {
      const all = await within(Promise.all(results), 20_000, 'every spawn settled');
      for (const r of all) track(pidOf(r));
      assert.equal(new Set(all.map(pidOf)).size, n);
      assert.deepEqual(order, [...Array(n).keys()]);
      assert.deepEqual(turns.slice(0, 8), Array(8).fill(0), 'the first 8 in the turn that asked');
      assert.ok(turns[8]! >= 1 && turns[16]! > turns[8]!, `later ones in later turns: ${turns.join(',')}`);
      for (const e of await within(Promise.all(exits), 20_000, 'every exit')) assert.equal(e.code, 0);
    } finally {
      done = true;
    }
  });
});
