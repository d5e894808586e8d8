// Event-in / effects-out tests of the pure job machine, on the simulator's exact virtual timeline.
// Row numbers are docs/launchd-semantics.md §6.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobSpec } from '../../testing/job-spec-builder.ts';
import { MachineSim } from '../../testing/machine-sim.ts';
import { machineConfig } from './machine-config.ts';
import { step } from './job-machine.ts';
import { STATE_TABLE, initialJobState } from './job-state.ts';

const load = { type: 'load', disabled: false } as const;
const times = (sim: MachineSim): number[] => sim.spawns.map((s) => s.atMs);

describe('throttle and KeepAlive timing (rows 1-4)', () => {
  it('row 1: KeepAlive=true, exit 0 after 1 s: next spawn exactly 10 s after the previous spawn', () => {
    const sim = new MachineSim(jobSpec('r1', { keepAlive: true }), { script: [{ runForMs: 1000 }] });
    sim.send(load);
    sim.runUntil(35_000);
    assert.deepEqual(times(sim), [0, 10_000, 20_000, 30_000]);
    assert.equal(sim.state.runs, 4);
    // Between 1 s and 10 s the job waits in spawn-scheduled with the throttle's deadline.
    const sim2 = new MachineSim(jobSpec('r1', { keepAlive: true }), { script: [{ runForMs: 1000 }] });
    sim2.send(load);
    sim2.runUntil(5_000);
    assert.deepEqual(sim2.state.sub, { kind: 'spawn-scheduled', untilMs: 10_000 });
    assert.equal(sim2.state.throttledUntilMs, 10_000);
    assert.equal(STATE_TABLE[sim2.state.sub.kind].print, 'spawn scheduled');
  });

  it('row 2: a 15 s run respawns immediately; a 0.3 s run respawns at 10.3 s (whole-second truncation)', () => {
    const sim = new MachineSim(jobSpec('r2', { keepAlive: true }), {
      script: [{ runForMs: 15_000, exitCode: 1 }, { runForMs: 300 }, { runForMs: 100_000 }],
    });
    sim.send(load);
    sim.runUntil(40_000);
    assert.deepEqual(times(sim), [0, 15_000, 25_300]);
    assert.equal(sim.spawns[1]?.reason, 'inefficient');
  });

  it('row 3: ThrottleInterval=30 with an instant exit spaces spawns 30 s apart', () => {
    const sim = new MachineSim(jobSpec('r3', { keepAlive: true, throttleInterval: 30 }), {
      script: [{ runForMs: 0 }],
    });
    sim.send(load);
    sim.runUntil(95_000);
    assert.deepEqual(times(sim), [0, 30_000, 60_000, 90_000]);
    assert.equal(sim.state.minimumRuntimeSec, 30);
  });

  it('row 4: a job that crashes instantly forever is retried at throttle pace and never removed', () => {
    const sim = new MachineSim(jobSpec('r4', { keepAlive: true }), {
      script: [{ runForMs: 0, signal: 'SIGSEGV' }],
    });
    sim.send(load);
    sim.runUntil(1_000_000);
    assert.equal(sim.spawns.length, 101);
    assert.equal(sim.removed, false);
    assert.equal(sim.state.successiveCrashes, 101);
    assert.ok(sim.state.crashLooping, 'crash-looping is flagged');
    assert.equal(sim.state.crashLooping.count, 101);
    assert.equal(sim.state.crashLooping.sinceMs, 40_000, 'since the 5th short run');
    assert.equal(STATE_TABLE[sim.state.sub.kind].active, 'activating');
  });
});

