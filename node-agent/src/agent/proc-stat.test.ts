import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProcStat, parsePsLine, procStat, psProcStats } from './proc-stat.ts';

test('parses /proc/<pid>/stat, including a comm with spaces and parentheses', () => {
  const tail = 'S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200';
  assert.deepEqual(parseProcStat(`4242 (sh) ${tail}`), {
    pid: 4242,
    state: 'S',
    ppid: 1,
    pgrp: 4242,
    session: 4242,
    startTicks: 987654,
  });
  assert.equal(parseProcStat(`4242 (a (b) c) ${tail}`)?.startTicks, 987654);
});

test('malformed text is undefined', () => {
  assert.equal(parseProcStat(''), undefined);
  assert.equal(parseProcStat('12 (x) S 1 2'), undefined);
  assert.equal(parseProcStat('x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20'), undefined);
});

test('parsePsLine: pid, ppid, group, state and the start time in whole epoch seconds', () => {
  const s = parsePsLine('  4321     1  4321 Ss   Sat Nov 21 10:23:56 2026');
  assert.deepEqual(s, {
    pid: 4321,
    ppid: 1,
    pgrp: 4321,
    session: 4321,
    startTicks: Math.floor(new Date(2026, 10, 21, 10, 23, 56).getTime() / 1000),
    state: 'S',
  });
  assert.equal(parsePsLine('garbage'), undefined);
  assert.equal(parsePsLine('1 2 3 S Sat Nov 99 99:99:99 2026'), undefined, 'an impossible date');
});

test('the ps path agrees with /proc about real processes (the path macOS takes)', async () => {
  const viaPs = await psProcStats(process.pid);
  const viaProc = await procStat(process.pid);
  assert.equal(viaPs.length, 1);
  assert.equal(viaPs[0]?.pid, process.pid);
  assert.equal(viaPs[0]?.pgrp, viaProc?.pgrp);
  assert.equal(viaPs[0]?.ppid, viaProc?.ppid);
  // Started within the last hour, in epoch seconds.
  const age = Date.now() / 1000 - (viaPs[0]?.startTicks ?? 0);
  assert.ok(age >= 0 && age < 3600, `age ${age}`);
  const all = await psProcStats();
  assert.ok(all.some((s) => s.pid === process.pid) && all.length > 5);
  assert.deepEqual(await psProcStats(2 ** 30), [], 'no such pid');
});

test('many reads at once (a boot of 1,000 jobs) all settle, correctly, through the bounded readers', async () => {
  if (process.platform !== 'linux') return;
  const own = await procStat(process.pid);
  assert.ok(own);
  // Live and missing pids interleaved: a failed read must hand its reader to the next one.
  const pids = Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? 0x3fffffff - i : process.pid));
  const got = await Promise.all(pids.map((p) => procStat(p)));
  for (const [i, st] of got.entries()) {
    if (i % 3 === 2) assert.equal(st, undefined);
    else
      assert.deepEqual(st && { pid: st.pid, startTicks: st.startTicks }, {
        pid: process.pid,
        startTicks: own.startTicks,
      });
  }
});
