import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOAD_FAILED, jobStateReport } from '@launchfleet/shared/job';
import { jobProblem } from './job-problem.ts';

test('the typed state and the marks of the detail decide', () => {
  const d = { domain: 'system' };
  const running = jobStateReport('running', 'success');
  const throttled = jobStateReport('spawn-scheduled', 'exit-code');
  const spawning = jobStateReport('spawning', 'success');
  const noexec = jobStateReport('exited', 'spawn-failed');
  const exited = jobStateReport('exited', 'exit-code');
  const cases: [Parameters<typeof jobProblem>[0], Parameters<typeof jobProblem>[1], string | undefined][] = [
    [running, undefined, undefined],
    [throttled, undefined, 'throttled'],
    [spawning, d, undefined], // an ordinary spawn in progress
    [throttled, d, 'throttled'],
    [running, { ...d, crashLooping: true }, 'crash_looping'],
    [noexec, undefined, 'failed'],
    [noexec, d, 'failed'],
    [jobStateReport('waiting', 'success'), { ...d, loadFailed: true }, 'failed'],
    [LOAD_FAILED, undefined, 'failed'],
    [exited, d, undefined], // failed in the counts, but no problem: it may run fine next time
    [jobStateReport('waiting', 'success'), { ...d, crashLooping: false }, undefined],
  ];
  for (const [state, detail, want] of cases)
    assert.equal(jobProblem(state, detail), want, `${JSON.stringify(state)} ${JSON.stringify(detail)}`);
});
