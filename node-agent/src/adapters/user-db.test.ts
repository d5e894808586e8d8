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

/** A runner whose answers the test releases by hand, to see what waits for a lookup. */
function manualRunner(): {
  readonly run: CommandRunner;
  readonly calls: string[];
  /** Answers every pending call with the current table. */
  flush(): void;
  users: Map<string, string>;
} {
  const calls: string[] = [];
  const pending: (() => void)[] = [];
  const users = new Map<string, string>();
  const run: CommandRunner = (file, args) => {
    calls.push([file, ...args].join(' '));
    return new Promise((resolve) => {
      pending.push(() => {
        const line = args[0] === 'passwd' ? users.get(args[1] ?? '') : undefined;
        resolve(line === undefined ? { code: 2, stdout: '' } : { code: 0, stdout: `${line}\n` });
      });
    });
  };
  return {
    run,
    calls,
    users,
    flush: () => {
      for (const p of pending.splice(0)) p();
    },
  };
}

/** Lets pending promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('RealUserDb: a stale found account is answered at once and refreshed in the background', async () => {
  const m = manualRunner();
  let now = 0;
  m.users.set('alice', 'alice:x:501:20::/home/alice:/bin/sh');
  const db = new RealUserDb({ platform: 'linux', run: m.run, cacheTtlMs: 1000, now: () => now });
  const first = db.userByName('alice');
  m.flush();
  assert.equal((await first)?.uid, 501);
  assert.equal(m.calls.length, 1);

  now = 5000; // long past the TTL
  let answered = false;
  const stale = db.userByName('alice').then((r) => ((answered = true), r));
  await settle();
  assert.ok(answered, 'answered without waiting for getent');
  assert.equal((await stale)?.uid, 501);
  assert.equal(m.calls.length, 2, 'one refresh started');
  // More lookups while the refresh runs: served from the cache, no second refresh.
  assert.equal((await db.userByName('alice'))?.uid, 501);
  assert.equal(m.calls.length, 2);

  // The account was deleted meanwhile: the refresh's answer replaces the entry.
  m.users.delete('alice');
  m.flush();
  await settle();
  assert.equal(await db.userByName('alice'), undefined, 'deleted account detected after the refresh');
  assert.equal(m.calls.length, 2, 'the refreshed answer is fresh: no new lookup');
});

test('RealUserDb: "not found" is never served stale; a created account is found once the TTL is over', async () => {
  const m = manualRunner();
  let now = 0;
  const db = new RealUserDb({ platform: 'linux', run: m.run, cacheTtlMs: 1000, now: () => now });
  const miss = db.userByName('bob');
  m.flush();
  assert.equal(await miss, undefined);
  m.users.set('bob', 'bob:x:600:600::/home/bob:/bin/sh');
  assert.equal(await db.userByName('bob'), undefined, 'cached miss within the TTL');
  now = 1500;
  let answered = false;
  const again = db.userByName('bob').then((r) => ((answered = true), r));
  await settle();
  assert.equal(answered, false, 'a miss past the TTL waits for a fresh lookup');
  m.flush();
  assert.equal((await again)?.uid, 600);
  assert.equal(m.calls.length, 2);
});

test('RealUserDb: a refresh that started before invalidate() is dropped; a failed refresh is "not found"', async () => {
  const m = manualRunner();
  let now = 0;
  m.users.set('carol', 'carol:x:700:700::/home/carol:/bin/sh');
  const db = new RealUserDb({ platform: 'linux', run: m.run, cacheTtlMs: 1000, now: () => now });
  const first = db.userByName('carol');
  m.flush();
  await first;
  now = 2000;
  assert.equal((await db.userByName('carol'))?.uid, 700); // stale, refresh pending
  db.invalidate();
  m.users.set('carol', 'carol:x:701:701::/home/carol:/bin/sh');
  const fresh = db.userByName('carol'); // a new lookup after invalidate()
  m.flush(); // answers both: the old refresh and the new lookup
  assert.equal((await fresh)?.uid, 701);
  await settle();
  assert.equal((await db.userByName('carol'))?.uid, 701, 'the pre-invalidate refresh did not overwrite');

  let fail = false;
  const flaky = new RealUserDb({
    platform: 'linux',
    cacheTtlMs: 1000,
    now: () => now,
    run: () =>
      fail
        ? Promise.reject(new Error('getent timed out'))
        : Promise.resolve({ code: 0, stdout: 'dave:x:800:800::/home/dave:/bin/sh\n' }),
  });
  now = 0;
  assert.equal((await flaky.userByName('dave'))?.uid, 800);
  fail = true;
  now = 2000;
  assert.equal((await flaky.userByName('dave'))?.uid, 800, 'stale answer while refreshing');
  await settle();
  assert.equal(
    await flaky.userByName('dave'),
    undefined,
    'the failed refresh is "not found", as a failed lookup',
  );
});

test('RealUserDb over the C library lookups: no command runs; answers checked and cached alike', async () => {
  const asked: string[] = [];
  const alice = { name: 'alice', uid: 501, gid: 20, home: '/home/alice', shell: '/bin/sh' };
  const db = new RealUserDb({
    platform: 'linux',
    cacheTtlMs: 1000,
    now: () => 0,
    native: {
      userByName: (n) => (
        asked.push(`name ${n}`),
        Promise.resolve(n === 'alice' || n === '501' ? alice : null)
      ),
      userById: (u) => (asked.push(`id ${u}`), Promise.resolve(u === 501 ? alice : null)),
      groupByName: (n) => (
        asked.push(`group ${n}`),
        Promise.resolve(n === 'staff' ? { name: 'staff', gid: 20 } : null)
      ),
    },
  });
  assert.deepEqual(await db.userByName('alice'), alice);
  assert.equal((await db.userById(501))?.name, 'alice');
  assert.equal(await db.userByName('501'), undefined, 'an answer for another name is not this one');
  assert.equal(await db.userById(7), undefined);
  assert.deepEqual(await db.groupByName('staff'), { name: 'staff', gid: 20 });
  await db.userByName('alice');
  assert.deepEqual(asked, ['name alice', 'id 501', 'name 501', 'id 7', 'group staff']);
});

test('RealUserDb known*: what the async methods would answer without a lookup, else undefined', async () => {
  const m = manualRunner();
  let now = 0;
  m.users.set('alice', 'alice:x:501:20::/home/alice:/bin/sh');
  const db = new RealUserDb({ platform: 'linux', run: m.run, cacheTtlMs: 1000, now: () => now });
  assert.equal(db.knownUserByName('alice'), undefined, 'nothing cached: not at hand');
  const first = db.userByName('alice');
  assert.equal(db.knownUserByName('alice'), undefined, 'a lookup under way is not at hand');
  m.flush();
  await first;
  assert.equal(db.knownUserByName('alice')?.found?.uid, 501);
  assert.deepEqual(db.knownUserByName('not a name!'), { found: undefined }, 'an invalid name is "not found"');
  assert.deepEqual(db.knownUserById(-1), { found: undefined });
  const miss = db.userByName('bob');
  m.flush();
  await miss;
  assert.deepEqual(db.knownUserByName('bob'), { found: undefined }, 'a cached miss within the TTL');
  assert.equal(m.calls.length, 2);

  now = 5000; // past the TTL
  assert.equal(db.knownUserByName('bob'), undefined, 'a stale miss is looked up again, never served');
  assert.equal(db.knownUserByName('alice')?.found?.uid, 501, 'a stale found account is served');
  assert.equal(m.calls.length, 3, 'and its refresh started, once');
  assert.equal(db.knownUserByName('alice')?.found?.uid, 501);
  assert.equal(m.calls.length, 3);
  m.users.delete('alice');
  m.flush();
  await settle();
  assert.deepEqual(db.knownUserByName('alice'), { found: undefined }, 'the refreshed answer replaces it');
  db.invalidate();
  assert.equal(db.knownUserByName('alice'), undefined);
  const noCache = new RealUserDb({ platform: 'linux', run: m.run, cacheTtlMs: 0 });
  const looked = noCache.userById(0);
  m.flush();
  await looked;
  assert.equal(noCache.knownUserById(0), undefined, 'without a cache nothing is at hand');
});
