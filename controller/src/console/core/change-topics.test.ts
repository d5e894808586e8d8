import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type JobSubStateKind, jobStateReport } from '@launchfleet/shared/job';
import type { NodeStatus } from '@launchfleet/shared/messages';
import { batchTopics, statusTopics } from './change-topics.ts';

const st = (states: Record<string, JobSubStateKind>, health: NodeStatus['health'] = 'ok'): NodeStatus => ({
  nodeId: 'n',
  health,
  jobs: Object.fromEntries(Object.entries(states).map(([l, s]) => [l, jobStateReport(s, 'success')])),
  versions: Object.fromEntries(Object.keys(states).map((l) => [l, '1'])),
});

test('a job changing state concerns its page, the jobs list and the node', () => {
  const t = statusTopics('N1', st({ a: 'running', b: 'running' }), st({ a: 'waiting', b: 'running' }), false);
  assert.deepEqual(t.sort(), ['job:a', 'jobs', 'node:N1']);
});

test('a heartbeat-like status with nothing new concerns only the node', () => {
  assert.deepEqual(statusTopics('N1', st({ a: 'running' }), st({ a: 'running' }), false), ['node:N1']);
});

test('problems, health and a first status concern the fleet views', () => {
  assert.ok(statusTopics('N1', st({ a: 'running' }), st({ a: 'running' }), true).includes('fleet'));
  assert.ok(statusTopics('N1', st({}, 'ok'), st({}, 'degraded'), false).includes('fleet'));
  assert.ok(statusTopics('N1', undefined, st({}), false).includes('fleet'));
});

test('a flood of topics becomes one refresh-everything', () => {
  assert.deepEqual(batchTopics(new Set(['b', 'a']), 10), ['a', 'b']);
  assert.deepEqual(batchTopics(new Set(Array.from({ length: 11 }, (_, i) => `t${i}`)), 10), ['*']);
});
