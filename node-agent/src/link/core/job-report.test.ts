import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobStatus } from '../../supervisor/job-status.ts';
import { eventSignature, jobDetail, jobState, nodeHealth } from './job-report.ts';

const status = (over: Partial<JobStatus> = {}): JobStatus => ({
  label: 'com.acme.backup',
  domain: 'system',
  type: 'LaunchDaemon',
  state: 'running',
  subState: 'running',
  active: 'active',
  result: 'success',
  pid: 42,
  runs: 1,
  forks: 1,
  minimumRuntime: 10,
  exitTimeout: 20,
  successiveCrashes: 0,
  disabled: false,
  timers: {},
  watchPaths: [],
  queueDirectories: [],
  armed: [],
  program: '/bin/sh',
  arguments: ['/bin/sh'],
  warnings: [],
  history: [],
  ...over,
});

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
  assert.equal(eventSignature(s), eventSignature({ ...s, timers: { throttle: 99 }, minimumRuntime: 3 }));
  assert.notEqual(eventSignature(status()), eventSignature(status({ pid: 43 })), 'a new process is a change');
  const waiting = status({ subState: 'waiting', active: 'inactive', pid: undefined });
  assert.notEqual(
    eventSignature(waiting),
    eventSignature({ ...waiting, subState: 'exited', active: 'failed', result: 'exit-code' }),
    'a failed end is a change',
  );
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
