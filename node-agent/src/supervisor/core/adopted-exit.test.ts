// The end of an adopted process (docs/upgrades.md): no code, no signal. The machine records an
// unknown status (never a made-up code) and KeepAlive treats it as a non-zero exit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JobSpec } from '@launchfleet/shared/job';
import { jobSpec, type JobSpecInput } from '../../testing/job-spec-builder.ts';
import { machineConfig } from './machine-config.ts';
import { step } from './job-machine.ts';
import { initialJobState, type JobState } from './job-state.ts';

const config = machineConfig('842');

/** Load, adopt pid 42, run 60 s, then it is gone with an unknown status. */
function adoptedThenGone(input: JobSpecInput): { state: JobState; respawned: boolean } {
  const spec: JobSpec = jobSpec('adopt', { runAtLoad: true, ...input });
  let s = step(spec, initialJobState(), { type: 'load', disabled: false }, 0, config).state;
  assert.equal(s.sub.kind, 'spawning');
  s = step(spec, s, { type: 'spawned', pid: 42, adopted: true }, 1, config).state;
  assert.match(s.history.at(-1)?.detail ?? '', /adopted from the previous agent/);
  const r = step(spec, s, { type: 'exited', pid: 42, code: null, signal: null }, 60_000, config);
  return { state: r.state, respawned: r.effects.some((e) => e.type === 'spawn') };
}

describe('an adopted process ends: status unknown', () => {
  it('is recorded as unknown, result unknown, not a failure, not a crash', () => {
    const { state, respawned } = adoptedThenGone({});
    assert.deepEqual(state.lastExit, { kind: 'unknown' });
    assert.equal(state.result, 'unknown');
    assert.equal(state.crashed, false);
    assert.equal(state.sub.kind, 'waiting');
    assert.equal(respawned, false);
    assert.match(state.history.at(-1)?.detail ?? '', /status unknown/);
  });

  it('KeepAlive rules read it as a non-zero exit', () => {
    assert.equal(adoptedThenGone({ keepAlive: true }).respawned, true);
    assert.equal(adoptedThenGone({ keepAlive: { successfulExit: false } }).respawned, true);
    assert.equal(adoptedThenGone({ keepAlive: { successfulExit: true } }).respawned, false);
    assert.equal(adoptedThenGone({ keepAlive: { crashed: true } }).respawned, false);
    assert.equal(adoptedThenGone({ keepAlive: { crashed: false } }).respawned, true);
  });

  it('an exit of our own child with a code is unchanged', () => {
    const spec = jobSpec('child', { runAtLoad: true });
    let s = step(spec, initialJobState(), { type: 'load', disabled: false }, 0, config).state;
    s = step(spec, s, { type: 'spawned', pid: 7 }, 1, config).state;
    s = step(spec, s, { type: 'exited', pid: 7, code: 0, signal: null }, 5_000, config).state;
    assert.deepEqual(s.lastExit, { kind: 'code', code: 0 });
    assert.equal(s.result, 'success');
  });
});
