// Real users: RealUserDb over getent, and jobs spawned as them (credentials, supplementary
// groups with and without InitGroups, HOME/USER, StandardOutPath ownership and EACCES;
// docs/launchd-semantics.md §1.2, §1.6 and row 43 of §6).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  RealProcessSpawner,
  PosixProcessSpawner,
  DirectProcessSpawner,
  type StdioOpenFailurePolicy,
  type ProcessSpawner,
  RealUserDb,
} from '@launchfleet/node-agent';
import {
  execed,
  killAll,
  pidOf,
  procEnviron,
  procStatus,
  request,
  start,
  within,
} from './adapters-helpers.ts';
import { linuxOnly } from '../support/platform.ts';

const userA = 'lf-test-a';
const userB = 'lf-test-b';
const extraGroup = 'lf-test-grp';
type Make = (o?: { readonly stdioOpenFailure?: StdioOpenFailurePolicy }) => ProcessSpawner;
/** The privilege drop runs in the direct spawn's child or in lf-exec: every spawner is checked (the default first). */
const spawners: readonly (readonly [string, Make])[] = [
  ['DirectProcessSpawner', (o) => new DirectProcessSpawner(o)],
  ['PosixProcessSpawner', (o) => new PosixProcessSpawner(o)],
  ['RealProcessSpawner', (o) => new RealProcessSpawner(o)],
];
const db = new RealUserDb();
const pids = new Set<number>();
let dir = '';
let a = { uid: 0, gid: 0, home: '' };
let b = { uid: 0, gid: 0, home: '' };
let extraGid = 0;

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'ignore' });
}
function removeAccounts(): void {
  for (const u of [userA, userB]) {
    try {
      sh('userdel', [u]);
    } catch {
      // not there
    }
  }
  try {
    sh('groupdel', [extraGroup]);
  } catch {
    // not there
  }
}

before(async () => {
  removeAccounts(); // left over from an interrupted run
  dir = mkdtempSync(join(tmpdir(), 'lf-users-'));
  chmodSync(dir, 0o755);
  sh('groupadd', [extraGroup]);
  sh('useradd', ['-M', '-d', join(dir, 'home-a'), '-s', '/bin/sh', '-G', extraGroup, userA]);
  sh('useradd', ['-M', '-d', join(dir, 'home-b'), '-s', '/bin/sh', userB]);
  const ra = await db.userByName(userA);
  const rb = await db.userByName(userB);
  const g = await db.groupByName(extraGroup);
  assert.ok(ra && rb && g);
  a = ra;
  b = rb;
  extraGid = g.gid;
});
after(() => {
  killAll(pids);
  removeAccounts();
  rmSync(dir, { recursive: true, force: true });
});

describe('RealUserDb', { skip: linuxOnly('useradd and getent') }, () => {
  test('looks users up by name and id, groups by name; unknown and malformed names are undefined', async () => {
    const byName = await db.userByName(userA);
    assert.deepEqual(byName, {
      name: userA,
      uid: a.uid,
      gid: a.gid,
      home: join(dir, 'home-a'),
      shell: '/bin/sh',
    });
    assert.deepEqual(await db.userById(a.uid), byName);
    assert.equal((await db.userByName('root'))?.uid, 0);
    assert.equal((await db.groupByName(extraGroup))?.gid, extraGid);
    assert.equal(await db.userByName('lf-no-such-user'), undefined);
    assert.equal(await db.userByName(String(a.uid)), undefined, 'a uid is not a name');
    for (const bad of ['', '-x', 'a:b', 'a\nb', 'x'.repeat(300)])
      assert.equal(await db.userByName(bad), undefined);
    assert.equal(await db.userById(-1), undefined);
    assert.equal(await db.userById(1.5), undefined);
  });

  test('answers are cached until invalidate()', async () => {
    const local = new RealUserDb();
    sh('useradd', ['-M', '-d', '/nonexistent', 'lf-test-tmp']);
    try {
      assert.ok(await local.userByName('lf-test-tmp'));
    } finally {
      sh('userdel', ['lf-test-tmp']);
    }
    assert.ok(await local.userByName('lf-test-tmp'), 'cached');
    local.invalidate();
    assert.equal(await local.userByName('lf-test-tmp'), undefined);
  });
});