describe('demand and KeepAlive conditions (rows 5-13)', () => {
  it('row 5: no KeepAlive, RunAtLoad or demand: not running, runs 0, never spawned', () => {
    const sim = new MachineSim(jobSpec('r5'));
    sim.send(load);
    sim.runUntil(100_000);
    assert.equal(sim.spawns.length, 0);
    assert.equal(sim.state.runs, 0);
    assert.equal(STATE_TABLE[sim.state.sub.kind].print, 'not running');
    assert.equal(sim.state.lastExit, undefined);
  });

  it('row 6: RunAtLoad only: one run, not restarted, status recorded', () => {
    const sim = new MachineSim(jobSpec('r6', { runAtLoad: true }), {
      script: [{ runForMs: 500, exitCode: 3 }],
    });
    sim.send(load);
    sim.runUntil(100_000);
    assert.equal(sim.spawns.length, 1);
    assert.equal(sim.spawns[0]?.reason, 'speculative');
    assert.equal(sim.state.runs, 1);
    assert.deepEqual(sim.state.lastExit, { kind: 'code', code: 3 });
    assert.equal(sim.state.sub.kind, 'exited');
    assert.equal(STATE_TABLE.exited.print, 'not running');
    assert.equal(STATE_TABLE.exited.active, 'failed');
  });

  it('row 7: SuccessfulExit=false launches at load; exit 1 and SIGKILL restart after the throttle, exit 0 does not', () => {
    const sim = new MachineSim(jobSpec('r7', { keepAlive: { successfulExit: false } }), {
      script: [{ runForMs: 1000, exitCode: 1 }, { runForMs: 2000, signal: 'SIGKILL' }, { runForMs: 1000 }],
    });
    sim.send(load);
    sim.runUntil(100_000);
    assert.deepEqual(times(sim), [0, 10_000, 20_000]);
    assert.equal(sim.state.runs, 3);
    assert.equal(sim.state.sub.kind, 'waiting');
  });

  it('row 8: {SuccessfulExit=true, Crashed=true}: exit 0 restarts, exit 1 does not', () => {
    const sim = new MachineSim(jobSpec('r8', { keepAlive: { successfulExit: true, crashed: true } }), {
      script: [
        { runForMs: 20_000, exitCode: 0 },
        { runForMs: 20_000, exitCode: 1 },
      ],
    });
    sim.send(load);
    sim.runUntil(200_000);
    assert.deepEqual(times(sim), [0, 20_000]);
    assert.equal(sim.state.runs, 2);
    assert.equal(STATE_TABLE[sim.state.sub.kind].print, 'not running');
  });

  it('row 9: Crashed=true restarts after SIGSEGV and SIGABRT, after the throttle', () => {
    const sim = new MachineSim(jobSpec('r9', { keepAlive: { crashed: true } }), {
      script: [{ runForMs: 1000, signal: 'SIGSEGV' }, { runForMs: 1000, signal: 'SIGABRT' }, {}],
    });
    sim.send(load);
    sim.runUntil(60_000);
    assert.deepEqual(times(sim), [0, 10_000, 20_000]);
    assert.equal(sim.state.sub.kind, 'running');
  });

  for (const end of ['SIGKILL', 'SIGTERM', 1] as const) {
    it(`row 10: Crashed=true does not restart after ${end}`, () => {
      const sim = new MachineSim(jobSpec('r10', { keepAlive: { crashed: true } }), { script: [{}] });
      sim.send(load);
      sim.advance(2000);
      if (typeof end === 'string') sim.send({ type: 'kill-signal', signal: end });
      else sim.exitNow({ code: end });
      sim.runUntil(100_000);
      assert.equal(sim.spawns.length, 1);
      assert.equal(sim.state.crashed, false);
    });
  }

  it('row 10/§2.5: a SIGSEGV sent with `kill` is a crash (not our stop), so Crashed=true restarts', () => {
    const sim = new MachineSim(jobSpec('kill-segv', { keepAlive: { crashed: true } }), { script: [{}] });
    sim.send(load);
    sim.advance(12_000);
    sim.send({ type: 'kill-signal', signal: 'SIGSEGV' });
    sim.runUntil(12_000);
    assert.deepEqual(sim.state.lastExit, { kind: 'signal', signal: 'SIGSEGV' });
    assert.deepEqual(times(sim), [0, 12_000]);
    assert.equal(sim.state.successiveCrashes, 1);
  });

  it('row 11: a program that catches SIGSEGV and exits 2 is not a crash', () => {
    const sim = new MachineSim(jobSpec('r11', { keepAlive: { crashed: true } }), {
      script: [{ runForMs: 1000, exitCode: 2 }],
    });
    sim.send(load);
    sim.runUntil(60_000);
    assert.equal(sim.spawns.length, 1);
    assert.deepEqual(sim.state.lastExit, { kind: 'code', code: 2 });
  });

  it('row 12: AfterInitialDemand + SuccessfulExit=false: held until kickstart, restarted after exit 1, stays stopped after exit 0', () => {
    const sim = new MachineSim(
      jobSpec('r12', { keepAlive: { afterInitialDemand: true, successfulExit: false } }),
      {
        script: [
          { runForMs: 2000, exitCode: 1 },
          { runForMs: 2000, exitCode: 0 },
        ],
      },
    );
    sim.send(load);
    sim.runUntil(50_000);
    assert.equal(sim.spawns.length, 0, 'not started at bootstrap');
    sim.send({ type: 'kickstart', kill: false });
    assert.equal(sim.spawns[0]?.reason, 'non-ipc demand');
    sim.runUntil(200_000);
    assert.deepEqual(times(sim), [50_000, 60_000]);
    assert.equal(sim.state.sub.kind, 'waiting');
  });

  it('row 13: AfterInitialDemand beats RunAtLoad and StartInterval until the first real demand', () => {
    const sim = new MachineSim(
      jobSpec('r13', { runAtLoad: true, startInterval: 5, keepAlive: { afterInitialDemand: true } }),
      { script: [{ runForMs: 100 }] },
    );
    sim.send(load);
    sim.send({ type: 'trigger', kind: 'interval' });
    sim.advance(1000);
    assert.equal(sim.spawns.length, 0);
    sim.send({ type: 'kickstart', kill: false });
    assert.equal(sim.spawns.length, 1);
    // A dict with only AfterInitialDemand becomes KeepAlive=true after the kickoff.
    assert.equal(sim.state.keepAliveForced, true);
    sim.runUntil(25_000);
    // 0.1 s runs: td truncates to 0, so each respawn is a full 10 s after the exit.
    assert.deepEqual(times(sim), [1000, 11_100, 21_200]);
  });
});

