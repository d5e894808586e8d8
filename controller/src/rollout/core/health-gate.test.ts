// The node and step gates: verdict tables with reasons.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateNode, evaluateStep, type NodeVerdict } from './health-gate.ts';
import { type JobHealthFacts, type NodeObservation, quietJobFacts } from './node-observation.ts';
import type { HealthGate, JobKind } from './rollout-spec.ts';

const gate: HealthGate = {
  minHealthySeconds: 30,
  progressDeadlineSeconds: 120,
  maxUnhealthy: { n: 1 },
  requireNoCrashInWindow: true,
};
const running: JobHealthFacts = {
  ...quietJobFacts,
  state: 'active',
  runningSince: 1_000,
  loadedSince: 1_000,
};
const obs = (
  over: Partial<NodeObservation> = {},
  job: Partial<JobHealthFacts> | null = {},
): NodeObservation => ({
  nodeId: 'n0',
  online: true,
  lastSeenAt: 50_000,
  acknowledgedVersion: 'v2',
  reportedVersion: 'v2',
  job: job === null ? null : { ...running, ...job },
  ...over,
});

describe('evaluateNode', () => {
  // [name, kind, observation, now, verdict, reason fragment]
  const rows: [string, JobKind, NodeObservation | null, number, NodeVerdict['verdict'], string][] = [
    ['never observed', 'keep-alive', null, 40_000, 'offline', 'never observed'],
    ['offline', 'keep-alive', obs({ online: false }), 40_000, 'offline', 'offline'],
    [
      'not acknowledged yet',
      'keep-alive',
      obs({ acknowledgedVersion: 'v1' }),
      40_000,
      'pending',
      'acknowledged v1',
    ],
    [
      'acknowledged, old version still loaded',
      'keep-alive',
      obs({ reportedVersion: 'v1' }),
      40_000,
      'pending',
      'runs v1',
    ],
    [
      'load failed',
      'keep-alive',
      obs({ reportedVersion: 'v1' }, { loadFailed: true }),
      40_000,
      'unhealthy',
      'load',
    ],
    ['spawn failed', 'keep-alive', obs({}, { spawnFailed: true }), 40_000, 'unhealthy', 'spawn failed'],
    ['no status yet', 'keep-alive', obs({}, null), 40_000, 'pending', 'no job status'],
    ['crash-looping', 'keep-alive', obs({}, { crashLooping: true }), 40_000, 'unhealthy', 'crash-looping'],
    ['throttled', 'keep-alive', obs({}, { throttled: true }), 40_000, 'unhealthy', 'throttled'],
    [
      'crash in the window',
      'keep-alive',
      obs({}, { lastCrashAt: 600, runningSince: 20_000 }),
      60_000,
      'unhealthy',
      'crashed',
    ],
    [
      'crash before the window',
      'keep-alive',
      obs({}, { lastCrashAt: 400 }),
      40_000,
      'healthy',
      'running since',
    ],
    [
      'failed state',
      'keep-alive',
      obs({}, { state: 'failed', runningSince: null }),
      40_000,
      'unhealthy',
      'failed',
    ],
    [
      'not running',
      'keep-alive',
      obs({}, { state: 'activating', runningSince: null }),
      40_000,
      'pending',
      'not running',
    ],
    ['running, too short', 'keep-alive', obs(), 30_999, 'pending', 'healthy in 1 ms'],
    ['running long enough', 'keep-alive', obs(), 31_000, 'healthy', 'running since'],
    [
      'on-demand: loaded, idle',
      'on-demand',
      obs({}, { state: 'inactive', runningSince: null }),
      31_000,
      'healthy',
      'loaded',
    ],
    [
      'timed: loaded too recently',
      'timed',
      obs({}, { state: 'inactive', runningSince: null }),
      20_000,
      'pending',
      'loaded',
    ],
    [
      'on-demand: failed',
      'on-demand',
      obs({}, { state: 'failed', runningSince: null }),
      31_000,
      'unhealthy',
      'failed',
    ],
    ['on-demand: throttled', 'on-demand', obs({}, { throttled: true }), 31_000, 'unhealthy', 'throttled'],
  ];
  for (const [name, kind, o, now, verdict, reason] of rows) {
    it(`${name} -> ${verdict}`, () => {
      const v = evaluateNode(gate, kind, o, 'v2', 500, now);
      assert.equal(v.verdict, verdict, v.reason);
      assert.match(v.reason, new RegExp(reason));
    });
  }
  it('a pending running node says when it becomes healthy', () => {
    assert.equal(evaluateNode(gate, 'keep-alive', obs(), 'v2', 500, 10_000).recheckAt, 31_000);
  });
  it('without requireNoCrashInWindow an old crash does not disqualify a running node', () => {
    const g = { ...gate, requireNoCrashInWindow: false };
    const o = obs({}, { lastCrashAt: 10_000, runningSince: 10_001 });
    assert.equal(evaluateNode(g, 'keep-alive', o, 'v2', 500, 45_000).verdict, 'healthy');
    assert.equal(evaluateNode(gate, 'keep-alive', o, 'v2', 500, 45_000).verdict, 'unhealthy');
  });
  it('a nonsense timestamp from a node does not crash the reason text', () => {
    const v = evaluateNode(gate, 'keep-alive', obs({ online: false, lastSeenAt: 1e300 }), 'v2', 0, 0);
    assert.equal(v.verdict, 'offline');
  });
});

