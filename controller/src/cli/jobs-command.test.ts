import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearingLine, clearingShort, deleteReport } from './jobs-command.ts';

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

test('jobs delete says when it left the job on some nodes, and exits 1 then', () => {
  const done = deleteReport({ label: 'com.acme.x', version: 4, nodesRemoved: 3, failures: [], warnings: [] });
  assert.deepEqual(done, { text: 'deleted com.acme.x (version 4): removed from 3 nodes\n', cleared: true });
  const partly = deleteReport({
    label: 'com.acme.x',
    version: 4,
    nodesRemoved: 1,
    failures: [{ nodeId: ids[0] ?? '', reason: 'UNAVAILABLE: timeout' }],
    warnings: ['not cleared from 1 of 2 nodes: the job may still run there; delete it again'],
  });
  assert.equal(partly.cleared, false);
  assert.equal(
    partly.text,
    'deleted com.acme.x (version 4): removed from 1 nodes\n' +
      'warning: not cleared from 1 of 2 nodes: the job may still run there; delete it again\n' +
      `failed on ${ids[0]}: UNAVAILABLE: timeout\n`,
  );
  // A warning alone (the listing failed, every named node cleared) is not a clean delete either.
  const unlisted = deleteReport({
    label: 'com.acme.x',
    version: 4,
    nodesRemoved: 2,
    failures: [],
    warnings: ['w'],
  });
  assert.equal(unlisted.cleared, false);
});
