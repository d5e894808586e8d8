/**
 * Fault suite (docs/fault-suite.md): the agent partitioned from the broker. The agent process
 * runs in its own network namespace (made by the test: netns.ts, a veth pair on a private /30)
 * and reaches nats-server on the host's end of the pair; the controller and the CLI reach it over
 * the host's own routing. The partition is iptables DROP inside the namespace, in both
 * directions: packets vanish, nothing is reset or closed. Real nats-server, controller and agent
 * processes; jobs are real processes.
 *
 * Promised to the user and checked:
 * - cut for less than the offline threshold (less than it minus the longest gap between two
 *   heartbeats): the node never shows offline, the agent and its jobs keep their pids;
 * - cut for longer: the node shows offline within the threshold (`offlineAfterSeconds`: a node
 *   is offline after this long unheard, and it was last heard at most one heartbeat gap before
 *   the cut); meanwhile the agent keeps running its last verified jobs with the same pids and
 *   runs nothing applied while it is away; after the heal it is online again and converges to
 *   what was applied while it was away (a job changed and a job added), each job once
 *   machine-wide;
 * - random loss (30 % of packets dropped each way): the link degrades and recovers; across
 *   applies made during the loss no job ever runs twice machine-wide (sampled), the steady job
 *   keeps its pid, and the last apply is what runs in the end (no lost update).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { alive, eventually, sleep } from '../support/agent.ts';
import {
  applyToAll,
  faultPlist,
  instances,
  listedPids,
  presence as nodePresence,
} from '../support/fault-fleet.ts';
import { type AgentNetns, makeAgentNetns, netnsUnavailable } from '../support/netns.ts';

/** The controller's threshold here: a node unheard this long is offline. */
const offlineAfterS = 30;
/** The agent's heartbeat (local-fleet's default agent config) and its spread (up to 20 %): the longest gap between beats. */
const maxBeatGapS = 12;
/** Each run's jobs get their own command lines, so counting them machine-wide sees only ours. */
const base = 30_000 + Math.floor(Math.random() * 3000) * 10;
const steady = 'com.fault.part.steady';
const changed = 'com.fault.part.changed';
const added = 'com.fault.part.added';
const churn = 'com.fault.part.churn';
const steadyCmd = `sleep ${base}`;
const changedCmd = (v: number) => `sleep ${base + 1}${v}`;
const addedCmd = `sleep ${base + 2}`;
const churnCmd = (v: number) => `sleep ${base + 3}${v}`;
/**
 * The churned job ignores SIGTERM (the ignored disposition survives the exec), so each version
 * outlives its stop by ExitTimeOut (2 s, then SIGKILL): an agent that started the next version
 * before the previous one had exited would show two instances for seconds, not microseconds.
 */
const churnPlist = (v: number) =>
  faultPlist(churn, `trap '' TERM; exec ${churnCmd(v)}`, '\n  <key>ExitTimeOut</key><integer>2</integer>');
