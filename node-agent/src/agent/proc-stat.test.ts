import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProcStat } from './proc-stat.ts';

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
