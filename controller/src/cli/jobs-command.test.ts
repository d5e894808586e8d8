import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearingLine, clearingShort } from './jobs-command.ts';

const ids = Array.from({ length: 12 }, (_, i) => `n${String.fromCharCode(97 + i).repeat(20)}`);
const job = (o: Partial<Parameters<typeof clearingLine>[0]>) => ({
  deleted: false,
  clearingCount: 0,
  clearingNodeIds: [],
  clearingUnlisted: false,
  ...o,
});

test('jobs get and list say which nodes the job is still to be taken away from', () => {
  assert.equal(clearingLine(job({})), undefined, 'nothing to clear: no line');
  assert.equal(clearingShort(job({})), '');
  const two = job({ clearingCount: 2, clearingNodeIds: ids.slice(0, 2) });
  assert.equal(
    clearingLine(two),
    `clearing: 2 nodes may still hold the job (their delete failed); retry the apply: ${ids[0]}, ${ids[1]}`,
  );
  assert.equal(clearingShort(two), '2 to clear');
  const many = clearingLine(job({ deleted: true, clearingCount: 12, clearingNodeIds: ids }));
  assert.match(many ?? '', /^clearing: 12 nodes .*; run jobs delete again: naaa.*, … \(\+2\)$/);
  assert.equal((many ?? '').split(', n').length, 10, 'ten ids shown');
  assert.match(
    clearingLine(job({ clearingUnlisted: true })) ?? '',
    /more nodes than the job record can name/,
  );
  assert.equal(clearingShort(job({ clearingUnlisted: true })), 'some to clear');
  // A record is JSON anyone with write access to lf_jobs could have written: no terminal escapes.
  const evil = clearingLine(job({ clearingCount: 1, clearingNodeIds: ['n\x1b[2J\u202e'] }));
  assert.equal(
    evil,
    'clearing: 1 node may still hold the job (their delete failed); retry the apply: n?[2J?',
  );
});
