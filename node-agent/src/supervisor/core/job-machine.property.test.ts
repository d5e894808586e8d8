// Property tests of the machine's "never" statements (docs/engineering.md, "Tests": the machine never runs two
// instances of a job), over random event sequences played on the simulator's timeline.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jobSpec } from '../../testing/job-spec-builder.ts';
import { MachineSim } from '../../testing/machine-sim.ts';
import type { FakeRun } from '../../testing/fake-spawner.ts';
import type { JobEvent, TriggerKind } from './job-events.ts';
import { machineConfig } from './machine-config.ts';

const run: fc.Arbitrary<FakeRun> = fc.oneof(
  fc.record({ runForMs: fc.integer({ min: 0, max: 40_000 }), exitCode: fc.integer({ min: 0, max: 3 }) }),
  fc.record({
    runForMs: fc.integer({ min: 0, max: 40_000 }),
    signal: fc.constantFrom('SIGSEGV', 'SIGKILL', 'SIGTERM', 'SIGABRT' as const),
  }),
  fc.constant({}),
  fc.constant({ ignoreSigterm: true }),
  fc.constant({ unkillable: true }),
  fc.constant({ startError: { stage: 'exec', errno: 'ENOENT', exitStatus: 2 } }),
);

type Cmd = { advance: number } | { event: JobEvent };
const ev = (event: JobEvent): Cmd => ({ event });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 30_000 }).map((advance): Cmd => ({ advance })) },
  { weight: 3, arbitrary: fc.boolean().map((kill) => ev({ type: 'kickstart', kill })) },
  { weight: 3, arbitrary: fc.constant(ev({ type: 'stop' })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('SIGTERM', 'SIGKILL', 'SIGSEGV', 'SIGHUP', 'SIGCONT')
      .map((signal) => ev({ type: 'kill-signal', signal })),
  },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom<TriggerKind>(
        'interval',
        'calendar',
        'watch-path',
        'queue-dir',
        'socket',
        'path-state',
        'other-job',
      )
      .map((kind) => ev({ type: 'trigger', kind })),
  },
  { weight: 2, arbitrary: fc.constantFrom(ev({ type: 'disable' }), ev({ type: 'enable' })) },
  { weight: 1, arbitrary: fc.constant(ev({ type: 'unload' })) },
);

const specArb = fc.record({
  keepAlive: fc.oneof(
    fc.boolean(),
    fc.record({ successfulExit: fc.boolean() }),
    fc.record({ crashed: fc.boolean() }),
    fc.record({ afterInitialDemand: fc.boolean(), successfulExit: fc.boolean() }),
  ),
  runAtLoad: fc.boolean(),
  throttleInterval: fc.constantFrom(1, 5, 10, 30),
  exitTimeOut: fc.constantFrom(1, 3, 20),
  launchOnlyOnce: fc.boolean(),
  abandonProcessGroup: fc.boolean(),
});

type SpecInput = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

/** The machine's "never" statements after a random script of runs and events. */
function checkInvariants(
  input: SpecInput,
  script: FakeRun[],
  cmds: Cmd[],
  flavor: '842' | 'modern',
  timerOffsets: readonly number[] = [],
): void {
  const spec = jobSpec('prop', input);
  const sim = new MachineSim(spec, { config: machineConfig(flavor), script, timerOffsets });
  sim.send({ type: 'load', disabled: false });
  for (const c of cmds) {
    if ('advance' in c) sim.advance(c.advance);
    else {
      sim.send(c.event);
      sim.runUntil(sim.now);
    }
  }
  // Drain: bootout and let every timer run out.
  sim.send({ type: 'unload' });
  sim.advance(10_000_000);

  assert.equal(sim.secondInstance, false, 'a spawn while a process existed');
  const t = sim.spawns.map((s) => s.atMs);
  for (let i = 1; i < t.length; i++) {
    const gap = (t[i] ?? 0) - (t[i - 1] ?? 0);
    assert.ok(
      gap >= input.throttleInterval * 1000,
      `spawns ${t[i - 1]} and ${t[i]} closer than the throttle`,
    );
  }
  assert.equal(sim.state.spawns, sim.spawns.length);
  assert.equal(sim.state.runs, sim.state.spawns, 'every spawn is reaped exactly once');
  assert.equal(sim.state.sub.kind, 'removed');
  assert.deepEqual(sim.errors, []);
  // The SIGKILL of ExitTimeOut never comes sooner than ExitTimeOut after our SIGTERM.
  let termAt: number | undefined;
  sim.effects.forEach(({ at, effect }, i) => {
    const next = sim.effects[i + 1]?.effect;
    if (effect.type === 'spawn') termAt = undefined;
    if (effect.type !== 'signal') return;
    if (effect.signal === 'SIGTERM' && next?.type === 'start-timer' && next.timer === 'exit-timeout')
      termAt = at;
    if (effect.signal === 'SIGKILL' && termAt !== undefined && next?.type === 'start-timer')
      assert.ok(at - termAt >= input.exitTimeOut * 1000, `SIGKILL ${at - termAt} ms after SIGTERM`);
  });
}

describe('job machine invariants (fast-check)', () => {
  it('never two processes, never two spawns inside ThrottleInterval, every spawn reaped exactly once', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.array(run, { minLength: 1, maxLength: 6 }),
        fc.array(cmd, { maxLength: 60 }),
        fc.constantFrom('842', 'modern' as const),
        (input, script, cmds, flavor) => checkInvariants(input, script, cmds, flavor),
      ),
      { numRuns: 300 },
    );
  });

  it('the same with timers that fire early and late by random amounts', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.array(run, { minLength: 1, maxLength: 6 }),
        fc.array(cmd, { maxLength: 60 }),
        fc.constantFrom('842', 'modern' as const),
        fc.array(fc.integer({ min: -2000, max: 5000 }), { minLength: 1, maxLength: 20 }),
        (input, script, cmds, flavor, offsets) => checkInvariants(input, script, cmds, flavor, offsets),
      ),
      { numRuns: 300 },
    );
  });
});
