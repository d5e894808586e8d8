// Property tests of every timer path through the runtime (StartInterval, StartCalendarInterval,
// the throttle, ExitTimeOut and the SIGKILL grace) on a fake clock whose timers fire early and
// late by random amounts (testing/jittered-scheduler.ts). launchd runs an interval job once per
// interval slot; a firing during a run queues at most one re-run (842), never one per firing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '@launchfleet/shared/testing';
import { jobSpec } from '../testing/job-spec-builder.ts';
import { FakeSpawner, type FakeRun } from '../testing/fake-spawner.ts';
import { FakeFileSystem } from '../testing/fake-file-system.ts';
import { FakeUserDb } from '../testing/fake-user-db.ts';
import { JitteredScheduler } from '../testing/jittered-scheduler.ts';
import { advance } from '../testing/settle.ts';
import { CalendarScheduler } from './calendar-scheduler.ts';
import { fixedOffset } from './core/calendar.ts';
import { machineConfig } from './core/machine-config.ts';
import { JobRunner, type RunnerDomain } from './job-runner.ts';

const MAX_EARLY_MS = 900;
const MAX_LATE_MS = 3000;
const STEP_MS = 100;

/** Offsets for successive timers: mostly small, some far early or late. */
const offsets = fc.array(
  fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.integer({ min: -MAX_EARLY_MS, max: -1 }),
    fc.integer({ min: 1, max: MAX_LATE_MS }),
  ),
  { minLength: 1, maxLength: 40 },
);

type Cmd = { advance: number } | { stop: true };

interface Observed {
  /** Monotonic times of the machine's spawn decisions (exact: recorded inside the step). */
  spawnsAt: number[];
  /** Monotonic times of each run's end as the machine accounted for it (reap or simulated exit). */
  exitsAt: number[];
}

function rig(
  label: string,
  spec: Parameters<typeof jobSpec>[1],
  script: FakeRun[],
  jitter: number[],
  flavor: '842' | 'modern',
) {
  const clock = new FakeClock(Date.UTC(2026, 0, 5, 12, 0, 0), 1_000_000);
  const scheduler = new JitteredScheduler(clock, jitter);
  // Processes run for exactly their scripted time: only the supervisor's timers are jittered.
  const spawner = new FakeSpawner(clock, clock).script(label, ...script);
  const calendar = new CalendarScheduler(clock, scheduler, fixedOffset(0), { weekdayIgnoresMonth: true });
  const domain: RunnerDomain = {
    kind: 'system',
    uid: 0,
    agentUid: 0,
    target: 'system',
    calendar,
    otherJob: () => ({ loaded: false, active: false }),
  };
  const seen: Observed = { spawnsAt: [], exitsAt: [] };
  let spawns = 0;
  const runner = new JobRunner({
    spec: jobSpec(label, spec),
    domain,
    ports: { spawner, fs: new FakeFileSystem(), users: new FakeUserDb(), clock, scheduler },
    config: machineConfig(flavor),
    log: () => undefined,
    onStatus: (r) => {
      while (spawns < r.current.spawns) {
        spawns++;
        seen.spawnsAt.push(clock.monotonicMs());
      }
    },
    onEvent: (_r, e) => {
      if (e.type === 'exited') seen.exitsAt.push(clock.monotonicMs());
    },
  });
  return { clock, spawner, runner, seen, t0: clock.monotonicMs() };
}

const run: fc.Arbitrary<FakeRun> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ runForMs: fc.integer({ min: 0, max: 30_000 }), exitCode: fc.constantFrom(0, 1) }),
  },
  { weight: 1, arbitrary: fc.constant({ ignoreSigterm: true }) },
  { weight: 1, arbitrary: fc.constant({ unkillable: true }) },
);

const cmds = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 25_000 }).map((advance): Cmd => ({ advance })) },
    { weight: 1, arbitrary: fc.constant<Cmd>({ stop: true }) },
  ),
  { minLength: 1, maxLength: 12 },
);

