import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AlertEvaluator,
  type FleetSample,
  type JobSample,
  type NodeSample,
  type RolloutSample,
} from './alert-evaluator.ts';
import { defaultAlertSettings, parseDurationMs, withHoldDowns } from './alert-rules.ts';

const s = 1000;
const min = 60 * s;
const t0 = 1_700_000_000_000;

/** A fake fleet the tests change between samples; `at(ms)` is the fake clock. */
function fleet() {
  const jobs = new Map<string, JobSample>();
  const nodes = new Map<string, NodeSample>();
  return {
    jobs,
    nodes,
    node(nodeId: string, lastSeen: number, counters?: NodeSample['counters']) {
      nodes.set(nodeId, { nodeId, hostname: `host-${nodeId}`, lastSeen, counters });
    },
    job(nodeId: string, label: string, problem: JobSample['problem'] | undefined) {
      if (problem === undefined) jobs.delete(`${nodeId}/${label}`);
      else
        jobs.set(`${nodeId}/${label}`, {
          nodeId,
          label,
          domain: 'system',
          problem,
          successiveCrashes: 7,
          lastExitStatus: 1,
        });
    },
    at(now: number): FleetSample {
      return { now, jobs: [...jobs.values()], nodes: [...nodes.values()] };
    },
  };
}

const edges = (ts: ReturnType<AlertEvaluator['evaluate']>) => ts.map((t) => `${t.type} ${t.alert.key}`);

test('crash-looping fires after its hold-down (5m by default), with the rule labels, and resolves once', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  f.node('n1', t0);
  f.job('n1', 'com.acme.api', 'crash_looping');
  assert.deepEqual(ev.evaluate(f.at(t0)), []);
  assert.deepEqual(ev.evaluate(f.at(t0 + 4 * min + 59 * s)), [], 'not before 5m');
  const fired = ev.evaluate(f.at(t0 + 5 * min));
  assert.deepEqual(edges(fired), ['firing LaunchfleetJobCrashLooping.n1.com_2Eacme_2Eapi']);
  const a = fired[0]?.alert;
  assert.equal(a?.node, 'n1');
  assert.equal(a?.domain, 'system');
  assert.equal(a?.label, 'com.acme.api');
  assert.equal(a?.severity, 'critical');
  assert.match(a?.summary ?? '', /crash-looping \(7 successive crashes, last exit status 1\)/);
  assert.equal(fired[0]?.activeSince, t0);
  assert.deepEqual(ev.evaluate(f.at(t0 + 6 * min)), [], 'fires once');
  f.job('n1', 'com.acme.api', undefined);
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 7 * min))), [
    'resolved LaunchfleetJobCrashLooping.n1.com_2Eacme_2Eapi',
  ]);
  assert.deepEqual(ev.evaluate(f.at(t0 + 8 * min)), []);
});

test('a condition that clears during its hold-down never fires and restarts its hold-down', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  f.job('n1', 'a', 'failed');
  ev.evaluate(f.at(t0));
  f.job('n1', 'a', undefined);
  assert.deepEqual(ev.evaluate(f.at(t0 + 3 * min)), [], 'pending dropped silently');
  f.job('n1', 'a', 'failed');
  assert.deepEqual(ev.evaluate(f.at(t0 + 4 * min)), []);
  assert.deepEqual(ev.evaluate(f.at(t0 + 8 * min)), [], 'only 4m since it came back');
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 9 * min))), ['firing LaunchfleetJobLoadFailed.n1.a']);
});

test('throttled: short running phases within 5m do not reset the 10m hold-down; 5m without throttling resolves', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  const out: string[] = [];
  // Throttled at every even minute, running in between, for 12 minutes.
  for (let m = 0; m <= 12; m++) {
    f.job('n1', 'j', m % 2 === 0 ? 'throttled' : undefined);
    out.push(...edges(ev.evaluate(f.at(t0 + m * min))).map((e) => `${m}: ${e}`));
  }
  assert.deepEqual(out, ['10: firing LaunchfleetJobThrottled.n1.j']);
  f.job('n1', 'j', undefined);
  assert.deepEqual(ev.evaluate(f.at(t0 + 17 * min)), [], 'still within 5m of the last throttled sample');
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 17 * min + 1))), ['resolved LaunchfleetJobThrottled.n1.j']);
});

test('node unseen: more than 10m without a report, held 5m; never-seen and fresh nodes do not alert', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  f.node('n1', t0);
  f.node('n2', 0);
  assert.deepEqual(ev.evaluate(f.at(t0 + 10 * min)), []);
  assert.deepEqual(ev.evaluate(f.at(t0 + 10 * min + 1)), [], 'pending');
  assert.deepEqual(ev.evaluate(f.at(t0 + 15 * min)), []);
  const fired = ev.evaluate(f.at(t0 + 15 * min + 1));
  assert.deepEqual(edges(fired), ['firing LaunchfleetNodeUnseen.n1']);
  assert.match(fired[0]?.alert.summary ?? '', /host-n1/);
  f.node('n1', t0 + 16 * min);
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 16 * min))), ['resolved LaunchfleetNodeUnseen.n1']);
});

