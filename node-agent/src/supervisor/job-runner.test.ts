// The runtime with fake ports on a FakeClock: effects reach the ports, timers and watches are
// armed and released, and the machine's timings survive the trip through the runtime. Rows and D
// numbers are those of docs/launchd-semantics.md §6 and §7.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import type { JobSpec } from '@launchfleet/shared/job';
import { jobSpec } from '../testing/job-spec-builder.ts';
import { FakeSpawner } from '../testing/fake-spawner.ts';
import { FakeFileSystem } from '../testing/fake-file-system.ts';
import { FakeUserDb } from '../testing/fake-user-db.ts';
import { advance, flush } from '../testing/settle.ts';
import { CalendarScheduler } from './calendar-scheduler.ts';
import { ClockJumpDetector } from './clock-jump-detector.ts';
import { fixedOffset } from './core/calendar.ts';
import { machineConfig, type MachineConfig } from './core/machine-config.ts';
import { JobRunner, type RunnerDomain } from './job-runner.ts';
import { formatPrint, listRow, printJobState } from './job-status.ts';

function setup(opts: { config?: MachineConfig; domain?: Partial<RunnerDomain> } = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 5, 12, 0, 0), 1_000_000);
  const spawner = new FakeSpawner(clock, clock);
  const fs = new FakeFileSystem();
  const users = new FakeUserDb();
  const config = opts.config ?? machineConfig('842');
  const calendar = new CalendarScheduler(clock, clock, fixedOffset(0), { weekdayIgnoresMonth: true });
  const logs: string[] = [];
  const domain: RunnerDomain = {
    kind: 'system',
    uid: 0,
    agentUid: 0,
    target: 'system',
    calendar,
    otherJob: () => ({ loaded: false, active: false }),
    ...opts.domain,
  };
  const runner = (spec: JobSpec) =>
    new JobRunner({
      spec,
      domain,
      ports: { spawner, fs, users, clock, scheduler: clock },
      config,
      log: (level, label, msg) => logs.push(`${level} ${label}: ${msg}`),
    });
  const rel = (ms: number[]) => ms.map((t) => t - 1_000_000);
  return { clock, spawner, fs, users, calendar, logs, runner, rel };
}

