// Property tests of the rollout machine's "never" statements (issue 7; docs/engineering.md, "Tests"), over random
// targets, strategies, gates, node behaviours and online/offline/command sequences, played
// against the fake fleet on a virtual clock. Safety: checked after every single step.
// Liveness: with the fleet online and time passing, every rollout ends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { NodeBehaviour } from '../testing/fleet-sim.ts';
import { RolloutHarness, type SetDesired, inFlux, testSpec } from '../testing/rollout-harness.ts';
import { isFinished } from './rollout-machine.ts';
import type { RolloutEvent, RolloutState } from './rollout-state.ts';
import type { Count, HealthGate, JobKind, RolloutSpec, RolloutStrategy } from './rollout-spec.ts';

const count: fc.Arbitrary<Count> = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map((n) => ({ n })),
  fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })).map((percent) => ({
    percent,
  })),
);
const strategy: fc.Arbitrary<RolloutStrategy> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'all-at-once' as const }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('canary-waves' as const),
      canary: count,
      waves: fc.array(count, { maxLength: 4 }),
      maxUnavailable: count,
    }),
  },
);
/** A gate whose deadline leaves room for the observation cadence used below (<= `lag` ms). */
const gate = (lag: number): fc.Arbitrary<HealthGate> =>
  fc
    .record({
      minHealthySeconds: fc.integer({ min: 0, max: 60 }),
      slack: fc.integer({ min: Math.ceil(lag / 1000) + 2, max: 120 }),
      maxUnhealthy: count,
      requireNoCrashInWindow: fc.boolean(),
    })
    .map(({ slack, ...g }) => ({ ...g, progressDeadlineSeconds: g.minHealthySeconds + slack }));

const specArb = (lag: number): fc.Arbitrary<RolloutSpec> =>
  fc
    .record({
      n: fc.integer({ min: 0, max: 12 }),
      strategy,
      gate: gate(lag),
      autoRollback: fc.boolean(),
      jobKind: fc.constantFrom<JobKind>('keep-alive', 'on-demand', 'timed'),
      noFrom: fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 3 }),
    })
    .map(({ n, noFrom, ...rest }) => {
      const base = testSpec(n, rest);
      const fromVersions = { ...base.fromVersions };
      for (const i of noFrom) delete fromVersions[`n${i}`]; // some nodes had no healthy version
      return { ...base, fromVersions };
    });

type Cmd =
  | { kind: 'advance'; ms: number }
  | { kind: 'toggle'; node: number }
  | { kind: 'tick' }
  | { kind: 'replay' }
  | { kind: 'command'; event: RolloutEvent };
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 40_000 }).map((ms): Cmd => ({ kind: 'advance', ms })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 11 }).map((node): Cmd => ({ kind: 'toggle', node })) },
  { weight: 2, arbitrary: fc.constant<Cmd>({ kind: 'tick' }) },
  { weight: 2, arbitrary: fc.constant<Cmd>({ kind: 'replay' }) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<RolloutEvent>(
        { type: 'pause', reason: 'p' },
        { type: 'resume' },
        { type: 'resume' },
        { type: 'abort', reason: 'a' },
        { type: 'rollback', reason: 'r' },
      )
      .map((event): Cmd => ({ kind: 'command', event })),
  },
);
const behaviour = fc.constantFrom<NodeBehaviour>('good', 'good', 'good', 'crash', 'stuck');

/** Safety checks across a whole run; `check` is called after every step. */
class SafetyMonitor {
  private readonly forward = new Map<string, number>();
  private readonly back = new Map<string, number>();
  private stopped = false;
  private readonly target: Set<string>;
  private readonly spec: RolloutSpec;
  constructor(spec: RolloutSpec) {
    this.spec = spec;
    this.target = new Set(spec.targetNodes);
  }