test('counter alerts: the first sample is a baseline; a rise fires at once and resolves 15m after the last rise', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  f.node('n1', t0, { signatureRefusals: { expired: 3 } });
  assert.deepEqual(ev.evaluate(f.at(t0)), [], 'old refusals do not alert after a controller restart');
  assert.deepEqual(ev.evaluate(f.at(t0 + min)), []);
  f.node('n1', t0, { signatureRefusals: { expired: 4 }, drift: { 'plist-changed': 1 } });
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 2 * min))), [
    'firing LaunchfleetDriftDetected.n1.plist-changed',
    'firing LaunchfleetSignatureRefused.n1.expired',
  ]);
  assert.deepEqual(ev.evaluate(f.at(t0 + 17 * min)), []);
  const r = ev.evaluate(f.at(t0 + 17 * min + 1));
  assert.deepEqual(edges(r), [
    'resolved LaunchfleetDriftDetected.n1.plist-changed',
    'resolved LaunchfleetSignatureRefused.n1.expired',
  ]);
  assert.equal(r[1]?.alert.reason, 'expired');
  // An agent restart resets its counters: a lower value above zero is an increase.
  f.node('n1', t0, { signatureRefusals: { expired: 1 }, drift: { 'plist-changed': 1 } });
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 18 * min))), [
    'firing LaunchfleetSignatureRefused.n1.expired',
  ]);
});

test('adopted alerts (fired by another controller) resolve when their condition is gone', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  f.node('n1', t0, { signatureRefusals: { unsigned: 2 } });
  ev.adopt(
    {
      name: 'LaunchfleetJobCrashLooping',
      key: 'LaunchfleetJobCrashLooping.n1.j',
      severity: 'critical',
      node: 'n1',
      label: 'j',
      domain: 'system',
      summary: 'x',
    },
    t0 - min,
  );
  ev.adopt(
    {
      name: 'LaunchfleetSignatureRefused',
      key: 'LaunchfleetSignatureRefused.n1.unsigned',
      severity: 'warning',
      node: 'n1',
      reason: 'unsigned',
      summary: 'y',
    },
    t0 - min,
  );
  assert.deepEqual(edges(ev.evaluate(f.at(t0))), ['resolved LaunchfleetJobCrashLooping.n1.j']);
  assert.deepEqual(
    ev.firing().map((a) => a.key),
    ['LaunchfleetSignatureRefused.n1.unsigned'],
  );
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 14 * min + 1))), [
    'resolved LaunchfleetSignatureRefused.n1.unsigned',
  ]);
});

test('a retracted firing (publishing failed) fires again on the next sample', () => {
  const settings = withHoldDowns(defaultAlertSettings, ['JobCrashLooping=0']);
  assert.ok(settings.ok);
  const ev = new AlertEvaluator(settings.value);
  const f = fleet();
  f.job('n1', 'j', 'crash_looping');
  assert.deepEqual(edges(ev.evaluate(f.at(t0))), ['firing LaunchfleetJobCrashLooping.n1.j']);
  ev.retract('LaunchfleetJobCrashLooping.n1.j');
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + s))), ['firing LaunchfleetJobCrashLooping.n1.j']);
  assert.deepEqual(ev.evaluate(f.at(t0 + 2 * s)), []);
});

test('hold-down overrides and durations', () => {
  const r = withHoldDowns(defaultAlertSettings, ['LaunchfleetJobCrashLooping=2s', 'NodeUnseen=250ms']);
  assert.ok(r.ok);
  assert.equal(r.value.holdDownMs.LaunchfleetJobCrashLooping, 2000);
  assert.equal(r.value.holdDownMs.LaunchfleetNodeUnseen, 250);
  assert.equal(r.value.holdDownMs.LaunchfleetJobThrottled, 10 * min, 'others keep the defaults');
  assert.equal(defaultAlertSettings.holdDownMs.LaunchfleetJobCrashLooping, 5 * min, 'defaults untouched');
  assert.deepEqual(parseDurationMs('1h'), { ok: true, value: 3_600_000 });
  assert.deepEqual(parseDurationMs('0'), { ok: true, value: 0 });
  for (const bad of ['5', '-1s', '5d', '', 'abc']) assert.equal(parseDurationMs(bad).ok, false, bad);
  for (const bad of ['Nope=1s', 'JobCrashLooping', 'JobCrashLooping=x'])
    assert.equal(withHoldDowns(defaultAlertSettings, [bad]).ok, false, bad);
});