describe('process groups and stopping (rows 14-19)', () => {
  it('rows 14/15: after the main process exits its group gets one SIGTERM, never a SIGKILL', () => {
    const sim = new MachineSim(jobSpec('r14', { runAtLoad: true }), { script: [{ runForMs: 1000 }] });
    sim.send(load);
    sim.runUntil(10_000);
    const group = sim.effects.filter((e) => e.effect.type === 'signal-group').map((e) => e.effect);
    assert.deepEqual(group, [{ type: 'signal-group', pgid: 100, signal: 'SIGTERM' }]);
  });

  it('row 16: AbandonProcessGroup=true leaves the group alone', () => {
    const sim = new MachineSim(jobSpec('r16', { runAtLoad: true, abandonProcessGroup: true }), {
      script: [{ runForMs: 1000 }],
    });
    sim.send(load);
    sim.runUntil(10_000);
    assert.equal(sim.effects.filter((e) => e.effect.type === 'signal-group').length, 0);
  });

  it('row 17: bootout of a running job: SIGTERM to the pid, exit, then removal', () => {
    const sim = new MachineSim(jobSpec('r17', { keepAlive: true }), { script: [{}] });
    sim.send(load);
    sim.advance(5000);
    const eff = sim.send({ type: 'unload' });
    assert.ok(eff.some((e) => e.type === 'signal' && e.signal === 'SIGTERM' && e.pid === 100));
    assert.equal(sim.state.sub.kind, 'stopping-term');
    sim.runUntil(5000);
    assert.equal(sim.removed, true);
    assert.equal(sim.state.sub.kind, 'removed');
    assert.equal(sim.spawns.length, 1, 'KeepAlive does not bring a booted-out job back');
  });

  it('row 18: bootout of a job ignoring SIGTERM with ExitTimeOut=3: SIGKILL 3 s later; present until exit', () => {
    const sim = new MachineSim(jobSpec('r18', { keepAlive: true, exitTimeOut: 3 }), {
      script: [{ ignoreSigterm: true }],
    });
    sim.send(load);
    sim.advance(1000);
    sim.send({ type: 'unload' });
    sim.runUntil(3999);
    assert.equal(sim.state.sub.kind, 'stopping-term');
    assert.equal(STATE_TABLE['stopping-term'].print, 'SIGTERMed');
    sim.runUntil(4000);
    const kills = sim.effects.filter((e) => e.effect.type === 'signal' && e.effect.signal === 'SIGKILL');
    assert.deepEqual(
      kills.map((k) => k.at),
      [4000],
    );
    assert.equal(sim.removed, true);
  });

  it('row 19: ExitTimeOut=0 never SIGKILLs', () => {
    const sim = new MachineSim(jobSpec('r19', { keepAlive: true, exitTimeOut: 0 }), {
      script: [{ ignoreSigterm: true }],
    });
    sim.send(load);
    sim.send({ type: 'unload' });
    sim.runUntil(10_000_000);
    assert.equal(sim.state.sub.kind, 'stopping-term');
    assert.equal(
      sim.effects.filter((e) => e.effect.type === 'signal' && e.effect.signal === 'SIGKILL').length,
      0,
    );
    assert.equal(sim.timers().size, 0);
  });

  it('the default ExitTimeOut is configurable (D1): 20 s for 842, 5 s modern', () => {
    for (const [flavor, expect] of [
      ['842', 20_000],
      ['modern', 5_000],
    ] as const) {
      const sim = new MachineSim(jobSpec('d1', { runAtLoad: true }), {
        config: machineConfig(flavor),
        script: [{ ignoreSigterm: true }],
      });
      sim.send(load);
      sim.send({ type: 'stop' });
      sim.runUntil(100_000);
      const kill = sim.effects.find((e) => e.effect.type === 'signal' && e.effect.signal === 'SIGKILL');
      assert.equal(kill?.at, expect);
    }
  });

  it('a process that does not die 4 s after SIGKILL gets a simulated exit; its late real exit is ignored', () => {
    const sim = new MachineSim(jobSpec('stuck', { runAtLoad: true, exitTimeOut: 1 }), {
      script: [{ unkillable: true }],
    });
    sim.send(load);
    sim.send({ type: 'unload' });
    sim.runUntil(5000);
    assert.equal(sim.removed, true);
    assert.equal(sim.state.runs, 1);
    assert.deepEqual(sim.state.lastExit, { kind: 'signal', signal: 'SIGKILL' });
    const late = step(
      jobSpec('stuck'),
      sim.state,
      { type: 'exited', pid: 100, code: null, signal: 'SIGKILL' },
      6000,
      machineConfig(),
    );
    assert.equal(late.state.runs, 1);
    assert.ok(!late.effects.some((e) => e.type === 'log' && e.level === 'error'));
  });

  it('legacy stop: SIGTERM; a KeepAlive job comes back through the throttle', () => {
    const sim = new MachineSim(jobSpec('stop', { keepAlive: true }), { script: [{}] });
    sim.send(load);
    sim.advance(3000);
    sim.send({ type: 'stop' });
    sim.runUntil(20_000);
    assert.deepEqual(times(sim), [0, 10_000]);
    assert.equal(sim.state.crashed, false);
    assert.deepEqual(sim.state.lastExit, { kind: 'signal', signal: 'SIGTERM' });
    assert.equal(sim.state.sub.kind, 'running');
  });

  it('kickstart -k kills with SIGKILL and restarts, still subject to the throttle', () => {
    const sim = new MachineSim(jobSpec('kk', { runAtLoad: true }), { script: [{}] });
    sim.send(load);
    sim.advance(4000);
    sim.send({ type: 'kickstart', kill: true });
    sim.runUntil(4000);
    assert.equal(sim.state.sub.kind, 'spawn-scheduled');
    sim.runUntil(20_000);
    assert.deepEqual(times(sim), [0, 10_000]);
    assert.equal(sim.spawns[1]?.reason, 'non-ipc demand');
  });

  it('bootout during a spawn stops the process as soon as it exists, then removes the job', () => {
    const spec = jobSpec('race', { runAtLoad: true });
    const cfg = machineConfig();
    let s = step(spec, initialJobState(), load, 0, cfg).state;
    assert.equal(s.sub.kind, 'spawning');
    s = step(spec, s, { type: 'unload' }, 1, cfg).state;
    assert.equal(s.sub.kind, 'removal-pending');
    const r = step(spec, s, { type: 'spawned', pid: 7 }, 2, cfg);
    assert.deepEqual(r.state.sub, { kind: 'stopping-term', pid: 7 });
    assert.ok(r.effects.some((e) => e.type === 'signal' && e.pid === 7 && e.signal === 'SIGTERM'));
    const done = step(spec, r.state, { type: 'exited', pid: 7, code: null, signal: 'SIGTERM' }, 3, cfg);
    assert.equal(done.state.sub.kind, 'removed');
    assert.ok(done.effects.some((e) => e.type === 'remove-job'));
  });
});

