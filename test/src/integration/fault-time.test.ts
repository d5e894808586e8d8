/**
 * Fault suite (docs/fault-suite.md): the wall clock of a real agent process stepped forward and
 * back by hours under libfaketime, while a StartCalendarInterval job and a StartInterval job it
 * got from the controller are loaded. Real nats-server, controller and agent processes (the
 * local fleet); jobs are real processes and count their own runs (each appends the machine's
 * /proc/uptime, which libfaketime does not touch, to its file).
 *
 * The clock: the agent runs with libfaketime preloaded (Debian's libfaketime, installed by
 * scripts/setup.sh), reading its offset from a file the test rewrites (FAKETIME_TIMESTAMP_FILE,
 * FAKETIME_NO_CACHE=1: read again on every call). FAKETIME_DONT_FAKE_MONOTONIC=1, because a real
 * clock step never moves CLOCK_MONOTONIC; without it libfaketime moves Node's monotonic clock by
 * the same hours (measured: every timer fires at once on the forward step, and a step back would
 * hold them for hours), which is libfaketime's behaviour, not a clock step's. Only this agent's
 * clock moves; the machine's and every other process' stay put.
 *
 * Promised (launchd's rules, docs/launchd-semantics.md §1.5 and §8; the agent's 30 s clock-jump
 * detector):
 * - forward by 3 hours: an hourly calendar job that missed 3 firings runs ONCE (coalesced),
 *   within the detector's period; the StartInterval job keeps its monotonic cadence (a step is
 *   not sleep: no extra run);
 * - back by 3 hours: no run for the step, no burst; the hourly job's next firing is re-aimed at
 *   its next minute of the new time (not 3 hours later); the interval job keeps its cadence;
 * - forward by less than the time to the next firing (~25 min, crossing no firing, landing 40 s
 *   before it, after the detector has noticed the jump): the job runs at its time, not late by
 *   the step.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildXmlPlist, type PlistValue } from '@launchfleet/shared';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually, runLfctl, sleep } from '../support/agent.ts';
import { applyToAll } from '../support/fault-fleet.ts';

const libfaketime = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
].find((f) => existsSync(f));
const HOUR_S = 3600;
const intervalS = 5;
/** The agent's clock-jump detector runs every 30 s (node-agent's DomainManager default). */
const detectorS = 30;
const hourly = 'com.fault.time.hourly';
const interval = 'com.fault.time.interval';
const t0 = Date.now();
const log = (s: string) => console.log(`[fault-time ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);

const uptime = async (): Promise<number> => Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
/** Gaps (s) between consecutive runs. */
const gaps = (xs: readonly number[]): number[] => xs.slice(1).map((x, i) => x - (xs[i] ?? 0));

describe(
  'fault: a real agent under libfaketime, its wall clock stepped by hours',
  {
    timeout: 180_000,
    skip: libfaketime ? false : 'libfaketime is not installed (Debian package libfaketime; scripts/setup.sh)',
  },
  () => {
    let root: string;
    let fleet: LocalFleet;
    /** The agent's wall clock minus the machine's, seconds (what the faketime file says). */
    let offsetS = 0;
    const setOffset = async (s: number) => {
      offsetS = s;
      await writeFile(join(root, 'faketime'), `${s >= 0 ? '+' : ''}${s}\n`);
    };
    /** The agent's wall clock now (ms). */
    const agentWall = () => Date.now() + offsetS * 1000;
    const runs = async (label: string): Promise<number[]> =>
      (await readFile(join(root, `${label}.runs`), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map(Number);
    const jumpsLogged = async (re: RegExp) =>
      (await fleet.agentLog()).split('\n').filter((l) => re.test(l)).length;
    const plist = (label: string, extra: Record<string, PlistValue>) =>
      buildXmlPlist({
        Label: label,
        ProgramArguments: [
          '/bin/sh',
          '-c',
          `read up _ < /proc/uptime; echo "$up" >> ${join(root, `${label}.runs`)}`,
        ],
        // launchd's 10 s spawn-to-spawn throttle would hold a 5 s interval at 10 s.
        ThrottleInterval: 1,
        ...extra,
      });

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'lf-fault-time-'));
      await setOffset(0);
      fleet = await startLocalFleet({
        agentEnv: {
          LD_PRELOAD: libfaketime ?? '',
          FAKETIME_TIMESTAMP_FILE: join(root, 'faketime'),
          FAKETIME_NO_CACHE: '1',
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        },
      });
      log(`fleet up, agent pid ${fleet.agentPid()} under ${libfaketime}`);
    });

    after(async () => {
      const keep = process.env['LF_FAULT_LOGS'];
      if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
      await fleet?.stop();
      if (root) await rm(root, { recursive: true, force: true });
    });

    test('forward by 3 hours: one coalesced run for 3 missed hourly firings, the interval job keeps its cadence', async () => {
      // The hourly job's minute is half an hour away from the agent's clock (local time, as the
      // agent reads its calendars; the test and the agent share the machine's zone).
      const minute = (new Date(agentWall()).getMinutes() + 30) % 60;
      await applyToAll(fleet, interval, plist(interval, { StartInterval: intervalS }));
      await applyToAll(fleet, hourly, plist(hourly, { StartCalendarInterval: { Minute: minute } }));
      log(`jobs applied; agent clock ${new Date(agentWall()).toISOString()}, hourly at :${minute}`);
      await eventually(async () => (await runs(interval)).length >= 2, 20_000, 'two interval runs');
      // Just after an interval run, so an extra run caused by the step would stand out.
      const n = (await runs(interval)).length;
      await eventually(async () => (await runs(interval)).length > n, 10_000, 'an interval run');
      await sleep(500);
      assert.equal((await runs(hourly)).length, 0, 'the hourly job did not run before the step');
      const jumps = await jumpsLogged(/wall clock jumped by 108\d\d s/);

      await setOffset(offsetS + 3 * HOUR_S);
      const steppedAt = await uptime();
      log(
        `stepped forward 3 h: agent clock ${new Date(agentWall()).toISOString()} (3 hourly firings missed)`,
      );
      await eventually(
        async () => (await jumpsLogged(/wall clock jumped by 108\d\d s/)) > jumps,
        (detectorS + 5) * 1000,
        'the agent logs the forward jump within its detector period',
      );
      const noticedS = (await uptime()) - steppedAt;
      await eventually(async () => (await runs(hourly)).length >= 1, 5_000, 'the coalesced hourly run');
      await sleep(3000);
      const hr = await runs(hourly);
      const iv = await runs(interval);
      const around = gaps(iv.filter((x) => x >= steppedAt - intervalS));
      log(
        `forward: jump logged ${noticedS.toFixed(1)} s after the step; hourly runs ${hr.length} ` +
          `(at +${hr.map((x) => (x - steppedAt).toFixed(1)).join(', ')} s); ` +
          `interval gaps ${around.map((g) => g.toFixed(2)).join(' ')} s`,
      );
      assert.equal(hr.length, 1, 'the hourly job runs once for its 3 missed firings');
      assert.ok(around.length >= 2, 'the interval job kept running');
      for (const g of around)
        assert.ok(g > intervalS - 0.8, `interval runs ${g.toFixed(2)} s apart: an extra run for the step`);
      for (const g of around) assert.ok(g < intervalS + 1.5, `interval gap ${g.toFixed(2)} s: a run missed`);
    });

    /** The hourly job's next firing as the agent's `lfctl print` shows it, seconds from the agent's clock. */
    const nextHourlyS = async (): Promise<{ s: number | undefined; line: string }> => {
      const pr = await runLfctl(['--run-dir', fleet.runDir(), 'print', `system/${hourly}`]);
      assert.equal(pr.code, 0, `lfctl print: ${pr.stderr}`);
      // lfctl counts from its own (real) clock; the agent's is offsetS ahead of it.
      const m = /calendar interval => in (\d+) s/.exec(pr.stdout);
      return {
        s: m ? Number(m[1]) - offsetS : undefined,
        line: /calendar interval.*/.exec(pr.stdout)?.[0] ?? 'no calendar timer shown',
      };
    };

    test('back by 3 hours: no run for the step, the next firing re-aimed, the interval job keeps its cadence', async () => {
      const n = (await runs(interval)).length;
      await eventually(async () => (await runs(interval)).length > n, 10_000, 'an interval run');
      await sleep(500);
      const hourlyBefore = (await runs(hourly)).length;
      const jumps = await jumpsLogged(/wall clock jumped by -108\d\d s/);
      await setOffset(offsetS - 3 * HOUR_S);
      const steppedAt = await uptime();
      log(`stepped back 3 h: agent clock ${new Date(agentWall()).toISOString()}`);
      await eventually(
        async () => (await jumpsLogged(/wall clock jumped by -108\d\d s/)) > jumps,
        (detectorS + 5) * 1000,
        'the agent logs the backward jump within its detector period',
      );
      const noticedS = (await uptime()) - steppedAt;
      await sleep(3000);
      const next = await nextHourlyS();
      const hr = await runs(hourly);
      const iv = await runs(interval);
      const around = gaps(iv.filter((x) => x >= steppedAt - intervalS));
      log(
        `back: jump logged ${noticedS.toFixed(1)} s after the step; hourly runs since ${hr.length - hourlyBefore}; ` +
          `the hourly job's next firing in ${next.s ?? '?'} s; interval gaps ${around.map((g) => g.toFixed(2)).join(' ')} s`,
      );
      assert.equal(hr.length, hourlyBefore, 'no hourly run for a step back');
      // Re-aimed at its next minute of the new time (about 29 min away), not where it was before the step (3 h 29 min).
      assert.ok(
        next.s !== undefined && next.s <= HOUR_S,
        `the hourly job's next firing after the step back is within the hour (${next.line})`,
      );
      assert.ok(around.length >= 2, 'the interval job kept running');
      for (const g of around)
        assert.ok(g > intervalS - 0.8 && g < intervalS + 1.5, `interval gap ${g.toFixed(2)} s`);
    });

    test('forward by less than the time to the next firing: the job runs at its time, not late by the step', async () => {
      const before = await nextHourlyS();
      assert.ok(
        before.s !== undefined && before.s > 120,
        `the hourly job's next firing is minutes away (${before.line})`,
      );
      const hourlyBefore = (await runs(hourly)).length;
      // Land `leadS` before the firing: a step of ~25 minutes that crosses no firing of any job. The
      // lead is longer than the detector's period, so the jump is always noticed before the firing:
      // an agent that kept its timer armed for the old distance would run the job ~25 minutes late.
      const leadS = detectorS + 10;
      const stepS = before.s - leadS;
      await setOffset(offsetS + stepS);
      const steppedAt = await uptime();
      log(
        `stepped forward ${stepS} s: agent clock ${new Date(agentWall()).toISOString()}, the hourly firing ${leadS} s ahead`,
      );
      await eventually(
        async () => (await runs(hourly)).length > hourlyBefore,
        (leadS + 8) * 1000,
        'the hourly job runs at its time after the step',
      );
      await sleep(2000);
      const hr = (await runs(hourly)).slice(hourlyBefore);
      log(
        `short forward step: hourly runs ${hr.length}, at +${hr.map((x) => (x - steppedAt).toFixed(1)).join(', ')} s after the step`,
      );
      assert.equal(hr.length, 1, 'one run');
      // At its time: `leadS` after the step (lfctl shows whole seconds: +-1 s; the shell's start adds a little).
      const at = (hr[0] ?? 0) - steppedAt;
      assert.ok(
        at > leadS - 1.5 && at < leadS + 3,
        `ran ${at.toFixed(1)} s after the step, not at its time (${leadS} s)`,
      );
    });
  },
);