describe('JobRunner: spawning through the ports', () => {
  it('row 1 through the runtime: spawns at 0 and exactly 10 s, group SIGTERM after each exit', async () => {
    const t = setup();
    t.spawner.script('r1', { runForMs: 1000 });
    const r = t.runner(jobSpec('r1', { keepAlive: true }));
    await r.load(false);
    await advance(t.clock, 25_000);
    assert.deepEqual(t.rel(t.spawner.spawnTimes('r1')), [0, 10_000, 20_000]);
    assert.deepEqual(
      t.spawner.groupSignals.map((g) => g.signal),
      ['SIGTERM', 'SIGTERM', 'SIGTERM'],
    );
    assert.deepEqual(
      t.spawner.groupSignals.map((g) => g.pgid),
      t.spawner.pidsOf('r1'),
      'each group is the exited process own group',
    );
    assert.equal(t.spawner.maxAliveAtOnce('r1'), 1);
    assert.equal(r.status().runs, 3);
  });

  it('builds the environment: PATH default, XPC_SERVICE_NAME, user vars, EnvironmentVariables last', async () => {
    const t = setup();
    const r = t.runner(
      jobSpec('env', {
        runAtLoad: true,
        userName: 'alice',
        groupName: 'admin',
        environmentVariables: { PATH: '/opt/bin', HOME: '/override', A: 'x' },
        programArguments: ['tool', '--flag'],
        programIsExplicit: false,
        program: 'tool',
        standardOutPath: '/var/log/env.log',
        umask: 0o22,
      }),
    );
    await r.load(false);
    await flush();
    const req = t.spawner.spawns[0]?.req;
    assert.ok(req);
    assert.deepEqual(req.env, {
      PATH: '/opt/bin',
      XPC_SERVICE_NAME: 'env',
      HOME: '/override',
      USER: 'alice',
      LOGNAME: 'alice',
      SHELL: '/bin/zsh',
      TMPDIR: '/tmp',
      A: 'x',
    });
    assert.deepEqual(req.credentials, { uid: 501, gid: 80, userName: 'alice', initGroups: true });
    assert.equal(req.searchPath, true, 'ProgramArguments[0] without Program is searched in the final PATH');
    assert.deepEqual(req.argv, ['tool', '--flag']);
    assert.deepEqual(req.stdout, { kind: 'path', path: '/var/log/env.log' });
    assert.deepEqual(req.stdin, { kind: 'null' });
    assert.equal(req.umask, 0o22);
  });

  it('agents run as their domain user; UserName is ignored with a warning', async () => {
    const t = setup({ domain: { kind: 'gui', uid: 502, target: 'gui/502' } });
    const r = t.runner(jobSpec('agent', { runAtLoad: true, userName: 'root' }));
    await r.load(false);
    await flush();
    assert.deepEqual(t.spawner.spawns[0]?.req.credentials, {
      uid: 502,
      gid: 20,
      userName: 'bob',
      initGroups: true,
    });
    assert.equal(t.spawner.spawns[0]?.req.env['HOME'], '/home/bob');
    assert.ok(t.logs.some((l) => l.includes('UserName ignored')));
  });

  for (const [flavor, status] of [
    ['842', 3],
    ['modern', 78],
  ] as const) {
    it(`an unknown UserName is a spawn failure with status ${status} (${flavor}), retried at throttle pace`, async () => {
      const t = setup({ config: machineConfig(flavor) });
      const r = t.runner(jobSpec('nouser', { keepAlive: true, userName: 'nobody-here' }));
      await r.load(false);
      await advance(t.clock, 15_000);
      const s = r.status();
      assert.equal(t.spawner.spawns.length, 0, 'the spawner is never asked');
      assert.equal(s.spawnFailure?.exitStatus, status);
      assert.equal(s.spawnFailure.stage, 'user');
      assert.equal(printJobState(s), 'spawn failed');
      assert.equal(s.result, 'spawn-failed');
      assert.equal(s.lastExitCode, status);
      assert.equal(s.runs, 2);
      assert.equal(s.state, 'spawn scheduled');
    });
  }

  it('a spawner that throws becomes a spawn failure, not a crash of the agent', async () => {
    const t = setup();
    t.spawner.spawn = () => Promise.reject(new Error('adapter bug'));
    const r = t.runner(jobSpec('boom', { runAtLoad: true }));
    await r.load(false);
    await flush();
    assert.equal(r.status().spawnFailure?.message, 'adapter bug');
    assert.equal(r.status().state, 'not running');
  });

  it('row 44: after a SIGTERM death, list shows "-  -15  label" and print shows the signal line only', async () => {
    const t = setup();
    t.spawner.script('r44', {});
    const r = t.runner(jobSpec('r44', { runAtLoad: true }));
    await r.load(false);
    await flush();
    assert.deepEqual(listRow(r.status(), 'dash'), { pid: '1000', status: '-', label: 'r44' });
    assert.deepEqual(listRow(r.status(), 'last-status'), { pid: '1000', status: '0', label: 'r44' });
    r.send({ type: 'kill-signal', signal: 'SIGTERM' });
    await flush();
    assert.deepEqual(listRow(r.status(), 'dash'), { pid: '-', status: '-15', label: 'r44' });
    assert.deepEqual(listRow(r.status(), 'last-status'), { pid: '-', status: '-15', label: 'r44' });
    const text = formatPrint(r.status(), t.clock.wallMs());
    assert.match(text, /last terminating signal = SIGTERM: 15/);
    assert.doesNotMatch(text, /last exit code/);
  });

  it('bootout of a job ignoring SIGTERM: SIGKILL after ExitTimeOut, removal resolves whenRemoved', async () => {
    const t = setup();
    t.spawner.script('r18', { ignoreSigterm: true });
    const r = t.runner(jobSpec('r18', { keepAlive: true, exitTimeOut: 3 }));
    await r.load(false);
    await flush();
    r.send({ type: 'unload' });
    let removed = false;
    void r.whenRemoved().then(() => (removed = true));
    await advance(t.clock, 2990);
    assert.equal(removed, false);
    assert.equal(r.status().state, 'SIGTERMed');
    await advance(t.clock, 20);
    assert.equal(removed, true);
    assert.deepEqual(
      t.spawner.signals.map((s) => s.signal),
      ['SIGTERM', 'SIGKILL'],
    );
    assert.equal(t.clock.pending(), 0, 'no timers left behind');
  });
});