describe('evaluateStep', () => {
  const h: NodeVerdict = { verdict: 'healthy', reason: 'ok', recheckAt: null };
  const p = (at: number): NodeVerdict => ({ verdict: 'pending', reason: 'wait', recheckAt: at });
  const u: NodeVerdict = { verdict: 'unhealthy', reason: 'crash-looping', recheckAt: null };
  const o: NodeVerdict = { verdict: 'offline', reason: 'offline', recheckAt: null };
  it('passes when every updated node is healthy or offline and nothing remains', () => {
    const r = evaluateStep(gate, 3, [h, h, o], 0, 0, 10);
    assert.equal(r.result, 'passed');
    assert.deepEqual(r.counts, { healthy: 2, pending: 0, unhealthy: 0, offline: 1, remaining: 0 });
  });
  it('fails at the threshold, before the deadline, with the reasons', () => {
    const r = evaluateStep(gate, 3, [h, u, p(5)], 1, 0, 10);
    assert.equal(r.result, 'failed');
    assert.match(r.reason, /crash-looping/);
  });
  it('tolerates unhealthy nodes below a percentage threshold', () => {
    const g = { ...gate, maxUnhealthy: { percent: 50 } };
    assert.equal(evaluateStep(g, 4, [h, h, h, u], 0, 0, 10).result, 'passed');
    assert.equal(evaluateStep(g, 4, [h, h, u, u], 0, 0, 10).result, 'failed');
  });
  it('waits while nodes are pending or remain, rechecking at the earliest of node times and the deadline', () => {
    const r = evaluateStep(gate, 2, [h, p(40_000)], 0, 1_000, 10_000);
    assert.equal(r.result, 'pending');
    assert.equal(r.recheckAt, 40_000);
    assert.equal(evaluateStep(gate, 2, [h], 1, 1_000, 10_000).recheckAt, 121_000);
  });
  it('exceeds the deadline when no progress was made for progressDeadlineSeconds', () => {
    assert.equal(evaluateStep(gate, 2, [h, p(999_999)], 0, 1_000, 121_000).result, 'deadline-exceeded');
    assert.equal(evaluateStep(gate, 2, [h, p(999_999)], 0, 1_000, 120_999).result, 'pending');
  });
  it('an empty step passes at once', () => {
    assert.equal(evaluateStep(gate, 0, [], 0, 0, 0).result, 'passed');
  });
});