describe('triggers while running, LaunchOnlyOnce (rows 29, 41)', () => {
  it('row 29 (842 queue-one): a calendar firing during a run gives exactly one re-run after the exit', () => {
    const sim = new MachineSim(jobSpec('r29', { startCalendarInterval: [{ minute: 0 }] }), {
      script: [{ runForMs: 30_000 }],
    });
    sim.send(load);
    sim.send({ type: 'trigger', kind: 'calendar' });
    sim.advance(5000);
    sim.send({ type: 'trigger', kind: 'calendar' });
    sim.send({ type: 'trigger', kind: 'calendar' });
    sim.runUntil(200_000);
    assert.deepEqual(times(sim), [0, 30_000]);
    assert.equal(sim.spawns[1]?.reason, 'calendar');
  });

  it('row 29 (modern drop): the firing is missed', () => {
    const sim = new MachineSim(jobSpec('r29m', { startInterval: 60 }), {
      config: machineConfig('modern'),
      script: [{ runForMs: 30_000 }],
    });
    sim.send(load);
    sim.send({ type: 'trigger', kind: 'interval' });
    sim.advance(5000);
    sim.send({ type: 'trigger', kind: 'interval' });
    sim.runUntil(200_000);
    assert.deepEqual(times(sim), [0]);
  });

  it('row 41: LaunchOnlyOnce with KeepAlive runs once and is removed', () => {
    const sim = new MachineSim(jobSpec('r41', { launchOnlyOnce: true, keepAlive: true }), {
      script: [{ runForMs: 1000, exitCode: 1 }],
    });
    sim.send(load);
    sim.runUntil(100_000);
    assert.equal(sim.spawns.length, 1);
    assert.equal(sim.removed, true);
  });

  it('a socket readable while waiting is genuine demand: ipc (socket)', () => {
    const sim = new MachineSim(jobSpec('sock'), { script: [{ runForMs: 100 }] });
    sim.send(load);
    sim.send({ type: 'trigger', kind: 'socket' });
    assert.equal(sim.spawns[0]?.reason, 'ipc (socket)');
  });
});