const t0 = Date.now();
const log = (s: string) => console.log(`[fault-partition ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);

/** The command lines of every live process whose command line starts with `prefix` (every version of a job). */
function instancesLike(prefix: string): string[] {
  const n: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmd.startsWith(prefix) && alive(Number(d))) n.push(cmd);
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

const reason = netnsUnavailable();

describe(
  'fault: the agent partitioned from the broker (its own network namespace)',
  { timeout: 480_000, skip: reason ?? false },
  () => {
    let net: AgentNetns;
    let fleet: LocalFleet;
    const presence = () => nodePresence(fleet);
    // A CLI call that fails (`error: ...`) says nothing either way: only "offline" counts as offline.
    const online = async () => /online/i.test(await presence());
    const isOffline = (p: string) => /offline/i.test(p);
    const pidOf = async (label: string) => (await listedPids(fleet)).get(label);

    before(async () => {
      net = makeAgentNetns();
      log(`namespace ${net.name}: host ${net.hostAddress}, agent ${net.nsAddress}`);
      fleet = await startLocalFleet({
        offlineAfterSeconds: offlineAfterS,
        agentNetns: { name: net.name, hostAddress: net.hostAddress },
      });
      await applyToAll(fleet, steady, faultPlist(steady, `exec ${steadyCmd}`));
      await applyToAll(fleet, changed, faultPlist(changed, `exec ${changedCmd(1)}`));
      await eventually(
        async () => (await pidOf(steady)) && (await pidOf(changed)),
        60_000,
        'the jobs run in the namespace',
      );
      await eventually(online, 30_000, 'the node is online');
    });

    after(async () => {
      const keep = process.env['LF_FAULT_LOGS'];
      if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
      try {
        await fleet?.stop();
      } finally {
        net?.remove();
      }
    });

    test('cut for less than the offline threshold: the node never shows offline, nothing restarts', async () => {
      const agentPid = fleet.agentPid();
      const pids = await listedPids(fleet);
      assert.ok(agentPid && pids.get(steady) && pids.get(changed));
      // The controller last heard the node at most one beat gap before the cut, and the link may
      // need a TCP retransmission (backed off to about the cut's length) to resume: unheard for
      // at most maxBeatGap + 2 x cut = 24 s, under the 30 s threshold.
      const cutS = 6;
      const states: string[] = [];
      net.cut();
      const cutAt = Date.now();
      try {
        while (Date.now() - cutAt < cutS * 1000) {
          states.push(await presence());
          await sleep(500);
        }
      } finally {
        net.heal();
      }
      log(`short cut of ${cutS} s healed`);
      const healedAt = Date.now();
      // Until the link surely carried a beat again (one beat gap plus slack).
      while (Date.now() - healedAt < (maxBeatGapS + 8) * 1000) {
        states.push(await presence());
        await sleep(1000);
      }
      log(
        `presence during and after the short cut: ${states.length} samples, ${states.filter(isOffline).length} offline, ` +
          `${states.filter((s) => !/online/i.test(s) && !isOffline(s)).length} unanswered`,
      );
      assert.deepEqual(
        states.filter(isOffline),
        [],
        `the node stayed online through a ${cutS} s cut (samples: ${states.join(',')})`,
      );
      assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
      assert.deepEqual(await listedPids(fleet), pids, 'every job kept its pid');
      assert.equal(instances(steadyCmd), 1);
      assert.equal(instances(changedCmd(1)), 1);
    });

    test('cut for longer than the threshold: offline in time, last verified jobs keep running, converges after the heal to what was applied meanwhile', async () => {
      net.heal(); // a failed test before must not leave the link cut
      const agentPid = fleet.agentPid();
      const pids = await listedPids(fleet);
      const logAt = (await fleet.agentLog()).length;
      net.cut();
      const cutAt = Date.now();
      // When the poll that first saw it offline started (each CLI call takes a second or so: the
      // node went offline at most one call and a 250 ms pause before that).
      let offlineS = -1;
      // How long the poll before the one that saw it took: the node may have gone offline just
      // after that poll read it, so the next one starts up to this (and the pause) later.
      let prevPollS = 0;
      let pollS = 0;
      while (offlineS < 0) {
        const asked = Date.now();
        const p = await presence();
        prevPollS = pollS;
        pollS = (Date.now() - asked) / 1000;
        if (isOffline(p)) offlineS = (asked - cutAt) / 1000;
        else if (Date.now() - cutAt > (offlineAfterS + 10) * 1000)
          assert.fail(`the node still shows ${p} ${(Date.now() - cutAt) / 1000} s after the cut`);
        else await sleep(250);
      }
      log(
        `offline ${offlineS.toFixed(1)} s after the cut (threshold ${offlineAfterS} s; the poll before took ${prevPollS.toFixed(1)} s)`,
      );
      // Unheard for the threshold at the latest; the last beat was at most one beat gap before
      // the cut. The poll that saw it started at most the previous poll's time and its 250 ms
      // pause after the node went offline; up to 2.75 s more for the controller's handling of
      // the last heartbeat it got (the margin this bound had before it counted the poll).
      assert.ok(
        offlineS <= offlineAfterS + prevPollS + 3,
        `offline ${offlineS} s after the cut, threshold ${offlineAfterS} s, previous poll ${prevPollS} s`,
      );
      assert.ok(
        offlineS >= offlineAfterS - maxBeatGapS - 1,
        `not offline before the threshold could have passed (${offlineS} s after the cut)`,
      );

      // Changes while the node is away: one job changed, one added. Both applies succeed (the
      // controller writes the node's desired keys in the broker); the node cannot see them yet.
      await applyToAll(fleet, changed, faultPlist(changed, `exec ${changedCmd(2)}`));
      await applyToAll(fleet, added, faultPlist(added, `exec ${addedCmd}`));
      const appliedAt = Date.now();
      // Hold the partition past the point where the agent gave up on its connection (three
      // heartbeat periods at most), so the heal is a reconnect, not a resumed TCP stream.
      await eventually(
        async () => /link: disconnected/.test((await fleet.agentLog()).slice(logAt)),
        45_000 - (Date.now() - cutAt),
        'the agent notices the cut link',
      ).catch(() => undefined);
      const noticed = /link: disconnected/.test((await fleet.agentLog()).slice(logAt));
      await sleep(Math.max(0, 5000 - (Date.now() - appliedAt)));
      assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
      assert.deepEqual(await listedPids(fleet), pids, 'the last verified jobs run on, same pids');
      for (const p of pids.values()) assert.ok(alive(p));
      assert.equal(instances(changedCmd(1)), 1, 'the old version runs while the node is away');
      assert.equal(instances(changedCmd(2)), 0, 'the change cannot have reached the node');
      assert.equal(instances(addedCmd), 0, 'the added job cannot have reached the node');
      const cutS = (Date.now() - cutAt) / 1000;
      net.heal();
      const healedAt = Date.now();
      log(
        `long cut of ${cutS.toFixed(1)} s healed (agent ${noticed ? 'had' : 'had not'} logged the disconnect)`,
      );

      await eventually(online, 60_000, 'the node is online again');
      const onlineS = (Date.now() - healedAt) / 1000;
      const changedPid = await eventually(
        async () => {
          const p = await pidOf(changed);
          return p !== undefined && p !== pids.get(changed) ? p : undefined;
        },
        60_000,
        'the change made while away runs',
      );
      await eventually(async () => pidOf(added), 60_000, 'the job added while away runs');
      const convergedS = (Date.now() - healedAt) / 1000;
      log(`after the heal: online in ${onlineS.toFixed(1)} s, converged in ${convergedS.toFixed(1)} s`);
      await sleep(2000);
      assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
      assert.equal(await pidOf(steady), pids.get(steady), 'the steady job kept its pid through it all');
      assert.equal(await pidOf(changed), changedPid, 'the changed job did not restart again');
      assert.equal(instances(steadyCmd), 1, 'one steady instance machine-wide');
      assert.equal(instances(changedCmd(2)), 1, 'the change runs once');
      assert.equal(instances(changedCmd(1)), 0, 'the old version stopped');
      assert.equal(instances(addedCmd), 1, 'the added job runs once');
    });

    test('30 % random loss each way: the link degrades and recovers, no job runs twice, the last apply runs', async () => {
      net.heal(); // a failed test before must not leave the link cut
      const agentPid = fleet.agentPid();
      const steadyPid = await pidOf(steady);
      assert.ok(steadyPid);
      const logAt = (await fleet.agentLog()).length;
      // Machine-wide, every 200 ms: never two instances of a job (of any of its versions); and
      // when each version of the churned job first ran (its apply's latency on this link).
      let maxChurn = 0;
      let maxSteady = 0;
      const appliedAt = new Map<number, number>();
      const firstRan = new Map<number, number>();
      const sampler = setInterval(() => {
        const running = instancesLike(`sleep ${base + 3}`);
        maxChurn = Math.max(maxChurn, running.length);
        for (const c of running) {
          const v = Number(c.slice(`sleep ${base + 3}`.length));
          if (!firstRan.has(v)) firstRan.set(v, Date.now());
        }
        maxSteady = Math.max(maxSteady, instances(steadyCmd));
      }, 200);
      sampler.unref();
      /** Applies version `v`; its latency counts from when the CLI was started. */
      const apply = async (v: number) => {
        const at = Date.now();
        await applyToAll(fleet, churn, churnPlist(v));
        appliedAt.set(v, at);
      };
      await apply(1);
      await eventually(async () => cmdOf(await pidOf(churn)) === churnCmd(1), 60_000, 'churn v1 runs');
      const states: string[] = [];
      const lossS = 60;
      const versions = 5;
      try {
        net.loss(0.3);
        const lossAt = Date.now();
        // An apply every ~10 s during the loss (v2..v5), the node's presence in between.
        for (let v = 2; v <= versions; v++) {
          await apply(v);
          const next = lossAt + (v - 1) * 10_000;
          while (Date.now() < next) {
            states.push(await presence());
            await sleep(1000);
          }
        }
        while (Date.now() - lossAt < lossS * 1000) {
          states.push(await presence());
          await sleep(1000);
        }
        log(`loss rules after ${lossS} s:\n${net.rules()}`);
        net.heal();
        const healedAt = Date.now();
        await eventually(
          async () => cmdOf(await pidOf(churn)) === churnCmd(versions),
          60_000,
          `the last apply (v${versions}) runs`,
        );
        await eventually(online, 60_000, 'the node is online');
        log(
          `after the loss: v${versions} running and online ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the heal`,
        );
        await sleep(3000);
      } finally {
        clearInterval(sampler);
        net.heal();
      }
      const agentLog = (await fleet.agentLog()).slice(logAt);
      const disconnects = (agentLog.match(/link: disconnected/g) ?? []).length;
      const notOnline = states.filter(isOffline).length;
      const latency = (v: number) => {
        const a = appliedAt.get(v);
        const r = firstRan.get(v);
        return a !== undefined && r !== undefined
          ? `${((r - a) / 1000).toFixed(1)} s`
          : 'never ran (superseded)';
      };
      log(
        `apply-to-run latency: v1 ${latency(1)} (no loss); under loss ${[2, 3, 4, 5].map((v) => `v${v} ${latency(v)}`).join(', ')}`,
      );
      log(
        `during ${lossS} s of 30 % loss: ${disconnects} disconnects logged, ${notOnline} of ${states.length} presence samples offline; ` +
          `at most ${maxChurn} churn and ${maxSteady} steady instances at once`,
      );
      assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
      assert.equal(await pidOf(steady), steadyPid, 'the steady job kept its pid through the loss');
      assert.equal(maxSteady, 1, 'never two steady instances');
      assert.equal(maxChurn, 1, 'never two instances of the churned job');
      assert.equal(instances(churnCmd(versions)), 1, 'the last apply runs, once');
      for (let v = 1; v < versions; v++) assert.equal(instances(churnCmd(v)), 0, `v${v} stopped`);
    });
  },
);

/** A process' command line, space-joined (undefined when it is gone). */
function cmdOf(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}