describe('timers fired early and late (fast-check, fake clock)', () => {
  it('StartInterval: never two runs for one slot; throttle, ExitTimeOut and the SIGKILL grace never cut short', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          startInterval: fc.constantFrom(2, 3, 5, 10),
          throttleInterval: fc.constantFrom(1, 2, 5, 10),
          exitTimeOut: fc.constantFrom(1, 2, 5),
        }),
        fc.array(run, { minLength: 1, maxLength: 6 }),
        offsets,
        cmds,
        fc.constantFrom('842', 'modern' as const),
        async (spec, script, jitter, commands, flavor) => {
          const t = rig('iv', spec, script, jitter, flavor);
          await t.runner.load(false);
          for (const c of commands) {
            if ('stop' in c) t.runner.send({ type: 'stop' });
            else await advance(t.clock, c.advance, STEP_MS);
          }
          const end = t.clock.monotonicMs();
          const periodMs = spec.startInterval * 1000;
          const { spawnsAt, exitsAt } = t.seen;

          // One run per slot: the i-th run (nothing but the interval starts this job) never
          // starts before the i-th slot is (nearly: a timer may be early) due.
          spawnsAt.forEach((at, i) =>
            assert.ok(
              at >= t.t0 + (i + 1) * periodMs - MAX_EARLY_MS,
              `run ${i + 1} at +${at - t.t0} ms, before slot ${i + 1} (+${(i + 1) * periodMs} ms)`,
            ),
          );
          assert.ok(spawnsAt.length <= Math.floor((end - t.t0 + MAX_EARLY_MS) / periodMs));
          // The first slot is never lost.
          if (end - t.t0 >= periodMs + MAX_LATE_MS + STEP_MS) assert.ok(spawnsAt.length >= 1, 'slot 1 ran');
          // Throttle: spawn-to-spawn spacing.
          for (let i = 1; i < spawnsAt.length; i++)
            assert.ok(
              spawnsAt[i]! - spawnsAt[i - 1]! >= spec.throttleInterval * 1000,
              `spawns ${spawnsAt[i - 1]! - t.t0} and ${spawnsAt[i]! - t.t0} inside ThrottleInterval`,
            );
          // ExitTimeOut: SIGKILL no sooner than ExitTimeOut after our SIGTERM of the same pid.
          const sigs = t.spawner.signals;
          for (const k of sigs.filter((s) => s.signal === 'SIGKILL')) {
            const term = sigs
              .filter((s) => s.pid === k.pid && s.signal === 'SIGTERM' && s.atMs <= k.atMs)
              .at(-1);
            if (term)
              assert.ok(
                k.atMs - term.atMs >= spec.exitTimeOut * 1000,
                `SIGKILL ${k.atMs - term.atMs} ms after SIGTERM (ExitTimeOut ${spec.exitTimeOut} s)`,
              );
          }
          // Kill grace: a process that survives SIGKILL is declared gone no sooner than 4 s later.
          const pids = t.spawner.pidsOf('iv');
          for (const pid of pids) {
            const kill = sigs.find((s) => s.pid === pid && s.signal === 'SIGKILL');
            const really = t.spawner.exits.find((x) => x.pid === pid);
            const exit = exitsAt[pids.indexOf(pid)];
            if (kill && !really && exit !== undefined)
              assert.ok(exit - kill.atMs >= 4000, `exit simulated ${exit - kill.atMs} ms after SIGKILL`);
          }
          t.runner.send({ type: 'unload' });
          await advance(t.clock, 60_000, 1000);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('StartCalendarInterval: one run per due minute, never before it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ runForMs: fc.integer({ min: 0, max: 150_000 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        offsets,
        fc.integer({ min: 60_000, max: 400_000 }),
        async (script, jitter, total) => {
          const t = rig('cal', { startCalendarInterval: [{}], throttleInterval: 1 }, script, jitter, '842');
          await t.runner.load(false);
          await advance(t.clock, total, 500);
          const { spawnsAt } = t.seen;
          // Wall and monotonic clocks move together here (no jumps): minute i is due at t0 + i min.
          spawnsAt.forEach((at, i) =>
            assert.ok(
              at >= t.t0 + (i + 1) * 60_000,
              `run ${i + 1} at +${at - t.t0} ms, before minute ${i + 1}`,
            ),
          );
          t.runner.send({ type: 'unload' });
        },
      ),
      { numRuns: 60 },
    );
  });
});
