import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bar, renderRollout, stepLine, watchLine } from './rollout-render.ts';

const rollout = {
  rolloutId: 'r1',
  label: 'com.acme.a',
  toVersion: '7',
  target: 'all',
  phase: 'wave',
  progress: 0.5,
  maxUnavailable: 2,
  autoRollback: true,
  startedAtMs: 1_700_000_000_000,
  finishedAtMs: 0,
  outcome: '',
  steps: [
    {
      name: 'canary',
      size: 1,
      healthy: 1,
      updating: 0,
      unhealthy: 0,
      offline: 0,
      reverted: 0,
      outcome: 'passed',
      current: false,
    },
    {
      name: 'wave-1',
      size: 3,
      healthy: 1,
      updating: 1,
      unhealthy: 0,
      offline: 1,
      reverted: 0,
      outcome: '',
      current: true,
    },
  ],
  nodes: [{ nodeId: 'n3', status: 'offline-deferred' }],
  events: [{ atMs: 1_700_000_000_000, kind: 'step-started', message: 'wave-1 started (3 node(s))' }],
};

test('bars are proportional and bounded', () => {
  assert.equal(bar(0, 4, 4), '[░░░░]');
  assert.equal(bar(2, 4, 4), '[██░░]');
  assert.equal(bar(9, 4, 4), '[████]');
  assert.equal(bar(0, 0, 4), '[████]');
});

test('a terminal gets one bar per step; a pipe gets plain counts', () => {
  const tty = renderRollout(rollout, true);
  assert.match(tty, /canary {3}\[█{20}\] 1\/1 healthy/);
  assert.match(
    tty,
    /wave-1 {3}\[█{7}░{13}\] 1\/3 healthy, 1 updating, 0 unhealthy, 1 offline, 0 reverted {2}running/,
  );
  const plain = renderRollout(rollout, false);
  assert.doesNotMatch(plain, /[█░]/);
  assert.match(plain, /^step canary: 1\/1 healthy, .* \(passed\)$/m);
  assert.match(
    plain,
    /^step wave-1: 1\/3 healthy, 1 updating, 0 unhealthy, 1 offline, 0 reverted \(running\)$/m,
  );
  assert.match(plain, /^offline \(deferred\): n3$/m);
  assert.match(plain, /step-started: wave-1 started/);
  assert.equal(
    stepLine({ name: 'x', size: 2, healthy: 2 }, false),
    'step x: 2/2 healthy, 0 updating, 0 unhealthy, 0 offline, 0 reverted (done)',
  );
});

test('a piped watch line names the phase, the progress and the running step', () => {
  assert.match(watchLine(rollout), / r1 phase wave progress 50%; step wave-1: 1\/3 healthy/);
  assert.match(
    watchLine({ ...rollout, phase: 'rolled-back', steps: [], outcome: 'canary failed' }),
    /phase rolled-back progress 50% outcome: canary failed$/m,
  );
});