/** A rollout sample: `at` is its last progress. */
function rollout(
  state: RolloutSample['state'],
  lastProgressAt: number,
  o: Partial<RolloutSample> = {},
): RolloutSample {
  return {
    rolloutId: 'ro-1',
    label: 'com.acme.api',
    domain: 'system',
    state,
    lastProgressAt,
    progress: 0.25,
    ...o,
  };
}
const withRollouts = (f: FleetSample, rollouts: RolloutSample[] | undefined): FleetSample => ({
  ...f,
  rollouts,
});

test('rollout failed: fires at once (no for:) per rollout and state, with the rule labels; never for other states', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  for (const st of ['running', 'paused', 'succeeded', 'aborted'] as const)
    assert.deepEqual(ev.evaluate(withRollouts(f.at(t0), [rollout(st, t0)])), [], st);
  const fired = ev.evaluate(
    withRollouts(f.at(t0 + s), [rollout('failed', t0, { outcome: 'canary failed: 1 of 1 unhealthy' })]),
  );
  assert.deepEqual(edges(fired), ['firing LaunchfleetRolloutFailed.ro-1.failed']);
  const a = fired[0]?.alert;
  assert.equal(a?.rollout, 'ro-1');
  assert.equal(a?.label, 'com.acme.api');
  assert.equal(a?.state, 'failed');
  assert.equal(a?.severity, 'critical');
  assert.equal(a?.node, undefined);
  assert.match(
    a?.summary ?? '',
    /ro-1 of com\.acme\.api ended in state failed at 25% of its target: canary failed/,
  );
  assert.deepEqual(ev.evaluate(withRollouts(f.at(t0 + 2 * s), [rollout('failed', t0)])), [], 'fires once');
  // A rollback by hand after the failure: the rule's `state` label changes, so does the instance
  // (the state is one key token: `_` is encoded as `_5F`, keys.alert).
  assert.deepEqual(edges(ev.evaluate(withRollouts(f.at(t0 + 3 * s), [rollout('rolled_back', t0)]))), [
    'firing LaunchfleetRolloutFailed.ro-1.rolled_5Fback',
    'resolved LaunchfleetRolloutFailed.ro-1.failed',
  ]);
  assert.deepEqual(ev.evaluate(withRollouts(f.at(t0 + 4 * s), [rollout('rolled_back', t0)])), []);
});

test('rollout failed with a hold-down: a rollback that is over quickly does not fire before it', () => {
  const settings = withHoldDowns(defaultAlertSettings, ['RolloutFailed=1m']);
  assert.ok(settings.ok);
  const ev = new AlertEvaluator(settings.value);
  const f = fleet();
  assert.deepEqual(ev.evaluate(withRollouts(f.at(t0), [rollout('rolled_back', t0)])), []);
  assert.deepEqual(ev.evaluate(withRollouts(f.at(t0 + 59 * s), [rollout('rolled_back', t0)])), []);
  assert.deepEqual(edges(ev.evaluate(withRollouts(f.at(t0 + min), [rollout('rolled_back', t0)]))), [
    'firing LaunchfleetRolloutFailed.ro-1.rolled_5Fback',
  ]);
});

test('rollout stuck: running without progress for more than 15m, held 5m; progress resolves it; paused never', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  const at = (now: number, rs: RolloutSample[]) => edges(ev.evaluate(withRollouts(f.at(now), rs)));
  const paused = rollout('paused', t0, { rolloutId: 'ro-p' });
  assert.deepEqual(at(t0 + 15 * min, [rollout('running', t0), paused]), [], 'exactly 900 s is not > 900');
  assert.deepEqual(at(t0 + 15 * min + 1, [rollout('running', t0), paused]), [], 'pending');
  assert.deepEqual(at(t0 + 20 * min, [rollout('running', t0), paused]), [], 'held for 5m');
  const fired = ev.evaluate(withRollouts(f.at(t0 + 20 * min + 1), [rollout('running', t0), paused]));
  assert.deepEqual(edges(fired), ['firing LaunchfleetRolloutStuck.ro-1']);
  assert.equal(fired[0]?.alert.severity, 'warning');
  assert.match(fired[0]?.alert.summary ?? '', /no progress for 1200 s \(at 25% of its target\)/);
  assert.deepEqual(at(t0 + 30 * min, [rollout('running', t0), paused]), [], 'fires once');
  // Unknown rollouts (lf_rollouts unreadable): neither resolved nor fired again.
  assert.deepEqual(at(t0 + 31 * min, undefined as unknown as RolloutSample[]), []);
  assert.deepEqual(
    ev.firing().map((a) => a.key),
    ['LaunchfleetRolloutStuck.ro-1'],
  );
  assert.deepEqual(at(t0 + 32 * min, [rollout('running', t0 + 32 * min), paused]), [
    'resolved LaunchfleetRolloutStuck.ro-1',
  ]);
  // Stuck, then it fails: stuck resolves, failed fires.
  assert.deepEqual(at(t0 + 60 * min, [rollout('running', t0 + 32 * min)]), []);
  assert.deepEqual(at(t0 + 70 * min, [rollout('running', t0 + 32 * min)]), [
    'firing LaunchfleetRolloutStuck.ro-1',
  ]);
  assert.deepEqual(at(t0 + 71 * min, [rollout('failed', t0 + 71 * min)]), [
    'firing LaunchfleetRolloutFailed.ro-1.failed',
    'resolved LaunchfleetRolloutStuck.ro-1',
  ]);
});