describe('JobRunner: timers and demand sources', () => {
  it('row 28: StartInterval=60 runs 60 s after load and every 60 s from load, not from exit', async () => {
    const t = setup();
    t.spawner.script('r28', { runForMs: 5000 });
    const r = t.runner(jobSpec('r28', { startInterval: 60 }));
    await r.load(false);
    await advance(t.clock, 190_000, 100);
    assert.deepEqual(t.rel(t.spawner.spawnTimes('r28')), [60_000, 120_000, 180_000]);
    assert.equal(r.status().immediateReason, 'interval');
  });

  it('StartCalendarInterval through the shared scheduler: {Minute=0} fires at the top of each hour', async () => {
    const t = setup();
    t.spawner.script('cal', { runForMs: 1000 });
    const r = t.runner(jobSpec('cal', { startCalendarInterval: [{ minute: 0 }] }));
    await r.load(false);
    assert.equal(r.status().timers.nextCalendar, Date.UTC(2026, 0, 5, 13, 0, 0));
    await advance(t.clock, 2 * 3_600_000 + 1000, 1000);
    assert.deepEqual(t.rel(t.spawner.spawnTimes('cal')), [3_600_000, 7_200_000]);
    assert.equal(t.calendar.size(), 1);
    r.send({ type: 'unload' });
    assert.equal(t.calendar.size(), 0);
  });

  it('row 27: sleeping across three calendar times gives exactly one run at wake (clock-jump detector)', async () => {
    const t = setup();
    t.spawner.script('sleep', { runForMs: 1000 });
    const detector = new ClockJumpDetector(t.clock, t.clock, () => t.calendar.recheck());
    detector.start();
    const r = t.runner(jobSpec('sleep', { startCalendarInterval: [{ minute: 0 }] }));
    await r.load(false);
    await advance(t.clock, 60_000, 1000);
    // Suspend: the wall clock moves 3.5 h, the monotonic clock does not.
    t.clock.jumpWall(3.5 * 3_600_000);
    await advance(t.clock, 31_000, 1000);
    assert.equal(t.spawner.spawns.length, 1);
    assert.equal(r.status().immediateReason, 'calendar');
    assert.equal(r.status().timers.nextCalendar, Date.UTC(2026, 0, 5, 16, 0, 0));
    detector.stop();
  });

  it('WatchPaths: armed while idle, a change starts the job, disarmed while it runs', async () => {
    const t = setup();
    t.spawner.script('wp', { runForMs: 20_000 });
    const r = t.runner(jobSpec('wp', { watchPaths: ['/etc/thing.conf'] }));
    await r.load(false);
    assert.equal(t.fs.watchCount(), 1);
    t.fs.writeFile('/etc/thing.conf', 'a=1');
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    assert.equal(r.status().immediateReason, 'watch-path');
    assert.equal(t.fs.watchCount(), 0, 'no watch while running');
    t.fs.writeFile('/etc/thing.conf', 'a=2');
    await advance(t.clock, 25_000);
    assert.equal(t.spawner.spawns.length, 1, 'changes during the run are not queued');
    assert.equal(t.fs.watchCount(), 1);
  });

  it('QueueDirectories: re-listed, not counted; respawned while non-empty; stops when drained', async () => {
    const t = setup();
    t.fs.mkdir('/var/spool/q');
    const r = t.runner(jobSpec('q', { queueDirectories: ['/var/spool/q'] }));
    t.spawner.script('q', { runForMs: 500 });
    await r.load(false);
    await flush();
    assert.equal(t.spawner.spawns.length, 0);
    // Three files at once: one start.
    t.fs.writeFile('/var/spool/q/1', 'x');
    t.fs.writeFile('/var/spool/q/2', 'x');
    t.fs.writeFile('/var/spool/q/3', 'x');
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    assert.equal(r.status().immediateReason, 'queue-directory');
    // The job does not drain the queue: respawned at throttle pace.
    await advance(t.clock, 10_500);
    assert.equal(t.spawner.spawns.length, 2);
    t.fs.remove('/var/spool/q/1');
    t.fs.remove('/var/spool/q/2');
    t.fs.remove('/var/spool/q/3');
    await advance(t.clock, 30_000);
    assert.equal(t.spawner.spawns.length, 2, 'drained: no more runs');
    assert.equal(r.status().state, 'not running');
  });

  it('KeepAlive.PathState: starts when the path appears, not restarted after it is gone', async () => {
    const t = setup();
    t.spawner.script('ps', { runForMs: 15_000 });
    const r = t.runner(jobSpec('ps', { keepAlive: { pathState: { '/run/flag': true } } }));
    await r.load(false);
    await flush();
    assert.equal(t.spawner.spawns.length, 0);
    t.fs.writeFile('/run/flag', '');
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    assert.equal(r.status().immediateReason, 'semaphore');
    await advance(t.clock, 16_000);
    assert.equal(t.spawner.spawns.length, 2, 'still there after the exit: kept alive');
    t.fs.remove('/run/flag');
    await advance(t.clock, 40_000);
    assert.equal(t.spawner.spawns.length, 2);
  });

  it('D4: StartInterval missed during sleep coalesces into one run (842) or is missed (modern)', async () => {
    for (const [flavor, expect] of [
      ['842', 1],
      ['modern', 0],
    ] as const) {
      const t = setup({ config: machineConfig(flavor) });
      t.spawner.script('iv', { runForMs: 100 });
      const r = t.runner(jobSpec('iv', { startInterval: 600 }));
      await r.load(false);
      await advance(t.clock, 60_000, 1000);
      t.clock.jumpWall(3_600_000);
      r.onClockJump(3_600_000);
      await flush();
      assert.equal(t.spawner.spawns.length, expect, flavor);
    }
  });

  it('1000 idle on-demand jobs hold no timers and no polling (one shared calendar timer)', async () => {
    const t = setup();
    const runners = Array.from({ length: 1000 }, (_, i) =>
      t.runner(jobSpec(`j${i}`, i % 2 ? { startCalendarInterval: [{ hour: 3, minute: i % 60 }] } : {})),
    );
    for (const r of runners) await r.load(false);
    assert.equal(t.clock.pending(), 1, 'only the calendar scheduler timer');
    assert.equal(t.calendar.size(), 500);
  });
});
