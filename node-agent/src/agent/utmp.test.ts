import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUtmp, utmpRecord, UTMP_RECORD_SIZE } from './utmp.ts';

test('keeps USER_PROCESS records only, with user, pid and line', () => {
  const recs = [
    utmpRecord(2, 0, '~', 'reboot'), // BOOT_TIME
    utmpRecord(7, 1234, 'pts/0', 'alice'),
    utmpRecord(8, 99, 'pts/1', 'bob'), // DEAD_PROCESS
    utmpRecord(7, 555, 'tty1', 'a-very-long-user-name-of-32-chars'),
  ];
  const buf = new Uint8Array(recs.length * UTMP_RECORD_SIZE + 10); // plus a partial record
  recs.forEach((r, i) => buf.set(r, i * UTMP_RECORD_SIZE));
  assert.deepEqual(parseUtmp(buf), [
    { user: 'alice', pid: 1234, line: 'pts/0' },
    { user: 'a-very-long-user-name-of-32-char', pid: 555, line: 'tty1' },
  ]);
});

test('empty and short input give no logins', () => {
  assert.deepEqual(parseUtmp(new Uint8Array(0)), []);
  assert.deepEqual(parseUtmp(new Uint8Array(100)), []);
});
