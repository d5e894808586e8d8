// job_keepalive's order (docs/launchd-semantics.md §2.2) and the throttle arithmetic (§2.3), as pure tables.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobSpec } from '../../testing/job-spec-builder.ts';
import { jobKeepalive, jobUseless } from './keepalive.ts';
import { initialJobState, NOTHING_OBSERVED, type JobState } from './job-state.ts';
import { backoffExtraSec, effectiveThrottleSec, throttleDelayMs, trackRun } from './throttle.ts';
import { machineConfig } from './machine-config.ts';

const st = (over: Partial<JobState> = {}): JobState => ({ ...initialJobState(), ...over });

describe('jobKeepalive order', () => {
  const cases: {
    name: string;
    spec: ReturnType<typeof jobSpec>;
    state: JobState;
    keep: boolean;
    because?: string;
  }[] = [
    { name: 'nothing set', spec: jobSpec('a'), state: st(), keep: false },
    {
      name: 'KeepAlive=true',
      spec: jobSpec('a', { keepAlive: true }),
      state: st(),
      keep: true,
      because: 'inefficient',
    },
    {
      name: 'needs_kickoff beats start_pending',
      spec: jobSpec('a', { keepAlive: true }),
      state: st({ needsKickoff: true, startPending: true }),
      keep: false,
    },
    {
      name: 'domain shutdown beats everything',
      spec: jobSpec('a', { keepAlive: true }),
      state: st({ startPending: true, observed: { ...NOTHING_OBSERVED, domainShuttingDown: true } }),
      keep: false,
    },
    {
      name: 'disabled is a no-op KeepAlive',
      spec: jobSpec('a', { keepAlive: true }),
      state: st({ disabled: true }),
      keep: false,
    },
    {
      name: 'start_pending carries its reason',
      spec: jobSpec('a'),
      state: st({ startPending: true, pendingReason: 'calendar' }),
      keep: true,
      because: 'calendar',
    },
    {
      name: 'SuccessfulExit=true before any run (status 0 is good)',
      spec: jobSpec('a', { keepAlive: { successfulExit: true } }),
      state: st(),
      keep: true,
      because: 'semaphore',
    },
    {
      name: 'Crashed=false includes a clean exit 0',
      spec: jobSpec('a', { keepAlive: { crashed: false } }),
      state: st({ lastExit: { kind: 'code', code: 0 } }),
      keep: true,
    },
    {
      name: 'Crashed=false after a crash: no',
      spec: jobSpec('a', { keepAlive: { crashed: false } }),
      state: st({ crashed: true, lastExit: { kind: 'signal', signal: 'SIGSEGV' } }),
      keep: false,
    },
    {
      name: 'queue directory non-empty',
      spec: jobSpec('a', { queueDirectories: ['/q'] }),
      state: st({ observed: { ...NOTHING_OBSERVED, queueNonEmpty: true } }),
      keep: true,
      because: 'queue-directory',
    },
    {
      name: 'PathState true while the path exists',
      spec: jobSpec('a', { keepAlive: { pathState: { '/p': true } } }),
      state: st({ observed: { ...NOTHING_OBSERVED, pathExists: new Map([['/p', true]]) } }),
      keep: true,
    },
    {
      name: 'PathState false while it exists: no',
      spec: jobSpec('a', { keepAlive: { pathState: { '/p': false } } }),
      state: st({ observed: { ...NOTHING_OBSERVED, pathExists: new Map([['/p', true]]) } }),
      keep: false,
    },
    {
      name: 'OtherJobEnabled=true while the other job is loaded',
      spec: jobSpec('a', { keepAlive: { otherJobEnabled: { b: true } } }),
      state: st({ observed: { ...NOTHING_OBSERVED, otherJobLoaded: new Map([['b', true]]) } }),
      keep: true,
    },
    {
      name: 'OtherJobEnabled=false while the other job is absent',
      spec: jobSpec('a', { keepAlive: { otherJobEnabled: { b: false } } }),
      state: st(),
      keep: true,
    },
    {
      name: 'OtherJobActive=true while the other job has no process: no',
      spec: jobSpec('a', { keepAlive: { otherJobActive: { b: true } } }),
      state: st({ observed: { ...NOTHING_OBSERVED, otherJobActive: new Map([['b', false]]) } }),
      keep: false,
    },
    {
      name: 'NetworkState is ignored while the network is not observed',
      spec: jobSpec('a', { keepAlive: { networkState: true } }),
      state: st(),
      keep: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = jobKeepalive(c.spec, c.state);
      assert.equal(v.keep, c.keep, v.reason);
      if (c.because) assert.equal(v.because, c.because);
    });
  }

  it('jobUseless: LaunchOnlyOnce after a run, removal pending, domain shutdown', () => {
    assert.equal(jobUseless(jobSpec('a', { launchOnlyOnce: true }), st({ runs: 1 })).useless, true);
    assert.equal(jobUseless(jobSpec('a', { launchOnlyOnce: true }), st({ runs: 0 })).useless, false);
    assert.equal(jobUseless(jobSpec('a'), st({ removalPending: true })).useless, true);
    assert.equal(jobUseless(jobSpec('a'), st()).useless, false);
  });
});

