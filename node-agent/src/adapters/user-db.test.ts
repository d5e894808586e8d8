import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseDsclGroup,
  parseGroupLine,
  parsePasswdLine,
  RealUserDb,
  type CommandRunner,
} from './user-db.ts';

test('parsePasswdLine: getent (7 fields) and id -P (10 fields); malformed lines are undefined', () => {
  assert.deepEqual(parsePasswdLine('alice:x:501:20:Alice A:/home/alice:/bin/zsh\n'), {
    name: 'alice',
    uid: 501,
    gid: 20,
    home: '/home/alice',
    shell: '/bin/zsh',
  });
  assert.deepEqual(parsePasswdLine('bob:********:502:20::0:0:Bob:/Users/bob:/bin/bash'), {
    name: 'bob',
    uid: 502,
    gid: 20,
    home: '/Users/bob',
    shell: '/bin/bash',
  });
  for (const bad of ['', 'a:b', 'x:x:-1:0::/:/bin/sh', 'x:x:1:99999999999::/:/bin/sh', ':x:1:1::/:/bin/sh'])
    assert.equal(parsePasswdLine(bad), undefined, bad);
});

test('parseGroupLine and parseDsclGroup', () => {
  assert.deepEqual(parseGroupLine('staff:x:20:alice,bob'), { name: 'staff', gid: 20 });
  assert.equal(parseGroupLine('staff:x:twenty:'), undefined);
  assert.deepEqual(parseDsclGroup('staff', 'PrimaryGroupID: 20\n'), { name: 'staff', gid: 20 });
  assert.equal(parseDsclGroup('staff', 'No such key: PrimaryGroupID\n'), undefined);
});

test('RealUserDb: the right tool per platform, answers checked against the question, cached with a TTL', async () => {
  const calls: string[] = [];
  let now = 0;
  const run: CommandRunner = (file, args) => {
    calls.push([file, ...args].join(' '));
    if (args[0] === 'passwd' && (args[1] === 'alice' || args[1] === '501'))
      return Promise.resolve({ code: 0, stdout: 'alice:x:501:20::/home/alice:/bin/sh\n' });
    if (args[0] === 'passwd' && args[1] === '0')
      return Promise.resolve({ code: 0, stdout: 'root:x:0:0::/root:/bin/sh\n' });
    return Promise.resolve({ code: 2, stdout: '' });
  };
  const db = new RealUserDb({ platform: 'linux', run, cacheTtlMs: 1000, now: () => now });
  assert.equal((await db.userByName('alice'))?.uid, 501);
  assert.equal((await db.userById(501))?.name, 'alice');
  assert.equal(await db.userByName('501'), undefined, 'getent answered for a uid, not the name asked');
  assert.equal(await db.userByName('nobody-here'), undefined);
  await db.userByName('alice');
  assert.equal(calls.filter((c) => c === 'getent passwd alice').length, 1, 'cached');
  now = 2000;
  await db.userByName('alice');
  assert.equal(calls.filter((c) => c === 'getent passwd alice').length, 2, 'expired');
  db.invalidate();
  await db.userByName('alice');
  assert.equal(calls.filter((c) => c === 'getent passwd alice').length, 3, 'invalidated');
  const mac = new RealUserDb({
    platform: 'darwin',
    run: (f, a) => (calls.push([f, ...a].join(' ')), Promise.resolve({ code: 1, stdout: '' })),
  });
  await mac.userByName('alice');
  await mac.groupByName('staff');
  assert.ok(calls.includes('/usr/bin/id -P alice'));
  assert.ok(calls.includes('/usr/bin/dscl . -read /Groups/staff PrimaryGroupID'));
});

test('RealUserDb: a failing runner is "not found", never a rejection', async () => {
  const db = new RealUserDb({
    platform: 'linux',
    run: () => Promise.reject(new Error('spawn getent ENOENT')),
  });
  assert.equal(await db.userByName('alice'), undefined);
});