test('drift recurring: more than 3 increases within 1h, held 15m, per node and kind; resolves when they age out', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  const recurring = (es: string[]) => es.filter((e) => e.includes('Recurring'));
  let drift = 10;
  const step = (m: number, by = 0): string[] => {
    drift += by;
    f.node('n1', t0 + m * min, { drift: { 'plist-changed': drift, 'job-unloaded': 2 } });
    return recurring(edges(ev.evaluate(f.at(t0 + m * min))));
  };
  assert.deepEqual(step(0), [], 'baseline: 10 old repairs do not count');
  assert.deepEqual(step(10, 1), []);
  assert.deepEqual(step(20, 2), [], '3 in the hour is not > 3');
  assert.deepEqual(step(30, 1), [], '4: pending for 15m');
  assert.deepEqual(step(44), []);
  const fired = ev.evaluate(f.at(t0 + 45 * min));
  assert.deepEqual(recurring(edges(fired)), ['firing LaunchfleetDriftRecurring.n1.plist-changed']);
  const a = fired.find((t) => t.alert.name === 'LaunchfleetDriftRecurring')?.alert;
  assert.equal(a?.reason, 'plist-changed');
  assert.equal(a?.node, 'n1');
  assert.equal(a?.severity, 'warning');
  assert.match(a?.summary ?? '', /repaired 4 times in the last 60 min/);
  assert.deepEqual(step(60), [], 'all 4 still within the hour');
  // The increase at minute 10 leaves the window at minute 70: 3 left.
  assert.deepEqual(step(70), ['resolved LaunchfleetDriftRecurring.n1.plist-changed']);
  assert.deepEqual(step(71), []);
});

test('drift recurring: 4 repairs spread over more than an hour never fire; a counter reset counts its value', () => {
  const ev = new AlertEvaluator(withHoldDownsOrThrow(['DriftRecurring=0']));
  const f = fleet();
  const recurring = (es: string[]) => es.filter((e) => e.includes('Recurring'));
  const at = (m: number, v: number) => {
    f.node('n1', t0 + m * min, { drift: { 'job-disabled': v } });
    return recurring(edges(ev.evaluate(f.at(t0 + m * min))));
  };
  assert.deepEqual(at(0, 0), []);
  assert.deepEqual(at(1, 1), []);
  assert.deepEqual(at(25, 2), []);
  assert.deepEqual(at(50, 3), []);
  assert.deepEqual(at(75, 4), [], 'the first one left the window');
  // Agent restart: the counter starts again from 0 and is now 3, so 3 new repairs: 2 + 3 = 5 > 3.
  assert.deepEqual(at(76, 3), ['firing LaunchfleetDriftRecurring.n1.job-disabled']);
});

test('drift recurring adopted from another controller stays until a window without drift, then resolves', () => {
  const ev = new AlertEvaluator(defaultAlertSettings);
  const f = fleet();
  ev.adopt(
    {
      name: 'LaunchfleetDriftRecurring',
      key: 'LaunchfleetDriftRecurring.n1.plist-changed',
      severity: 'warning',
      node: 'n1',
      reason: 'plist-changed',
      summary: 'z',
    },
    t0 - 2 * min,
  );
  f.node('n1', t0, { drift: { 'plist-changed': 9 } });
  assert.deepEqual(ev.evaluate(f.at(t0)), [], 'not resolved by the baseline sample');
  assert.deepEqual(ev.evaluate(f.at(t0 + 59 * min)), []);
  assert.deepEqual(edges(ev.evaluate(f.at(t0 + 60 * min))), [
    'resolved LaunchfleetDriftRecurring.n1.plist-changed',
  ]);
});

function withHoldDownsOrThrow(specs: string[]) {
  const r = withHoldDowns(defaultAlertSettings, specs);
  assert.ok(r.ok);
  return r.value;
}