for (const [name, make] of spawners) {
  const spawner = make();
  describe(`${name} as real users`, () => {
    test('InitGroups=true keeps supplementary groups; uid/gid and HOME/USER/LOGNAME/SHELL come from the account', async () => {
      const s = await start(
        spawner,
        request({
          program: '/bin/sleep',
          argv: ['sleep', '30'],
          credentials: { uid: a.uid, gid: a.gid, userName: userA, initGroups: true },
        }),
      );
      const pid = pidOf(s.result);
      pids.add(pid);
      await execed(pid);
      const st = procStatus(pid);
      assert.equal(st.Uid, `${a.uid}\t${a.uid}\t${a.uid}\t${a.uid}`);
      assert.equal(st.Gid, `${a.gid}\t${a.gid}\t${a.gid}\t${a.gid}`);
      assert.deepEqual(st.Groups?.split(/\s+/).map(Number).sort(), [a.gid, extraGid].sort());
      const env = procEnviron(pid);
      assert.equal(env.HOME, join(dir, 'home-a'));
      assert.equal(env.USER, userA);
      assert.equal(env.LOGNAME, userA);
      assert.equal(env.SHELL, '/bin/sh');
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('InitGroups=false drops supplementary groups to just the gid', async () => {
      const s = await start(
        spawner,
        request({
          program: '/bin/sleep',
          argv: ['sleep', '30'],
          credentials: { uid: a.uid, gid: a.gid, userName: userA, initGroups: false },
        }),
      );
      const pid = pidOf(s.result);
      pids.add(pid);
      assert.equal(procStatus(pid).Groups, String(a.gid));
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('GroupName without UserName: stays root, with only that group', async () => {
      const s = await start(
        spawner,
        request({
          program: '/bin/sleep',
          argv: ['sleep', '30'],
          credentials: { uid: 0, gid: extraGid, initGroups: true },
        }),
      );
      const pid = pidOf(s.result);
      pids.add(pid);
      await execed(pid);
      const st = procStatus(pid);
      assert.match(st.Uid ?? '', /^0\s/);
      assert.match(st.Gid ?? '', new RegExp(`^${extraGid}\\s`));
      assert.equal(st.Groups, String(extraGid));
      spawner.signal(pid, 'SIGKILL');
      await within(s.exited, 5000, 'exit');
    });

    test('StandardOutPath is created by and owned by the job user, 0666 & ~Umask, appended (row 43)', async () => {
      const logs = join(dir, `logs-${name}`);
      mkdirSync(logs);
      chmodSync(logs, 0o777);
      const out = join(logs, 'b.log');
      for (const n of [1, 2]) {
        const s = await start(
          spawner,
          request({
            program: '/bin/sh',
            argv: ['sh', '-c', `echo run${n} $(id -un) ~`],
            credentials: { uid: b.uid, gid: b.gid, userName: userB, initGroups: true },
            umask: 0o002,
            enableGlobbing: true,
            stdout: { kind: 'path', path: out },
          }),
        );
        assert.equal((await within(s.exited, 5000, 'exit')).code, 0);
      }
      const st = statSync(out);
      assert.equal(st.uid, b.uid);
      assert.equal(st.gid, b.gid);
      assert.equal(st.mode & 0o777, 0o664);
      const home = join(dir, 'home-b');
      assert.equal(readFileSync(out, 'utf8'), `run1 ${userB} ${home}\nrun2 ${userB} ${home}\n`);
    });

    test('a StandardOutPath the user may not write: EACCES refused (modern) or warned (842)', async () => {
      const rootOnly = join(dir, `root-only-${name}`);
      mkdirSync(rootOnly);
      chmodSync(rootOnly, 0o755);
      const req = request({
        program: '/bin/true',
        argv: ['true'],
        credentials: { uid: b.uid, gid: b.gid, userName: userB, initGroups: true },
        stdout: { kind: 'path', path: join(rootOnly, 'out.log') },
      });
      const modern = await spawner.spawn(req, () => assert.fail('no exit for a failed spawn'));
      assert.deepEqual(
        modern.ok ? undefined : [modern.failure.stage, modern.failure.errno, modern.failure.exitStatus],
        ['stdout', 'EACCES', 78],
      );
      const legacy = await start(make({ stdioOpenFailure: 'warn' }), req);
      assert.ok(legacy.result.ok);
      assert.deepEqual(
        legacy.result.warnings?.map((w) => [w.stage, w.errno]),
        [['stdout', 'EACCES']],
      );
      assert.equal((await within(legacy.exited, 5000, 'exit')).code, 0);
    });

    test('privileges really are dropped: the job user cannot bind a port below 1024', async () => {
      const outDir = join(dir, `bind-${name}`);
      mkdirSync(outDir);
      chmodSync(outDir, 0o777);
      const out = join(outDir, 'bind.out');
      const s = await start(
        spawner,
        request({
          program: process.execPath,
          argv: [
            'node',
            '-e',
            `require('net').createServer().on('error', (e) => { console.log(e.code + ' ' + e.syscall); }).listen(79, '127.0.0.1', () => console.log('bound'))`,
          ],
          credentials: { uid: b.uid, gid: b.gid, userName: userB, initGroups: true },
          stdout: { kind: 'path', path: out },
          workingDirectory: '/',
        }),
      );
      assert.equal((await within(s.exited, 10000, 'exit')).code, 0);
      assert.equal(readFileSync(out, 'utf8').trim(), 'EACCES listen');
    });
  });
}