describe('enable/disable on a loaded job (§2.6)', () => {
  it('disable leaves the process running but stops KeepAlive respawns; enable brings it back', () => {
    const sim = new MachineSim(jobSpec('dis', { keepAlive: true }), { script: [{ runForMs: 20_000 }] });
    sim.send(load);
    sim.advance(1000);
    const eff = sim.send({ type: 'disable' });
    assert.ok(!eff.some((e) => e.type === 'signal'), 'the process is not signalled');
    assert.equal(sim.state.sub.kind, 'running');
    sim.runUntil(100_000);
    assert.equal(sim.spawns.length, 1);
    assert.equal(sim.state.sub.kind, 'waiting');
    sim.send({ type: 'kickstart', kill: false });
    assert.equal(sim.spawns.length, 1, 'a disabled job is not kickstarted');
    sim.send({ type: 'enable' });
    assert.equal(sim.spawns.length, 2);
  });

  it('disabling a spawn-scheduled job cancels the scheduled spawn', () => {
    const sim = new MachineSim(jobSpec('dis2', { keepAlive: true }), { script: [{ runForMs: 1000 }] });
    sim.send(load);
    sim.runUntil(2000);
    assert.equal(sim.state.sub.kind, 'spawn-scheduled');
    sim.send({ type: 'disable' });
    sim.runUntil(100_000);
    assert.equal(sim.spawns.length, 1);
    assert.equal(sim.timers().size, 0);
  });
});

