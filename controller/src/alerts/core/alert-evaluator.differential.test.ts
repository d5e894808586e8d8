// Differential property test: the incremental AlertEvaluator against the pre-change evaluator
// (alert-evaluator-reference.ts, which walks every node's counters on every tick). Both get the
// same random sequence of samples and adopt/retract calls; every tick's transitions (order,
// keys, summaries, activeSince) and `firing()` must be equal. The sequences move nodes in and
// out, raise, reset and delete counters, reuse unchanged counters objects between ticks or
// replace them by equal copies, list a node twice, use reasons that encode to one key token,
// step time across the counter, recurring and unseen windows (and, rarely, back or to NaN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type AgentCounters, keys } from '@launchfleet/shared/messages';
import {
  type AlertInstance,
  AlertEvaluator,
  type FleetSample,
  type JobSample,
  type NodeSample,
} from './alert-evaluator.ts';
import { ReferenceAlertEvaluator } from './alert-evaluator-reference.ts';
import { type AlertName, type AlertSettings, alertSeverity, defaultAlertSettings } from './alert-rules.ts';

const minute = 60_000;
const nodeIds = ['n0', 'n1', 'n2', 'n3', 'n4'];
// '\uD800' (a lone surrogate) and '\uFFFD' encode to the same key token (_EF_BF_BD).
const reasons = ['expired', 'plist-changed', 'a.b', '_41', 'A', '\uD800', '\uFFFD'];
const fields = ['signatureRefusals', 'drift'] as const;

/** The default settings (unit: a minute), or the same windows in ms with random hold-downs. */
const settingsArb: fc.Arbitrary<{ s: AlertSettings; u: number }> = fc.oneof(
  fc.constant({ s: defaultAlertSettings, u: minute }),
  fc
    .record({
      drift: fc.constantFrom(0, 1, 15),
      recurring: fc.constantFrom(0, 3, 15),
      other: fc.constantFrom(0, 5),
    })
    .map(({ drift, recurring, other }) => ({
      u: 1,
      s: {
        holdDownMs: {
          LaunchfleetJobCrashLooping: other,
          LaunchfleetJobThrottled: other,
          LaunchfleetJobLoadFailed: other,
          LaunchfleetNodeUnseen: other,
          LaunchfleetSignatureRefused: drift,
          LaunchfleetDriftDetected: drift,
          LaunchfleetDriftRecurring: recurring,
          LaunchfleetRolloutFailed: 0,
          LaunchfleetRolloutStuck: other,
        },
        unseenAfterMs: 10,
        throttledWindowMs: 5,
        counterWindowMs: 15,
        driftRecurringWindowMs: 60,
        driftRecurringAbove: 3,
        rolloutStuckAfterMs: 15,
      },
    })),
);

type Cmd =
  | { t: 'tick'; step: number }
  | { t: 'set'; node: number; field: 0 | 1; reason: number; op: 'inc' | 'to' | 'delete'; v: number }
  | { t: 'copy'; node: number }
  | { t: 'remove'; node: number }
  | { t: 'add'; node: number; seen: number }
  | { t: 'dup'; node: number; bump: boolean }
  | { t: 'shuffle'; seed: number }
  | { t: 'iter' }
  | { t: 'job'; node: number; problem: JobSample['problem'] | undefined }
  | { t: 'adopt'; node: number; kind: 0 | 1 | 2 | 3; reason: number; at: number }
  | { t: 'retract'; pick: number };

