import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpawnRequest } from '../ports/process-spawner.ts';
import { spawnRequest } from '../testing/spawn-request.ts';
import { buildShimArgs, checkRequest, parseShimStatus } from './exec-shim-protocol.ts';

const base: SpawnRequest = spawnRequest({
  label: 'com.example.job',
  program: '/bin/echo',
  argv: ['echo', 'hi'],
});

test('buildShimArgs: every field becomes one option, program and argv follow --', () => {
  const { args, warnings } = buildShimArgs(
    {
      ...base,
      nice: -5,
      umask: 0o022,
      softLimits: { NumberOfFiles: 256, Core: Infinity },
      hardLimits: { NumberOfFiles: 1024, Stack: 2 ** 64 },
      lowPriorityIO: true,
      rootDirectory: '/jail',
      credentials: { uid: 501, gid: 20, userName: 'alice', initGroups: false },
      workingDirectory: '/work dir',
      stdin: { kind: 'path', path: '/in' },
      stdout: { kind: 'path', path: '/out=x' },
      stderr: { kind: 'fd', fd: 9 },
      searchPath: true,
      enableGlobbing: true,
      passFds: [7, 8],
      setListenPid: true,
      listenFdNames: ['a', 'b'],
      startSuspended: true,
    },
    5,
    'warn',
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(args, [
    '--status-fd=5',
    '--nfds=2',
    '--stdio-failure=warn',
    '--label=com.example.job',
    '--nice=-5',
    '--rlimit=nofile:256:1024',
    '--rlimit=core:inf:-',
    '--rlimit=stack:-:inf',
    '--low-priority-io',
    '--root=/jail',
    '--uid=501',
    '--gid=20',
    '--user=alice',
    '--no-initgroups',
    '--cwd=/work dir',
    '--umask=22',
    '--stdin=/in',
    '--stdout=/out=x',
    '--search-path',
    '--glob',
    '--listen-pid',
    '--listen-fdnames=a:b',
    '--suspend',
    '--',
    '/bin/echo',
    'echo',
    'hi',
  ]);
});

test('buildShimArgs: out-of-range Nice and invalid limits are warnings, not options', () => {
  const { args, warnings } = buildShimArgs(
    { ...base, nice: 99, softLimits: { CPU: -1, Data: 1.5 }, hardLimits: { Bogus: 1 } as never },
    3,
    'refuse',
  );
  assert.ok(!args.some((a) => a.startsWith('--nice') || a.startsWith('--rlimit')));
  assert.deepEqual(
    warnings.map((w) => w.stage),
    ['nice', 'rlimit', 'rlimit', 'rlimit'],
  );
});

test('checkRequest: NULs, bad env names, bad fds and ids are refused before spawning', () => {
  assert.equal(checkRequest(base), undefined);
  const bad: Partial<SpawnRequest>[] = [
    { program: '' },
    { argv: [] },
    { argv: ['a\0'] },
    { env: { 'A=B': '1' } },
    { env: { A: 'x\0' } },
    { passFds: [-1] },
    { stdout: { kind: 'path', path: '' } },
    { credentials: { uid: -1, gid: 0, initGroups: true } },
    { listenFdNames: ['a:b'] },
  ];
  for (const b of bad) assert.equal(checkRequest({ ...base, ...b })?.stage, 'request', JSON.stringify(b));
});

test('checkRequest: every field it checks, with the message each refusal gives', () => {
  const nul = 'a program, argument or path contains a NUL byte';
  const fd = 'a file descriptor is not a non-negative integer';
  const cases: [Partial<SpawnRequest>, string][] = [
    [{ program: '' }, 'empty program'],
    [{ argv: [] }, 'empty argv'],
    [{ program: '/bin/e\0cho' }, nul],
    [{ argv: ['echo', 'h\0i'] }, nul],
    [{ workingDirectory: '/w\0' }, nul],
    [{ rootDirectory: '/r\0' }, nul],
    [{ label: 'com.\0x' }, nul],
    [{ stdin: { kind: 'path', path: '/i\0' } }, nul],
    [{ stdout: { kind: 'path', path: '/o\0' } }, nul],
    [{ stderr: { kind: 'path', path: '/e\0' } }, nul],
    [{ credentials: { uid: 1, gid: 1, userName: 'a\0', initGroups: true } }, nul],
    [{ env: { '': 'x' } }, 'invalid environment variable name or value: ""'],
    [{ env: { 'A=B': '1' } }, 'invalid environment variable name or value: "A=B"'],
    [{ env: { OK: '1', 'A\0': '1' } }, 'invalid environment variable name or value: "A\\u0000"'],
    [{ env: { A: 'x\0' } }, 'invalid environment variable name or value: "A"'],
    [{ stdin: { kind: 'path', path: '' } }, 'empty standard stream path'],
    [{ stdout: { kind: 'path', path: '' } }, 'empty standard stream path'],
    [{ stderr: { kind: 'path', path: '' } }, 'empty standard stream path'],
    [{ passFds: [3, -1] }, fd],
    [{ passFds: [3.5] }, fd],
    [{ stdin: { kind: 'fd', fd: -1 } }, fd],
    [{ stdout: { kind: 'fd', fd: 1.5 } }, fd],
    [{ stderr: { kind: 'fd', fd: Number.NaN } }, fd],
    [{ credentials: { uid: -1, gid: 0, initGroups: true } }, 'uid/gid out of range'],
    [{ credentials: { uid: 0, gid: 0xffffffff, initGroups: true } }, 'uid/gid out of range'],
    [{ credentials: { uid: 0.5, gid: 0, initGroups: true } }, 'uid/gid out of range'],
    [{ listenFdNames: ['a:b'] }, 'a LISTEN_FDNAMES entry contains ":"'],
    [{ listenFdNames: ['ok', 'a\0'] }, 'a LISTEN_FDNAMES entry contains ":"'],
    // The first problem found is the one reported.
    [{ program: '/x\0', env: { 'A=B': '1' }, passFds: [-1] }, nul],
    [
      { env: { 'A=B': '1' }, stdout: { kind: 'path', path: '' }, passFds: [-1] },
      'invalid environment variable name or value: "A=B"',
    ],
  ];
  for (const [b, message] of cases)
    assert.deepEqual(
      checkRequest({ ...base, ...b }),
      { stage: 'request', errno: 'EINVAL', exitStatus: 78, message },
      JSON.stringify(b),
    );
  const fine: Partial<SpawnRequest>[] = [
    { stdin: { kind: 'fd', fd: 0 }, stdout: { kind: 'fd', fd: 5 }, passFds: [3, 4] },
    { credentials: { uid: 0xfffffffe, gid: 0, userName: 'a', initGroups: false } },
    { env: { A: '', B: 'x=y' }, listenFdNames: ['web', 'admin'], workingDirectory: '', rootDirectory: '' },
  ];
  for (const b of fine) assert.equal(checkRequest({ ...base, ...b }), undefined, JSON.stringify(b));
});

test('parseShimStatus: warnings, failure, suspension; errno numbers become names', () => {
  assert.deepEqual(parseShimStatus(''), { warnings: [], suspended: false });
  const r = parseShimStatus('W\tcwd\t2\tno such dir /x\nF\tstdout\t13\t78\tcannot open /y\n');
  assert.deepEqual(r.warnings, [{ stage: 'cwd', errno: 'ENOENT', message: 'no such dir /x' }]);
  assert.deepEqual(r.failure, {
    stage: 'stdout',
    errno: 'EACCES',
    exitStatus: 78,
    message: 'cannot open /y',
  });
  assert.equal(parseShimStatus('S\n').suspended, true);
  // A partial line (the channel is read in chunks) is not mistaken for a record.
  assert.equal(parseShimStatus('F\tstdout\t13').failure, undefined);
  assert.equal(parseShimStatus('garbage\n\tW\n').warnings.length, 0);
});