  check(
    event: RolloutEvent,
    before: RolloutState,
    after: RolloutState,
    writes: readonly SetDesired[],
    strictFlux: boolean,
  ): void {
    const forwardNow = writes.filter((w) => w.reason !== 'rollback');
    const backNow = writes.filter((w) => w.reason === 'rollback');
    // Never a node updated while paused (only `resume` leaves the pause).
    if (before.phase.kind === 'paused' && event.type !== 'resume')
      assert.deepEqual(forwardNow, [], 'forward write while paused');
    // Never a node outside the target.
    for (const w of writes) assert.ok(this.target.has(w.nodeId), `write outside target: ${w.nodeId}`);
    // Never a forward step after a failure, an abort or a rollback.
    if (this.stopped) assert.deepEqual(forwardNow, [], 'forward write after the rollout stopped');
    // Each node: at most one forward write and at most one rollback write, ever.
    for (const w of forwardNow) this.forward.set(w.nodeId, (this.forward.get(w.nodeId) ?? 0) + 1);
    for (const w of backNow) this.back.set(w.nodeId, (this.back.get(w.nodeId) ?? 0) + 1);
    for (const [id, k] of this.forward) assert.ok(k <= 1, `${id} written forward ${k} times`);
    for (const [id, k] of this.back) assert.ok(k <= 1, `${id} rolled back ${k} times`);
    // A rollback writes exactly the nodes touched so far, each to its previous healthy version.
    if (backNow.length > 0 || (after.rollbackStartedAt !== null && before.rollbackStartedAt === null)) {
      const touched = [...this.forward.keys()].sort();
      assert.deepEqual(backNow.map((w) => w.nodeId).sort(), touched);
      for (const w of backNow) assert.equal(w.version, this.spec.fromVersions[w.nodeId] ?? null);
    }
    // Forward rollout writes: only in a running step, only for nodes of this step or earlier, and
    // only once every earlier step's gate passed.
    for (const w of forwardNow.filter((x) => x.reason === 'rollout')) {
      const planned = after.nodes[w.nodeId]?.step ?? -1;
      for (let q = 0; q < planned; q++)
        assert.ok(
          after.history.some((e) => e.step === q && e.outcome === 'passed'),
          `${w.nodeId} (step ${planned}) written before step ${q} passed`,
        );
      const h = after.history.find((e) => e.step === planned);
      assert.ok(h, `${w.nodeId} written in a step that never started`);
    }
    if (forwardNow.some((x) => x.reason === 'converge'))
      assert.equal(after.phase.kind, 'succeeded', 'converge only after success');
    // Never more than maxUnavailable in flux because of us: whenever we start updates, the
    // result is within the bound (strictly always, when nodes never drop out after an update).
    if (forwardNow.length > 0 || strictFlux)
      assert.ok(inFlux(after) <= after.maxUnavailable, `in flux ${inFlux(after)} > ${after.maxUnavailable}`);
    // A passed step really had no pending node and nothing left, and fewer unhealthy than the threshold.
    for (const e of after.history)
      if (e.outcome === 'passed') assert.ok(e.counts && e.counts.pending === 0 && e.counts.remaining === 0);
    // Plain JSON, always.
    assert.deepEqual(JSON.parse(JSON.stringify(after)), after);
    const k = after.phase.kind;
    if (k === 'failed' || k === 'rolling-back' || k === 'rolled-back' || k === 'aborted') this.stopped = true;
  }
}

function drive(
  h: RolloutHarness,
  mon: SafetyMonitor,
  event: RolloutEvent,
  strictFlux: boolean,
): SetDesired[] {
  const before = h.state;
  const actions = h.send(event);
  const writes = actions.filter((a): a is SetDesired => a.type === 'set-desired');
  mon.check(event, before, h.state, writes, strictFlux);
  return writes;
}

/** Brings every node online, resumes, and lets time pass until the rollout ends (bounded). */
function settle(h: RolloutHarness, mon: SafetyMonitor, strictFlux: boolean): void {
  for (const id of h.spec.targetNodes) h.sim.setOnline(id, true);
  drive(h, mon, { type: 'resume' }, strictFlux);
  for (let i = 0; i < 5_000 && !isFinished(h.state); i++) {
    const last = h.batches.at(-1);
    const wrote = last?.actions.some((a) => a.type === 'set-desired') ?? false;
    h.now += wrote ? 1_000 : Math.min(h.lastRequeue() ?? 1_000, 1_000);
    drive(h, mon, { type: 'observe', observations: h.sim.observe(h.now) }, strictFlux);
  }
  // One more observation after the end so returning nodes converge.
  h.now += 1_000;
  drive(h, mon, { type: 'observe', observations: h.sim.observe(h.now) }, strictFlux);
}

