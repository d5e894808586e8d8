import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACTIVE_STATES,
  JOB_RESULTS,
  JOB_SUB_STATES,
  LOAD_FAILED,
  STATE_TABLE,
  isFailureResult,
  jobStateReport,
} from './job-state.ts';

test('the table names every sub-state once, with an active state from the closed set', () => {
  assert.deepEqual(Object.keys(STATE_TABLE).sort(), [...JOB_SUB_STATES].sort());
  for (const row of Object.values(STATE_TABLE)) assert.ok(ACTIVE_STATES.includes(row.active));
});

test('exited is failed, waiting inactive; a load failure is failed whatever its sub-state', () => {
  assert.equal(jobStateReport('exited', 'exit-code').active, 'failed');
  assert.equal(jobStateReport('waiting', 'stopped').active, 'inactive');
  assert.equal(jobStateReport('spawn-scheduled', 'crash').active, 'activating');
  assert.deepEqual(LOAD_FAILED, { subState: 'unloaded', active: 'failed', result: 'load-failed' });
});

test('success, our own stop and an unknown end (an adopted process) are the only results that are not failures', () => {
  assert.deepEqual(
    JOB_RESULTS.filter((r) => !isFailureResult(r)),
    ['success', 'stopped', 'unknown'],
  );
});
