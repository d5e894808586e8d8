import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobStatus } from '../../supervisor/job-status.ts';
import { eventSignature, fleetJobState, jobDetail, nodeHealth } from './job-report.ts';

const status = (over: Partial<JobStatus> = {}): JobStatus => ({
  label: 'com.acme.backup',
  domain: 'system',
  type: 'LaunchDaemon',
  state: 'running',
  subState: 'running',
  active: 'active',
  jobState: 'running',
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

test('sub-states map to the fleet coarse states of the metric catalog', () => {
  const rows: [Partial<JobStatus>, string][] = [
    [{}, 'running'],
    [{ subState: 'spawn-scheduled', pid: undefined, throttledUntil: 5 }, 'spawn_scheduled'],
    [{ subState: 'spawning', pid: undefined }, 'spawn_scheduled'],
    [{ subState: 'stopping-term' }, 'stopping'],
    [{ subState: 'waiting', pid: undefined, jobState: 'exited' }, 'waiting'],
    [{ subState: 'exited', pid: undefined, jobState: 'spawn failed' }, 'spawn_failed'],
    [{ subState: 'waiting', pid: undefined, disabled: true }, 'disabled'],
  ];
  for (const [over, want] of rows) assert.equal(fleetJobState(status(over)), want, JSON.stringify(over));
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
    throttled: true,
    crashLooping: true,
    crashLoopingSince: 500,
    managedVersion: 7,
  });
  assert.equal(eventSignature(s), eventSignature({ ...s, timers: { throttle: 99 }, minimumRuntime: 3 }));
  assert.notEqual(eventSignature(status()), eventSignature(status({ pid: 43 })), 'a new process is a change');
});

test('node health: crash loops and load failures fail, throttling degrades', () => {
  assert.equal(nodeHealth([{ domain: 'system' }], 0), 'ok');
  assert.equal(nodeHealth([{ domain: 'system', throttled: true }], 0), 'degraded');
  assert.equal(nodeHealth([{ domain: 'system', crashLooping: true }], 0), 'failing');
  assert.equal(nodeHealth([], 1), 'failing');
});
