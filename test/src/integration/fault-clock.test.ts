/**
 * The fault suite (docs/fault-suite.md): the wall clock stepped forward and back by hours while
 * a StartCalendarInterval job and a StartInterval job are loaded.
 *
 * Which clock: the machine's real clock cannot be stepped here without CAP_SYS_TIME, and
 * stepping it would break every other test on the shared machine (fault-time steps a real agent
 * process' clock under libfaketime). Here the agent's own clock abstraction
 * (shared/src/time/clock.ts) is stepped: the supervisor (the real DomainManager, its one
 * calendar timer and its clock-jump detector, real timers on the real monotonic clock, jobs
 * spawned as real processes) reads the wall clock through a Clock whose wall time is the
 * machine's plus an offset the test changes. The monotonic clock and the boot clock
 * (CLOCK_BOOTTIME, counts suspend) are the machine's own (the agent's `machineClock()`), as
 * they are across a real step.
 *
 * Promised (launchd's rules, docs/launchd-semantics.md §1.5 and §8):
 * - forward by 3 hours: the calendar job (`{}`: every minute), which missed ~180 firings, runs
 *   ONCE at once (coalesced), then on its next minute; the StartInterval job keeps its monotonic
 *   cadence: a wall-clock step is not sleep, so it gets no extra run (only sleep coalesces);
 * - back by 3 hours: no run at the step (nothing is overdue), no burst; the calendar job's next
 *   firing is re-aimed at the next minute of the new time (it does not wait 3 hours for the
 *   clock to catch up); the StartInterval job keeps its cadence.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildXmlPlist } from '@launchfleet/shared';
import { type Clock, systemScheduler } from '@launchfleet/shared/clock';
import {
  machineClock,
  RealProcessSpawner,
  RealFileSystem,
  RealUserDb,
  DomainManager,
  machineConfig,
  modelPlistLoader,
} from '@launchfleet/node-agent';
import { eventually, sleep } from '../support/agent.ts';

const HOUR = 3_600_000;
const intervalS = 4;

describe(
  'fault: the wall clock stepped by hours under calendar and interval jobs',
  { timeout: 120_000 },
  () => {
    let root: string;
    let manager: DomainManager;
    const logs: string[] = [];
    let offset = 0;
    /** The machine's clocks, with the wall clock moved by `offset`. */
    const stepped: Clock = { ...machineClock(), wallMs: () => Date.now() + offset };
    const runs = async (name: string): Promise<number[]> =>
      (await readFile(join(root, `${name}.runs`), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map(Number);
    /** Seconds into the current minute of the stepped wall clock. */
    const secondOfMinute = (): number => (stepped.wallMs() % 60_000) / 1000;

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'lf-fault-clock-'));
      const daemons = join(root, 'LaunchDaemons');
      await mkdir(daemons);
      await mkdir(join(root, 'state', 'overrides'), { recursive: true, mode: 0o700 });
      // Each run appends the machine's real monotonic-ish uptime (ms) to its file.
      const record = (name: string) => [
        '/bin/sh',
        '-c',
        `read up _ < /proc/uptime; echo "$up" >> ${join(root, `${name}.runs`)}`,
      ];
      await writeFile(
        join(daemons, 'calendar.plist'),
        buildXmlPlist({
          Label: 'com.fault.clock.calendar',
          ProgramArguments: record('calendar'),
          StartCalendarInterval: {},
          ThrottleInterval: 1,
        }),
      );
      await writeFile(
        join(daemons, 'interval.plist'),
        buildXmlPlist({
          Label: 'com.fault.clock.interval',
          ProgramArguments: record('interval'),
          StartInterval: intervalS,
          // launchd's 10 s spawn-to-spawn throttle would hold a 4 s interval at 10 s.
          ThrottleInterval: 1,
        }),
      );
      // Start 10 s before a minute of the stepped clock: the first calendar run comes soon.
      offset = (((50_000 - (Date.now() % 60_000)) % 60_000) + 60_000) % 60_000;
      manager = new DomainManager({
        ports: {
          spawner: new RealProcessSpawner(),
          fs: new RealFileSystem(),
          users: new RealUserDb(),
          clock: stepped,
          scheduler: systemScheduler,
        },
        config: machineConfig('842'),
        stateDir: join(root, 'state'),
        daemonDirectories: [daemons],
        agentDirectories: [],
        loadHomeAgents: false,
        agentUid: 0,
        loader: modelPlistLoader(),
        timeZone: () => 0,
        // The agent checks every 30 s; 500 ms keeps the test short (the bound scales with it).
        clockJump: { periodMs: 500 },
        log: (level, label, message) => logs.push(`${level} ${label}: ${message}`),
      });
      const r = await manager.start();
      assert.deepEqual(r.failures, [], JSON.stringify(r.failures));
      assert.equal(r.loaded.length, 2);
    });

    after(async () => {
      await manager?.stop();
      if (root) await rm(root, { recursive: true, force: true });
    });

    /** Gaps (s) between consecutive interval runs. */
    const gaps = (xs: readonly number[]): number[] => xs.slice(1).map((x, i) => x - (xs[i] ?? 0));

    test('forward by 3 hours: one coalesced calendar run, the interval job keeps its cadence', async () => {
      // The calendar job runs at the minute (about 10 s after load), as it should.
      await eventually(async () => (await runs('calendar')).length === 1, 20_000, 'the first calendar run');
      // Just after an interval run, so an extra run caused by the step would stand out.
      const n = (await runs('interval')).length;
      await eventually(async () => (await runs('interval')).length > n, 10_000, 'an interval run');
      await sleep(1000);
      const cal = (await runs('calendar')).length;
      // 3 hours forward, landing 10 s before a minute (the calendar job missed ~180 minutes).
      offset += 3 * HOUR + ((50 - secondOfMinute() + 60) % 60) * 1000;
      const steppedAt = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
      await eventually(
        async () => (await runs('calendar')).length > cal,
        5_000,
        'a calendar run after the step',
      );
      await sleep(3000);
      assert.equal(
        (await runs('calendar')).length,
        cal + 1,
        'one run for all the missed minutes, not a burst',
      );
      await eventually(
        async () => (await runs('calendar')).length === cal + 2,
        15_000,
        'the next minute runs',
      );
      assert.ok(
        logs.some((l) => /wall clock jumped by 108\d\d s/.test(l)),
        'the agent logs the jump',
      );
      const iv = await runs('interval');
      const after = gaps(iv.filter((x) => x >= steppedAt - intervalS));
      console.log(
        `[fault-clock] interval gaps around the forward step (s): ${after.map((g) => g.toFixed(2)).join(' ')}`,
      );
      for (const g of after)
        assert.ok(g > intervalS - 0.8, `interval runs ${g.toFixed(2)} s apart: an extra run`);
    });

    test('back by 3 hours: no run at the step, no burst, the interval job keeps its cadence', async () => {
      const n = (await runs('interval')).length;
      await eventually(async () => (await runs('interval')).length > n, 10_000, 'an interval run');
      await sleep(1000);
      const cal = (await runs('calendar')).length;
      offset -= 3 * HOUR;
      const steppedAt = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
      await sleep(3 * intervalS * 1000);
      assert.ok(
        logs.some((l) => /wall clock jumped by -108\d\d s/.test(l)),
        'the agent logs the jump back',
      );
      const calNow = (await runs('calendar')).length;
      // Within 12 s at most one minute boundary passes: at most one run, and none from the step itself.
      assert.ok(calNow - cal <= 1, `calendar runs after the step back: ${calNow - cal}`);
      const iv = await runs('interval');
      const after = gaps(iv.filter((x) => x >= steppedAt - intervalS));
      const d = manager.domain('system');
      const st = d.ok ? d.value.print('com.fault.clock.calendar') : undefined;
      const next = st?.ok ? st.value.timers.nextCalendar : undefined;
      console.log(
        `[fault-clock] interval gaps around the backward step (s): ${after.map((g) => g.toFixed(2)).join(' ')}; ` +
          `calendar runs in the ${3 * intervalS} s after it: ${calNow - cal}; next calendar firing in ` +
          `${next === undefined ? '?' : ((next - stepped.wallMs()) / 1000).toFixed(0)} s`,
      );
      // Re-aimed at the next minute of the new time, not ~10,800 s away where the wall clock was.
      assert.ok(
        next !== undefined && next - stepped.wallMs() <= 60_000,
        `the calendar's next firing after the step back is within a minute (${next === undefined ? '?' : next - stepped.wallMs()} ms)`,
      );
      assert.ok(after.length >= 2, 'the interval job kept running');
      for (const g of after)
        assert.ok(g > intervalS - 0.8 && g < intervalS + 1.5, `interval gap ${g.toFixed(2)} s`);
    });
  },
);