describe('throttle arithmetic', () => {
  it('spawn-to-spawn spacing with whole-second truncation', () => {
    assert.equal(throttleDelayMs(undefined, 5000, 10), 0, 'first spawn is never throttled');
    assert.equal(throttleDelayMs(0, 1000, 10), 9000);
    assert.equal(throttleDelayMs(0, 300, 10), 10_000);
    assert.equal(throttleDelayMs(0, 9999, 10), 1000);
    assert.equal(throttleDelayMs(0, 10_000, 10), 0);
    assert.equal(throttleDelayMs(0, 15_000, 10), 0);
    assert.equal(throttleDelayMs(0, 100, 0), 0);
  });

  it('effective interval: default, plist, negative ignored, inetd exempt, D2', () => {
    const c = machineConfig('842');
    assert.equal(effectiveThrottleSec(jobSpec('a'), st(), c), 10);
    assert.equal(effectiveThrottleSec(jobSpec('a', { throttleInterval: 30 }), st(), c), 30);
    assert.equal(effectiveThrottleSec(jobSpec('a', { throttleInterval: -5 }), st(), c), 10);
    assert.equal(effectiveThrottleSec(jobSpec('a', { inetdCompatibility: { wait: false } }), st(), c), 0);
    assert.equal(effectiveThrottleSec(jobSpec('a', { throttleInterval: 0 }), st(), c), 0);
    assert.equal(
      effectiveThrottleSec(jobSpec('a', { throttleInterval: 0 }), st(), machineConfig('modern')),
      10,
    );
  });

  it('backoff: off by default; base << (crashes - grace) capped', () => {
    assert.equal(backoffExtraSec(10, 50, machineConfig()), 0);
    const c = machineConfig('842', { backoff: { enabled: true, graceCrashes: 3, capSec: 1200 } });
    assert.equal(backoffExtraSec(10, 3, c), 0);
    assert.equal(backoffExtraSec(10, 4, c), 10);
    assert.equal(backoffExtraSec(10, 6, c), 70);
    assert.equal(backoffExtraSec(10, 1000, c), 1190);
  });

  it('crash-loop tracking: threshold, our stops neutral, a lasting run clears', () => {
    const c = machineConfig('842', { crashLoop: { threshold: 3, minRunSec: 10 } });
    let t = { successiveCrashes: 0, shortRuns: 0 } as ReturnType<typeof trackRun>;
    const bad = { ranMs: 500, clean: false, stoppedByUs: false, respawnsAlways: false };
    t = trackRun(t, bad, 10, 1000, c);
    t = trackRun(t, bad, 10, 2000, c);
    assert.equal(t.crashLooping, undefined);
    t = trackRun(t, { ...bad, stoppedByUs: true }, 10, 2500, c);
    assert.equal(t.shortRuns, 2);
    t = trackRun(t, bad, 10, 3000, c);
    assert.deepEqual(t.crashLooping, { sinceMs: 3000, count: 3 });
    t = trackRun(t, bad, 10, 4000, c);
    assert.deepEqual(t.crashLooping, { sinceMs: 3000, count: 4 });
    t = trackRun(t, { ...bad, ranMs: 60_000 }, 10, 70_000, c);
    assert.equal(t.crashLooping, undefined);
    assert.equal(t.successiveCrashes, 5);
    // The throttle interval raises the "short" bar: a 20 s run with ThrottleInterval=30 is short.
    assert.equal(
      trackRun({ successiveCrashes: 0, shortRuns: 0 }, { ...bad, ranMs: 20_000 }, 30, 0, c).shortRuns,
      1,
    );
  });
});
