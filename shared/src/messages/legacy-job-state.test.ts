import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNodeStatus, decodeNodeEvent, decodeNodeStatus } from './node-messages.ts';
import { legacyJobState } from './legacy-job-state.ts';
import { oldJobStateEvents, oldNodeStatus } from './fixtures/agent-0.1.0-messages.ts';

test('a node status of an old agent reads as typed states (captured message)', () => {
  const d = decodeNodeStatus(oldNodeStatus);
  assert.ok(d.ok, d.ok ? '' : d.error.detail);
  assert.deepEqual(d.value.jobs, {
    'com.acme.web': { subState: 'running', active: 'active', result: 'success' },
    // The old agent said `waiting`; its exit status 3 says what it was: exited, failed.
    'com.acme.report': { subState: 'exited', active: 'failed', result: 'exit-code' },
    'com.acme.nightly': { subState: 'waiting', active: 'inactive', result: 'success' },
    'com.acme.crasher': { subState: 'spawn-scheduled', active: 'activating', result: 'exit-code' },
    'com.acme.noexec': { subState: 'exited', active: 'failed', result: 'spawn-failed' },
    // Only in the details of the old report; now a job state like any other.
    'com.acme.broken': { subState: 'unloaded', active: 'failed', result: 'load-failed' },
  });
  assert.equal(d.value.details?.['com.acme.crasher']?.throttled, true);
});

test("an old agent's job-state events carry a typed state", () => {
  const states = oldJobStateEvents.map((raw) => {
    const e = decodeNodeEvent(raw);
    assert.ok(e.ok, e.ok ? '' : e.error.detail);
    return [e.value.label, e.value.jobState?.subState, e.value.jobState?.active];
  });
  assert.deepEqual(states, [
    ['com.acme.web', 'running', 'active'],
    ['com.acme.report', 'waiting', 'inactive'], // events carried no exit status: the best reading
    ['com.acme.nightly', 'waiting', 'inactive'],
    ['com.acme.crasher', 'spawning', 'activating'],
    ['com.acme.noexec', 'exited', 'failed'],
  ]);
});

test('every old spelling has one reading; signals we send to stop a job read as stopped', () => {
  const rows: [Parameters<typeof legacyJobState>[0], Parameters<typeof legacyJobState>[1], string][] = [
    ['waiting', { lastExitStatus: -15 }, 'waiting/inactive/stopped'],
    ['waiting', { lastExitStatus: -9 }, 'waiting/inactive/stopped'],
    ['waiting', { lastExitStatus: -11 }, 'exited/failed/signal'],
    ['disabled', undefined, 'waiting/inactive/success'],
    ['spawn_scheduled', undefined, 'spawning/activating/success'],
    ['stopping', { lastExitStatus: 0 }, 'stopping-term/deactivating/success'],
    ['load_failed', undefined, 'unloaded/failed/load-failed'],
  ];
  for (const [old, detail, want] of rows) {
    const s = legacyJobState(old, detail);
    assert.equal(`${s.subState}/${s.active}/${s.result}`, want, `${old} ${JSON.stringify(detail)}`);
  }
});

test('typed states round-trip; an inconsistent or unknown state is refused', () => {
  const base = { nodeId: 'n' + 'a'.repeat(20), health: 'ok' as const, versions: {} };
  const good = { ...base, jobs: { a: { subState: 'exited', active: 'failed', result: 'crash' } as const } };
  const r = decodeNodeStatus(encodeNodeStatus(good, 1));
  assert.ok(r.ok);
  assert.deepEqual(r.value.jobs, good.jobs);
  for (const bad of [
    { subState: 'exited', active: 'inactive', result: 'crash' }, // active contradicts the table
    { subState: 'crashed', active: 'failed', result: 'crash' },
    { subState: 'running', active: 'active' },
    'throttled',
  ]) {
    const d = decodeNodeStatus(encodeNodeStatus({ ...base, jobs: { a: bad } } as never, 1));
    assert.equal(d.ok, false, JSON.stringify(bad));
  }
});
