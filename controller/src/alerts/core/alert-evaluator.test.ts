import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEvaluator, type FleetSample, type JobSample, type NodeSample } from './alert-evaluator.ts';
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
