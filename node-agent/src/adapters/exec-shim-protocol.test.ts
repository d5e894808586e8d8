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
