import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobStatus } from '../supervisor/job-status.ts';
import { toWireRow, withPreviousLife } from './service-status.ts';

const s = (over: Partial<JobStatus>): JobStatus =>
  ({ label: 'x', domain: 'system', runs: 0, ...over }) as JobStatus;

test('previous lives add their runs; their last exit shows until this life has one', () => {
  const prev = { runs: 4, lastExit: { signal: 'SIGTERM' } };
  const a = withPreviousLife(s({ runs: 0 }), prev);
  assert.equal(a.runs, 4);
  assert.equal(toWireRow(a, 'dash').status, '-15');
  const b = withPreviousLife(s({ runs: 1, lastExitCode: 0 }), prev);
  assert.deepEqual([b.runs, b.lastExitCode, b.lastTerminatingSignal], [5, 0, undefined]);
  assert.equal(withPreviousLife(s({ runs: 2 }), undefined).runs, 2);
  assert.equal(
    toWireRow(withPreviousLife(s({ runs: 0 }), { runs: 1, lastExit: { code: 3 } }), 'dash').status,
    '3',
  );
});
