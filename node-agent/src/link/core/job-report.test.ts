import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatus } from '../../testing/job-status.ts';
import { jobDetail, jobFacts, jobState, nodeHealth } from './job-report.ts';

const status = jobStatus;

test("the fleet gets the job's typed state as the supervisor has it, exited included", () => {
  const exited = status({ subState: 'exited', active: 'failed', result: 'exit-code', pid: undefined });
  assert.deepEqual(jobState(exited), { subState: 'exited', active: 'failed', result: 'exit-code' });
  assert.deepEqual(jobState(status()), { subState: 'running', active: 'active', result: 'success' });
});

test('detail carries the facts the controller asks about; signature ignores timers', () => {
  const s = status({
    subState: 'spawn-scheduled',
    pid: undefined,
    throttledUntil: 1000,
    crashLooping: { since: 500, count: 5 },
    successiveCrashes: 5,
    lastExitCode: 3,
  });
  assert.deepEqual(jobDetail(s, { lastExitStatus: 3, managedVersion: 7 }), {
    domain: 'system',
    runs: 1,
    successiveCrashes: 5,
    lastExitStatus: 3,
    crashLooping: true,
    crashLoopingSince: 500,
    managedVersion: 7,
  });
});

test('event facts: the condition that decides transitions ignores timers; crash-loop wins over throttle', () => {
  const looping = status({ throttledUntil: 5, crashLooping: { since: 1, count: 5 }, pid: undefined });
  assert.equal(jobFacts(looping, 3, 1).condition, 'crash-looping');
  assert.equal(jobFacts(status({ throttledUntil: 5, pid: undefined }), undefined, 1).condition, 'throttled');
  assert.equal(
    jobFacts(status({ disabled: true, pid: undefined }), undefined, undefined).condition,
    'disabled',
  );
  assert.equal(
    jobFacts(
      status({
        pid: undefined,
        spawnFailure: { stage: 'exec', errno: 'ENOENT', exitStatus: 78, message: 'no such file', at: 1 },
      }),
      undefined,
      undefined,
    ).condition,
    'spawn-failed',
  );
  const a = jobFacts(status(), 7, 0);
  assert.deepEqual(jobFacts(status({ timers: { throttle: 99 }, minimumRuntime: 3 }), 7, 0), a);
  assert.deepEqual(a, { condition: 'ok', version: 7, pid: 42, lastExit: 0 });
});

test('node health: crash loops and load failures fail, throttling degrades', () => {
  const d = { a: { domain: 'system' } };
  const running = { a: { subState: 'running', active: 'active', result: 'success' } } as const;
  const throttled = {
    a: { subState: 'spawn-scheduled', active: 'activating', result: 'exit-code' },
  } as const;
  const noexec = { a: { subState: 'exited', active: 'failed', result: 'spawn-failed' } } as const;
  assert.equal(nodeHealth(running, d, 0), 'ok');
  assert.equal(nodeHealth(throttled, d, 0), 'degraded');
  assert.equal(nodeHealth(noexec, d, 0), 'degraded');
  assert.equal(nodeHealth(running, { a: { domain: 'system', crashLooping: true } }, 0), 'failing');
  assert.equal(nodeHealth({}, {}, 1), 'failing');
});