const idx = (n: number) => fc.integer({ min: 0, max: n - 1 });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .oneof(
        fc.constantFrom(0, 1, 5, 10, 11, 14, 15, 16, 30, 59, 60, 61, 75),
        fc.integer({ min: 0, max: 130 }),
        { weight: 2, arbitrary: fc.constantFrom(-1, -5, -16, -20, -45, -61) },
        { weight: 1, arbitrary: fc.constant(Number.NaN) },
      )
      .map((step) => ({ t: 'tick' as const, step })),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('set' as const),
      node: idx(nodeIds.length),
      field: fc.constantFrom(0 as const, 1 as const),
      reason: idx(reasons.length),
      op: fc.constantFrom('inc' as const, 'inc' as const, 'to' as const, 'delete' as const),
      v: fc.integer({ min: 0, max: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('copy' as const), node: idx(nodeIds.length) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), node: idx(nodeIds.length) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('add' as const),
      node: idx(nodeIds.length),
      seen: fc.integer({ min: -1, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('dup' as const), node: idx(nodeIds.length), bump: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('shuffle' as const), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'iter' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('job' as const),
      node: idx(nodeIds.length),
      problem: fc.constantFrom(undefined, 'crash_looping' as const, 'failed' as const, 'throttled' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('adopt' as const),
      node: idx(nodeIds.length),
      kind: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
      reason: idx(reasons.length),
      at: fc.integer({ min: -70, max: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('retract' as const), pick: fc.nat() }) },
);

/** Counters with one reason changed: always a new object (the fleet index's contract). */
function changed(
  c: AgentCounters | undefined,
  field: 0 | 1,
  reason: string,
  to: number | undefined,
): AgentCounters {
  const f = fields[field];
  const m: Record<string, number> = { ...(c?.[f] ?? {}) };
  if (to === undefined) delete m[reason];
  else m[reason] = to;
  return { ...c, [f]: m };
}

function run(settings: { s: AlertSettings; u: number }, cmds: readonly Cmd[]): void {
  const { s, u } = settings;
  const ours = new AlertEvaluator(s);
  const oracle = new ReferenceAlertEvaluator(s);
  let now = 1_700_000_000_000;
  let order = [...nodeIds.keys()];
  const present = new Map<number, NodeSample>();
  for (const i of order)
    present.set(i, { nodeId: nodeIds[i]!, hostname: `h${i}`, lastSeen: now, counters: undefined });
  const jobs = new Map<string, JobSample>();
  let dup: NodeSample | undefined;
  let iterOnce = false;
  const sample = (): FleetSample => {
    const list = order.flatMap((i) => (present.has(i) ? [present.get(i)!] : []));
    if (dup) list.splice(list.length >> 1, 0, dup);
    const nodes = iterOnce
      ? (function* () {
          yield* list;
        })()
      : list;
    return { now, jobs: [...jobs.values()], nodes };
  };
  let tick = 0;
  for (const c of cmds) {
    switch (c.t) {
      case 'tick': {
        now += c.step * u;
        const a = sample();
        const b = sample();
        tick++;
        const got = ours.evaluate(a);
        const want = oracle.evaluate(b);
        assert.deepStrictEqual(got, want, `tick ${tick} at +${now}`);
        assert.deepStrictEqual(ours.firing(), oracle.firing(), `firing() after tick ${tick}`);
        dup = undefined;
        iterOnce = false;
        break;
      }
      case 'set': {
        const n = present.get(c.node);
        if (!n) break;
        const f = fields[c.field];
        const r = reasons[c.reason]!;
        const old = n.counters?.[f]?.[r] ?? 0;
        const to = c.op === 'delete' ? undefined : c.op === 'inc' ? old + c.v : c.v;
        present.set(c.node, { ...n, counters: changed(n.counters, c.field, r, to), lastSeen: now });
        break;
      }
      case 'copy': {
        const n = present.get(c.node);
        if (n?.counters)
          present.set(c.node, {
            ...n,
            counters: JSON.parse(JSON.stringify(n.counters)) as AgentCounters,
          });
        break;
      }
      case 'remove':
        present.delete(c.node);
        break;
      case 'add':
        if (!present.has(c.node))
          present.set(c.node, {
            nodeId: nodeIds[c.node]!,
            hostname: '',
            lastSeen: c.seen < 0 ? 0 : now - c.seen * u,
            counters: undefined,
          });
        break;
      case 'dup': {
        const n = present.get(c.node);
        if (n) dup = c.bump ? { ...n, counters: changed(n.counters, 1, 'expired', 9) } : n;
        break;
      }
      case 'shuffle': {
        let x = c.seed;
        order = [...order].sort(() => ((x = (x * 1103515245 + 12345) % 2 ** 31) % 3) - 1);
        break;
      }
      case 'iter':
        iterOnce = true;
        break;
      case 'job': {
        const nodeId = nodeIds[c.node]!;
        if (c.problem === undefined) jobs.delete(nodeId);
        else jobs.set(nodeId, { nodeId, label: 'com.example.j', domain: 'system', problem: c.problem });
        break;
      }
      case 'adopt': {
        const nodeId = nodeIds[c.node]!;
        // Mostly a reason the node reports (an alert of a live series), else any.
        const live = Object.keys(present.get(c.node)?.counters?.[fields[c.kind === 0 ? 0 : 1]] ?? {});
        const reason = live.length > 0 && c.at % 4 !== 0 ? live[c.reason % live.length]! : reasons[c.reason]!;
        const name: AlertName = (
          [
            'LaunchfleetSignatureRefused',
            'LaunchfleetDriftDetected',
            'LaunchfleetDriftRecurring',
            'LaunchfleetNodeUnseen',
          ] as const
        )[c.kind];
        const alert: AlertInstance =
          name === 'LaunchfleetNodeUnseen'
            ? {
                name,
                key: keys.alert(name, nodeId),
                severity: alertSeverity[name],
                node: nodeId,
                summary: 'adopted',
              }
            : {
                name,
                key: keys.alert(name, nodeId, reason),
                severity: alertSeverity[name],
                node: nodeId,
                reason,
                summary: 'adopted',
              };
        ours.adopt(alert, now + c.at * u);
        oracle.adopt({ ...alert }, now + c.at * u);
        break;
      }
      case 'retract': {
        const firing = oracle.firing();
        const key = firing.length > 0 ? firing[c.pick % firing.length]!.key : `nothing.${c.pick}`;
        ours.retract(key);
        oracle.retract(key);
        break;
      }
    }
  }
}

test('the incremental evaluator gives the oracle’s transitions and firing() on every tick', () => {
  fc.assert(
    fc.property(
      settingsArb,
      fc.array(cmdArb, { minLength: 1, maxLength: 150, size: 'max' }),
      (settings, cmds) => {
        run(settings, [{ t: 'tick', step: 0 }, ...cmds]);
      },
    ),
    { numRuns: 1000 },
  );
});

test('directed sequences: adoption of an unchanged series, time going back over a window', () => {
  for (const settings of [
    { s: defaultAlertSettings, u: minute },
    {
      s: {
        ...defaultAlertSettings,
        holdDownMs: { ...defaultAlertSettings.holdDownMs, LaunchfleetDriftRecurring: 0 },
      },
      u: minute,
    },
  ]) {
    const rise = (node: number, field: 0 | 1): Cmd => ({ t: 'set', node, field, reason: 1, op: 'inc', v: 1 });
    // Adopted while the node's counters stay the same object (its series is not walked): a
    // counter alert (kind 0, window 15) and a recurring-drift one (kind 2, window 60).
    for (const [field, kind, wait] of [
      [0, 0, 12],
      [1, 2, 59],
    ] as const)
      run(settings, [
        { t: 'set', node: 0, field, reason: 1, op: 'to', v: 3 },
        { t: 'tick', step: 0 },
        { t: 'tick', step: 1 },
        { t: 'adopt', node: 0, kind, reason: 1, at: -3 },
        { t: 'tick', step: 1 },
        { t: 'tick', step: wait },
        { t: 'tick', step: 1 },
      ]);
    // A rise, its window over, then the clock back into it (and forward again); then NaN.
    for (const back of [-2, -5, -16])
      run(settings, [
        { t: 'tick', step: 0 },
        rise(0, 0),
        rise(1, 1),
        rise(1, 1),
        rise(1, 1),
        { t: 'tick', step: 1 },
        rise(1, 1),
        { t: 'tick', step: 1 },
        { t: 'tick', step: 16 },
        { t: 'tick', step: back },
        { t: 'tick', step: 2 },
        { t: 'tick', step: Number.NaN },
        { t: 'tick', step: 1 },
      ]);
  }
});

test('a quiet fleet with a few rising counters: same transitions over 3 hours of 1-minute ticks', () => {
  // Long runs the random sequences rarely reach: many ticks of unchanged objects between rises.
  const cmds: Cmd[] = [{ t: 'tick', step: 0 }];
  for (let m = 1; m <= 180; m++) {
    if (m % 7 === 0) cmds.push({ t: 'set', node: m % 5, field: 1, reason: m % 2, op: 'inc', v: 1 });
    if (m % 23 === 0) cmds.push({ t: 'set', node: (m + 1) % 5, field: 0, reason: 0, op: 'inc', v: 2 });
    if (m === 90) cmds.push({ t: 'remove', node: 2 });
    if (m === 95) cmds.push({ t: 'add', node: 2, seen: 0 });
    cmds.push({ t: 'tick', step: 1 });
  }
  for (const settings of [
    { s: defaultAlertSettings, u: minute },
    { s: { ...defaultAlertSettings, driftRecurringAbove: 1 }, u: minute },
  ])
    run(settings, cmds);
});