describe('spawn failures, D2, D3, crash loops, history', () => {
  it('a spawn failure is recorded with its status and retried at throttle pace (not a crash of anything)', () => {
    const sim = new MachineSim(jobSpec('sf', { keepAlive: true }), {
      script: [
        { startError: { stage: 'user', errno: 'ESRCH', exitStatus: 3, message: 'no such user: nobody2' } },
      ],
    });
    sim.send(load);
    sim.runUntil(25_000);
    assert.deepEqual(times(sim), [0, 10_000, 20_000]);
    assert.equal(sim.state.spawnFailure?.exitStatus, 3);
    assert.equal(sim.state.spawnFailure.stage, 'user');
    assert.deepEqual(sim.state.lastExit, { kind: 'code', code: 3 });
    assert.equal(sim.state.runs, 3);
    assert.equal(sim.errors.length, 0);
  });

  it('D2: ThrottleInterval=0 is honoured by 842 and ignored by modern', () => {
    const run = (flavor: '842' | 'modern'): number[] => {
      const sim = new MachineSim(jobSpec('d2', { keepAlive: true, throttleInterval: 0 }), {
        config: machineConfig(flavor),
        script: [{ runForMs: 1000 }],
      });
      sim.send(load);
      sim.runUntil(3500);
      return times(sim);
    };
    assert.deepEqual(run('842'), [0, 1000, 2000, 3000]);
    assert.deepEqual(run('modern'), [0]);
  });

  it('inetdCompatibility jobs are not throttled', () => {
    const sim = new MachineSim(jobSpec('inetd', { keepAlive: true, inetdCompatibility: { wait: true } }), {
      script: [{ runForMs: 1000 }],
    });
    sim.send(load);
    sim.runUntil(3500);
    assert.deepEqual(times(sim), [0, 1000, 2000, 3000]);
  });

  it('D3: optional exponential backoff after successive crashes, capped', () => {
    const config = machineConfig('842', { backoff: { enabled: true, graceCrashes: 2, capSec: 40 } });
    const sim = new MachineSim(jobSpec('d3', { keepAlive: true }), {
      config,
      script: [{ runForMs: 0, exitCode: 1 }],
    });
    sim.send(load);
    sim.runUntil(200_000);
    // crashes 1,2 within grace (10 s), 3 -> 20 s, 4 -> 40 s, then capped at 40 s.
    assert.deepEqual(times(sim).slice(0, 7), [0, 10_000, 20_000, 40_000, 80_000, 120_000, 160_000]);
    assert.equal(sim.state.minimumRuntimeSec, 40);
  });

  it('crash-looping is cleared by a run that lasts', () => {
    const runs = [
      ...Array.from({ length: 6 }, () => ({ runForMs: 500, exitCode: 1 })),
      { runForMs: 60_000, exitCode: 1 },
    ];
    const sim = new MachineSim(jobSpec('cl', { keepAlive: true }), { script: [...runs, {}] });
    sim.send(load);
    sim.runUntil(59_000);
    assert.ok(sim.state.crashLooping);
    assert.equal(sim.state.crashLooping.count, 6);
    sim.runUntil(200_000);
    assert.equal(sim.state.crashLooping, undefined);
    assert.equal(sim.state.shortRuns, 0);
  });

  it('short clean runs of an on-demand job are not a crash loop', () => {
    const sim = new MachineSim(jobSpec('ok', { startInterval: 60 }), { script: [{ runForMs: 500 }] });
    sim.send(load);
    for (let i = 0; i < 8; i++) {
      sim.send({ type: 'trigger', kind: 'interval' });
      sim.advance(60_000);
    }
    assert.equal(sim.spawns.length, 8);
    assert.equal(sim.state.crashLooping, undefined);
  });

  it('the event history is bounded and says why', () => {
    const sim = new MachineSim(jobSpec('h', { keepAlive: true }), { script: [{ runForMs: 0 }] });
    sim.send(load);
    sim.runUntil(1_000_000);
    assert.equal(sim.state.history.length, 20);
    assert.ok(
      sim.state.history.some((h) => h.detail.includes('Throttling respawn: Will start in 10 seconds')),
    );
  });

  it('impossible cells log instead of throwing', () => {
    const r = step(jobSpec('x'), initialJobState(), { type: 'spawned', pid: 5 }, 0, machineConfig());
    assert.ok(
      r.effects.some((e) => e.type === 'log' && e.level === 'error' && e.message.startsWith("can't happen")),
    );
    assert.equal(r.state.sub.kind, 'unloaded');
  });
});

