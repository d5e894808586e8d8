import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobProblem } from './job-problem.ts';

test('marks in the detail decide; state names are the fallback without one', () => {
  const d = { domain: 'system' };
  const cases: [string, Parameters<typeof jobProblem>[1], string | undefined][] = [
    ['running', undefined, undefined],
    ['spawn_scheduled', undefined, 'throttled'],
    ['spawn_scheduled', d, undefined], // an ordinary spawn in progress
    ['spawn_scheduled', { ...d, throttled: true }, 'throttled'],
    ['running', { ...d, crashLooping: true, throttled: true }, 'crash_looping'],
    ['spawn_failed', undefined, 'failed'],
    ['spawn_failed', d, 'failed'],
    ['waiting', { ...d, loadFailed: true }, 'failed'],
    ['crash_looping', undefined, 'crash_looping'],
    ['waiting', { ...d, throttled: false, crashLooping: false }, undefined],
  ];
  for (const [state, detail, want] of cases)
    assert.equal(jobProblem(state, detail), want, `${state} ${JSON.stringify(detail)}`);
});
