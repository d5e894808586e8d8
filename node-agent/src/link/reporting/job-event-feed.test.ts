import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import type { JobStatus } from '../../supervisor/job-status.ts';
import { jobStatus } from '../../testing/job-status.ts';
import type { EventOutbox, OutboxEvent } from './event-outbox.ts';
import { JobEventFeed } from './job-event-feed.ts';

const status = (over: Partial<JobStatus> = {}): JobStatus => jobStatus({ label: 'com.acme.web', ...over });

/** The feed with an outbox that records what it is given, in order. */
function feed(clock: FakeClock, versions: Map<string, number>) {
  const sent: OutboxEvent[] = [];
  const outbox = {
    emit: (e: OutboxEvent) => sent.push(e),
    putJobState: (_key: string, e: OutboxEvent) => sent.push(e),
  } as unknown as EventOutbox;
  const stats = { jobStateCoalesced: 0, jobActivityEvents: 0, jobLoadedFolded: 0, bundleAcceptedFolded: 0 };
  const f = new JobEventFeed({
    nodeId: () => 'n1',
    clock,
    scheduler: clock,
    log: () => {},
    outbox,
    managedVersion: (target, label) => versions.get(`${target}/${label}`),
    stats,
  });
  return { f, sent, stats };
}

const loaded = (version: number, reason = 'updated'): OutboxEvent => ({
  kind: 'job-loaded',
  label: 'com.acme.web',
  domain: 'system',
  version,
  reason,
  detail: `${reason} to version ${version}`,
});

describe('job event feed: a load is one event', () => {
  test("an update's job-loaded goes out once, with the state the job settled in, and no job-state", () => {
    const clock = new FakeClock();
    const versions = new Map([['system/com.acme.web', 1]]);
    const { f, sent, stats } = feed(clock, versions);
    f.observe(status());
    clock.advance(1000);
    assert.deepEqual(
      sent.map((e) => [e.kind, e.version]),
      [['job-state', 1]],
      'first sight of version 1 (no job-loaded announced for it)',
    );
    // Version 2 replaces the process: the reconciler announces, the supervisor pushes the new pid.
    versions.set('system/com.acme.web', 2);
    f.announce(loaded(2));
    f.observe(status({ pid: 43, runs: 2 }));
    clock.advance(999);
    assert.equal(sent.length, 1, 'held for the settle time');
    clock.advance(1);
    assert.equal(sent.length, 2);
    const e = sent[1];
    assert.equal(e?.kind, 'job-loaded');
    assert.equal(e?.version, 2);
    assert.equal(e?.reason, 'updated');
    assert.deepEqual(e?.jobState, { subState: 'running', active: 'active', result: 'success' });
    assert.match(e?.detail ?? '', /^updated to version 2; /);
    assert.equal(stats.jobLoadedFolded, 1);
    clock.advance(60_000);
    assert.deepEqual(
      sent.slice(2).map((x) => x.kind),
      ['job-activity'],
      'only the minute summary follows: no job-state for version 2',
    );
  });

  test('a job-loaded whose transition never comes goes out alone after the hold', () => {
    const clock = new FakeClock();
    const { f, sent, stats } = feed(clock, new Map());
    f.announce(loaded(3, 'loaded'));
    clock.advance(2999);
    assert.equal(sent.length, 0);
    clock.advance(1);
    assert.deepEqual(sent, [loaded(3, 'loaded')]);
    assert.equal(stats.jobLoadedFolded, 0);
  });

  test('a transition of another version leaves the job-loaded waiting for its own', () => {
    const clock = new FakeClock();
    const versions = new Map([['system/com.acme.web', 1]]);
    const { f, sent } = feed(clock, versions);
    f.observe(status());
    f.announce(loaded(2));
    clock.advance(1000);
    assert.deepEqual(
      sent.map((e) => [e.kind, e.version]),
      [['job-state', 1]],
    );
    versions.set('system/com.acme.web', 2);
    f.observe(status({ pid: 43 }));
    clock.advance(1000);
    assert.deepEqual(
      sent.map((e) => [e.kind, e.version, e.jobState?.subState]),
      [
        ['job-state', 1, 'running'],
        ['job-loaded', 2, 'running'],
      ],
    );
  });

  test('a second announce of the same job sends the first alone; stop sends what is held', () => {
    const clock = new FakeClock();
    const { f, sent } = feed(clock, new Map());
    f.announce(loaded(2));
    f.announce(loaded(3));
    assert.deepEqual(
      sent.map((e) => e.version),
      [2],
    );
    f.stop();
    assert.deepEqual(
      sent.map((e) => e.version),
      [2, 3],
    );
  });

  test('an event without a version or domain is not held', () => {
    const clock = new FakeClock();
    const { f, sent } = feed(clock, new Map());
    const { version: _v, ...noVersion } = loaded(1);
    f.announce(noVersion);
    assert.equal(sent.length, 1);
  });

  test('a bundle whose job loads is said by its job-loaded; one not loaded goes out alone', () => {
    const clock = new FakeClock();
    const versions = new Map([['system/com.acme.web', 2]]);
    const { f, sent, stats } = feed(clock, versions);
    const accepted = (label: string, version: number): OutboxEvent => ({
      kind: 'bundle-accepted',
      label,
      reason: 'ok',
      detail: `version ${version}`,
      version,
    });
    f.acceptBundle(accepted('com.acme.web', 2));
    f.acceptBundle(accepted('com.acme.agent', 1));
    f.announce(loaded(2));
    f.observe(status());
    clock.advance(1000);
    assert.deepEqual(
      sent.map((e) => [e.kind, e.label, e.version]),
      [['job-loaded', 'com.acme.web', 2]],
      'one event for the update',
    );
    assert.equal(stats.bundleAcceptedFolded, 1);
    // com.acme.agent never loaded (no session for its domain): it is reported alone after the hold.
    clock.advance(2000);
    assert.deepEqual(
      sent.map((e) => [e.kind, e.label]),
      [
        ['job-loaded', 'com.acme.web'],
        ['bundle-accepted', 'com.acme.agent'],
      ],
    );
  });

  test('another event of the label sends the held acceptance first (a load failure keeps its order)', () => {
    const clock = new FakeClock();
    const { f, sent } = feed(clock, new Map());
    f.acceptBundle({ kind: 'bundle-accepted', label: 'com.acme.bad', reason: 'ok', version: 4 });
    f.otherEvent('com.acme.bad');
    assert.deepEqual(
      sent.map((e) => e.kind),
      ['bundle-accepted'],
    );
  });

  test('a version that settles in trouble keeps its job-state event, after the job-loaded', () => {
    const clock = new FakeClock();
    const versions = new Map([['system/com.acme.web', 2]]);
    const { f, sent, stats } = feed(clock, versions);
    f.announce(loaded(2));
    f.observe(
      status({ subState: 'spawn-scheduled', pid: undefined, successiveCrashes: 3, throttledUntil: 1 }),
    );
    clock.advance(1000);
    assert.deepEqual(
      sent.map((e) => [e.kind, e.version, e.jobState === undefined]),
      [
        ['job-loaded', 2, true],
        ['job-state', 2, false],
      ],
    );
    assert.equal(stats.jobLoadedFolded, 0);
  });
});