describe('result: how the last run ended (the fleet vocabulary)', () => {
  it('is recorded at the reap, survives a respawn in the same step, and resets once a process runs', () => {
    const spec = jobSpec('res', { keepAlive: true });
    const sim = new MachineSim(spec, { script: [{ runForMs: 100_000 }] });
    sim.send(load);
    sim.runUntil(15_000);
    const pid = sim.pid;
    assert.ok(pid !== undefined);
    // A 15 s run respawns at once (outside ThrottleInterval): the reap and the next spawn are one step.
    const crashed = step(
      spec,
      sim.state,
      { type: 'exited', pid, code: null, signal: 'SIGSEGV' },
      15_000,
      machineConfig('842'),
    );
    assert.equal(crashed.state.sub.kind, 'spawning');
    assert.equal(crashed.state.result, 'crash', 'the crash is not forgotten by the respawn');
    const next = step(spec, crashed.state, { type: 'spawned', pid: pid + 1 }, 15_001, machineConfig('842'));
    assert.equal(next.state.sub.kind, 'running');
    assert.equal(next.state.result, 'success', 'a new process runs');
  });

  it('an exit code, a signal, our own stop and a spawn failure each have their result; exited iff it failed', () => {
    const cases: [Parameters<MachineSim['exitNow']>[0] | 'stop', string, string][] = [
      [{ code: 0 }, 'success', 'waiting'],
      [{ code: 2 }, 'exit-code', 'exited'],
      [{ signal: 'SIGHUP' }, 'signal', 'exited'],
      [{ signal: 'SIGABRT' }, 'crash', 'exited'],
      ['stop', 'stopped', 'waiting'],
    ];
    for (const [how, result, sub] of cases) {
      const sim = new MachineSim(jobSpec('r', { runAtLoad: true }), { script: [{ runForMs: 100_000 }] });
      sim.send(load);
      sim.runUntil(10);
      if (how === 'stop') {
        sim.send({ type: 'stop' });
        sim.runUntil(100);
      } else sim.exitNow(how);
      assert.equal(sim.state.result, result, JSON.stringify(how));
      assert.equal(sim.state.sub.kind, sub, JSON.stringify(how));
    }
    const noexec = new MachineSim(jobSpec('n', { runAtLoad: true }), {
      script: [{ startError: { stage: 'exec', errno: 'ENOENT', exitStatus: 2, message: 'no such file' } }],
    });
    noexec.send(load);
    noexec.runUntil(10);
    assert.equal(noexec.state.result, 'spawn-failed');
    assert.equal(noexec.state.sub.kind, 'exited');
  });
});
