import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutPhaseKind, RolloutSpec, RolloutState } from './core/index.ts';
import { currentRollouts } from './rollout-metrics.ts';

type Entry = { readonly spec: RolloutSpec; readonly state: RolloutState };

function entry(
  id: string,
  label: string,
  kind: RolloutPhaseKind,
  startedAt: number | null,
  domain = 'system',
): Entry {
  // Only the fields currentRollouts reads matter here; the rest of the state is irrelevant to it.
  const spec = { rolloutId: id, label, domain } as RolloutSpec;
  const state = { rolloutId: id, phase: { kind }, startedAt } as RolloutState;
  return { spec, state };
}

const ids = (xs: readonly Entry[]): string[] => xs.map((x) => x.spec.rolloutId).sort();

test('a failed rollout is no longer current once a newer rollout of the same job started', () => {
  const old = entry('r1', 'com.acme.a', 'failed', 1000);
  const newer = entry('r2', 'com.acme.a', 'succeeded', 2000);
  assert.deepEqual(ids(currentRollouts([old, newer])), ['r2']);
  assert.deepEqual(ids(currentRollouts([newer, old])), ['r2']);
});

test('the last rollout of a job stays current, whatever its outcome', () => {
  assert.deepEqual(ids(currentRollouts([entry('r1', 'com.acme.a', 'rolled-back', 1000)])), ['r1']);
});

test('unfinished rollouts are always current; a rollout not started yet counts as the newest', () => {
  const failed = entry('r1', 'com.acme.a', 'failed', 1000);
  const pending = entry('r2', 'com.acme.a', 'pending', null);
  const paused = entry('r0', 'com.acme.a', 'paused', 500);
  assert.deepEqual(ids(currentRollouts([failed, pending, paused])), ['r0', 'r2']);
});

test('jobs are told apart by domain and label', () => {
  const a = entry('r1', 'com.acme.a', 'failed', 1000, 'system');
  const b = entry('r2', 'com.acme.a', 'succeeded', 2000, 'gui/501');
  const c = entry('r3', 'com.acme.b', 'aborted', 3000, 'system');
  assert.deepEqual(ids(currentRollouts([a, b, c])), ['r1', 'r2', 'r3']);
});
