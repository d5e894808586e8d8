// Counts, rounding, step plans and spec validation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testSpec } from '../testing/rollout-harness.ts';
import { planSteps, planUpdates } from './rollout-planner.ts';
import {
  type Count,
  failureThreshold,
  resolveCount,
  resolveMaxUnavailable,
  validateRolloutSpec,
  withDefaults,
} from './rollout-spec.ts';

describe('resolveCount: percentages round up, never 0 of a non-empty base unless 0%', () => {
  const rows: [Count, number, number][] = [
    [{ percent: 1 }, 10, 1],
    [{ percent: 10 }, 10, 1],
    [{ percent: 10 }, 30, 3], // 10% of 30 is 3 exactly (floating point would say 3.0000000000000004)
    [{ percent: 11 }, 30, 4],
    [{ percent: 33.3 }, 3, 1],
    [{ percent: 50 }, 5, 3],
    [{ percent: 100 }, 7, 7],
    [{ percent: 0 }, 7, 0],
    [{ percent: 0.001 }, 1, 1],
    [{ percent: 25 }, 0, 0],
    [{ n: 3 }, 10, 3],
    [{ n: 30 }, 10, 10],
    [{ n: 0 }, 10, 0],
    [{ n: 5 }, 0, 0],
  ];
  for (const [count, base, want] of rows)
    it(`${JSON.stringify(count)} of ${base} = ${want}`, () => assert.equal(resolveCount(count, base), want));
});

describe('maxUnavailable and the failure threshold', () => {
  it('maxUnavailable is at least 1 for a non-empty target and all nodes for all-at-once', () => {
    const cw = (c: Count) => ({
      kind: 'canary-waves' as const,
      canary: { n: 1 },
      waves: [],
      maxUnavailable: c,
    });
    assert.equal(resolveMaxUnavailable(cw({ n: 0 }), 10), 1);
    assert.equal(resolveMaxUnavailable(cw({ percent: 25 }), 10), 3);
    assert.equal(resolveMaxUnavailable({ kind: 'all-at-once' }, 10), 10);
    assert.equal(resolveMaxUnavailable(cw({ n: 3 }), 0), 0);
  });
  it('the threshold is a percentage of the step rounded up, never below 1', () => {
    const gate = testSpec(1).gate;
    assert.equal(failureThreshold({ ...gate, maxUnhealthy: { n: 0 } }, 5), 1);
    assert.equal(failureThreshold({ ...gate, maxUnhealthy: { percent: 10 } }, 1), 1);
    assert.equal(failureThreshold({ ...gate, maxUnhealthy: { percent: 50 } }, 10), 5);
    assert.equal(failureThreshold({ ...gate, maxUnhealthy: { percent: 50 } }, 0), 1);
  });
});

describe('planSteps', () => {
  const names = (spec: ReturnType<typeof testSpec>) =>
    planSteps(spec).map((s) => `${s.name}:${s.nodeIds.join(',')}`);
  it('canary then waves; the last wave size repeats until every node is covered', () => {
    assert.deepEqual(names(testSpec(8)), ['canary:n0', 'wave-1:n1,n2,n3', 'wave-2:n4,n5,n6', 'wave-3:n7']);
  });
  it('percentages of the whole target, rounded up', () => {
    const spec = testSpec(10, {
      strategy: {
        kind: 'canary-waves',
        canary: { percent: 1 },
        waves: [{ percent: 20 }, { percent: 50 }],
        maxUnavailable: { n: 1 },
      },
    });
    assert.deepEqual(names(spec), ['canary:n0', 'wave-1:n1,n2', 'wave-2:n3,n4,n5,n6,n7', 'wave-3:n8,n9']);
  });
  it('a 0 canary is skipped; no waves means one wave with the rest; zero-size waves are skipped', () => {
    const s = (canary: Count, waves: Count[]) =>
      testSpec(4, { strategy: { kind: 'canary-waves', canary, waves, maxUnavailable: { n: 1 } } });
    assert.deepEqual(names(s({ n: 0 }, [{ n: 2 }])), ['wave-1:n0,n1', 'wave-2:n2,n3']);
    assert.deepEqual(names(s({ n: 1 }, [])), ['canary:n0', 'wave-1:n1,n2,n3']);
    assert.deepEqual(names(s({ n: 1 }, [{ n: 0 }, { percent: 0 }])), ['canary:n0', 'wave-1:n1,n2,n3']);
    assert.deepEqual(names(s({ n: 9 }, [{ n: 2 }])), ['canary:n0,n1,n2,n3']);
  });
  it('all-at-once is one step; an empty target has none', () => {
    assert.deepEqual(names(testSpec(3, { strategy: { kind: 'all-at-once' } })), ['all:n0,n1,n2']);
    assert.deepEqual(names(testSpec(0)), []);
  });
});

describe('planUpdates', () => {
  const node = (
    nodeId: string,
    step: number,
    status: 'untouched' | 'updating' | 'healthy',
    online = true,
  ) => ({
    nodeId,
    step,
    status,
    touched: status !== 'untouched',
    online,
  });
  it('fills the room under maxUnavailable from the current and earlier steps only, earlier first', () => {
    const plan = planUpdates(
      [
        node('a', 0, 'healthy'),
        node('b', 1, 'updating'),
        node('c', 1, 'untouched'),
        node('z', 0, 'untouched'),
      ]
        .concat([node('d', 1, 'untouched'), node('e', 2, 'untouched'), node('f', 1, 'untouched', false)])
        .sort((x, y) => x.step - y.step),
      1,
      3,
    );
    assert.deepEqual(plan.update, ['z', 'c']);
    assert.deepEqual(plan.hold, ['d']);
    assert.equal(plan.inFlux, 1);
  });
  it('no room, no updates', () => {
    const plan = planUpdates([node('a', 0, 'updating'), node('b', 0, 'untouched')], 0, 1);
    assert.deepEqual(plan.update, []);
    assert.deepEqual(plan.hold, ['b']);
  });
});

describe('validateRolloutSpec', () => {
  it('accepts a good spec and defaults autoRollback to true', () => {
    const { autoRollback: _drop, ...input } = testSpec(3);
    const r = validateRolloutSpec(input);
    assert.ok(r.ok);
    assert.equal(r.value.autoRollback, true);
    assert.equal(withDefaults({ ...input, autoRollback: false }).autoRollback, false);
  });
  it('reports every problem as a value', () => {
    const bad = testSpec(2, {
      targetNodes: ['n0', 'n0', '__proto__', ''],
      toVersion: '',
      strategy: {
        kind: 'canary-waves',
        canary: { n: -1 },
        waves: [{ percent: 101 }],
        maxUnavailable: { n: 1.5 },
      },
      gate: {
        minHealthySeconds: 60,
        progressDeadlineSeconds: 30,
        maxUnhealthy: { percent: NaN },
        requireNoCrashInWindow: true,
      },
    });
    const r = validateRolloutSpec(bad);
    assert.ok(!r.ok);
    const fields = r.error.map((i) => i.field).sort();
    assert.deepEqual(fields, [
      'gate.maxUnhealthy',
      'gate.progressDeadlineSeconds',
      'strategy.canary',
      'strategy.maxUnavailable',
      'strategy.waves.0',
      'targetNodes.1',
      'targetNodes.2',
      'targetNodes.3',
      'toVersion',
    ]);
  });
});