describe('rollout machine properties', () => {
  it('safety under random fleets, behaviours, outages and commands; every run ends', () => {
    fc.assert(
      fc.property(
        specArb(40_000),
        fc.array(behaviour, { minLength: 12, maxLength: 12 }),
        fc.array(cmd, { maxLength: 40 }),
        (spec, behaviours, cmds) => {
          const h = new RolloutHarness(spec);
          spec.targetNodes.forEach((id, i) => h.sim.behaviour.set(id, behaviours[i] ?? 'good'));
          const mon = new SafetyMonitor(spec);
          drive(h, mon, { type: 'start', observations: h.sim.observe(0) }, false);
          let replay = h.sim.observe(0);
          for (const c of cmds) {
            switch (c.kind) {
              case 'advance':
                h.now += c.ms;
                replay = h.sim.observe(h.now);
                drive(h, mon, { type: 'observe', observations: replay }, false);
                break;
              case 'toggle': {
                const id = `n${c.node}`;
                const n = h.sim.nodes.get(id);
                if (n) h.sim.setOnline(id, !n.online);
                break;
              }
              case 'tick':
                drive(h, mon, { type: 'tick' }, false);
                break;
              case 'replay': // a redelivered, possibly stale, batch of observations
                drive(h, mon, { type: 'observe', observations: replay }, false);
                break;
              case 'command':
                drive(h, mon, c.event, false);
                break;
            }
          }
          settle(h, mon, false);
          assert.ok(isFinished(h.state), `did not finish: ${h.state.phase.kind}`);
          // After success every node runs the new version, except nodes held back because nodes
          // that stayed unhealthy (tolerated below the step's threshold) use up maxUnavailable.
          if (h.state.phase.kind === 'succeeded')
            for (const id of spec.targetNodes) {
              const writes = h.sim.forwardWrites(id);
              const held = writes === 0 && inFlux(h.state) >= h.state.maxUnavailable;
              assert.ok(writes === 1 || held, `${id} not converged (${writes} writes)`);
            }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('all online: never more than maxUnavailable in flux; no later step while an earlier node is bad', () => {
    fc.assert(
      fc.property(
        specArb(5_000).map((s) => ({ ...s, gate: { ...s.gate, maxUnhealthy: { n: 1 } } })),
        fc.array(behaviour, { minLength: 12, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 30 }),
        (spec, behaviours, advances) => {
          const h = new RolloutHarness(spec);
          spec.targetNodes.forEach((id, i) => h.sim.behaviour.set(id, behaviours[i] ?? 'good'));
          const mon = new SafetyMonitor(spec);
          const bad = (id: string): boolean => h.sim.behaviour.get(id) !== 'good';
          const checkGate = (writes: readonly SetDesired[]): void => {
            for (const w of writes.filter((x) => x.reason === 'rollout')) {
              const p = h.state.nodes[w.nodeId]?.step ?? 0;
              const earlier = h.state.steps.slice(0, p).flatMap((s) => s.nodeIds);
              assert.deepEqual(earlier.filter(bad), [], `${w.nodeId} (step ${p}) written past a bad node`);
            }
          };
          checkGate(drive(h, mon, { type: 'start', observations: h.sim.observe(0) }, true));
          for (const ms of advances) {
            h.now += ms;
            checkGate(drive(h, mon, { type: 'observe', observations: h.sim.observe(h.now) }, true));
          }
          settle(h, mon, true);
          const anyBad = spec.targetNodes.some(bad);
          const final = h.state.phase.kind;
          // With threshold 1 and every node online, a bad node anywhere stops the rollout when its
          // step is reached (crash: unhealthy; stuck: the deadline); otherwise it succeeds.
          if (!anyBad) assert.equal(final, 'succeeded');
          else assert.equal(final, spec.autoRollback ? 'rolled-back' : 'failed');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('an unhealthy canary always ends rolled back, touching only canary nodes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        count,
        gate(1_000),
        (n, canary, maxUnavailable, g) => {
          const spec = testSpec(n, {
            strategy: { kind: 'canary-waves', canary: { n: canary }, waves: [{ n: 2 }], maxUnavailable },
            gate: { ...g, maxUnhealthy: { n: 1 } },
          });
          const h = new RolloutHarness(spec);
          for (const id of spec.targetNodes) h.sim.behaviour.set(id, 'crash');
          const mon = new SafetyMonitor(spec);
          drive(h, mon, { type: 'start', observations: h.sim.observe(0) }, true);
          settle(h, mon, true);
          assert.equal(h.state.phase.kind, 'rolled-back');
          const canaryNodes = new Set(h.state.steps[0]?.nodeIds);
          for (const w of h.sim.writes)
            assert.ok(canaryNodes.has(w.nodeId), `${w.nodeId} is not a canary node`);
        },
      ),
      { numRuns: 100 },
    );
  });
});
