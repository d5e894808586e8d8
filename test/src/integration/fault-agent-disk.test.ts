/**
 * Fault suite (docs/fault-suite.md): the agent's state directory on a small tmpfs the test mounts,
 * with a real nats-server, controller and agent as processes. The disk fills up, then turns
 * read-only, then the agent is killed at random moments while it writes.
 *
 * Promised to the user: the agent never exits; running jobs keep their pids; the agent says which
 * file it cannot write and why (its log, and a load-failed event the controller stores); when
 * space returns everything it could not persist is written (a job that restarted during the
 * fault is reaped after an agent crash, a job applied during the fault runs again offline after
 * a restart); a state file is never left half-written, and no job ever runs twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { alive, eventually, runLfctl, sleep } from '../support/agent.ts';
import {
  FleetEvents,
  type SmallDisk,
  applyToAll,
  canMount,
  controllerConn,
  faultPlist,
  instances,
  listedPids,
  mountSmallDisk,
} from '../support/fault-fleet.ts';

const steady = 'com.fault.steady';
const respawn = 'com.fault.respawn';
const late = 'com.fault.late';
const readonlyJob = 'com.fault.readonly';
// Distinct sleep arguments: the test counts each job's instances machine-wide by command line.
const steadyCmd = 'sleep 7171';
const respawnCmd = 'sleep 7172';
const lateCmd = 'sleep 7173';

/** Parses a state file; a half-written one throws. */
function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const mountable = canMount();

describe(
  'fault: the agent state directory fills up and turns read-only',
  { timeout: 300_000, skip: mountable ? false : 'needs root and mount(8) for a tmpfs' },
  () => {
    let disk: SmallDisk;
    let fleet: LocalFleet;
    let nc: NatsConnection;
    let events: FleetEvents;

    const pids = () => listedPids(fleet);
    const agentLog = () => fleet.agentLog();
    const stateFile = () => join(disk.path, 'agent-state.json');
    /** The pids agent-state.json records for running jobs (label -> pid). */
    const recordedPids = (): Map<string, number> => {
      const doc = readJson(stateFile()) as { jobs: Record<string, { process?: { pid: number } }> };
      return new Map(
        Object.entries(doc.jobs)
          .filter(([, r]) => r.process !== undefined)
          .map(([k, r]) => [k.slice(k.indexOf('/') + 1), r.process?.pid ?? 0]),
      );
    };

    before(async () => {
      disk = mountSmallDisk(4096);
      fleet = await startLocalFleet({ agentStateDirs: { agent: disk.path } });
      nc = await controllerConn(fleet);
      events = new FleetEvents(nc);
      await applyToAll(fleet, steady, faultPlist(steady, `exec ${steadyCmd}`));
      await applyToAll(fleet, respawn, faultPlist(respawn, `exec ${respawnCmd}`));
      await eventually(async () => (await pids()).size >= 2 && true, 60_000, 'both jobs running');
    });

    after(async () => {
      // LF_FAULT_LOGS=<dir>: keep every process' log for a post-mortem.
      const keep = process.env['LF_FAULT_LOGS'];
      if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
      await nc?.close().catch(() => undefined);
      await fleet?.stop();
      disk?.unmount();
    });

    test('disk full: jobs keep running, the agent names what it cannot write, and catches up when space returns', async () => {
      const before = await pids();
      const steadyPid = before.get(steady);
      const oldRespawn = before.get(respawn);
      assert.ok(steadyPid && oldRespawn);
      const agentPid = fleet.agentPid();
      const filled = disk.fill();
      assert.ok(filled > 0 && disk.available() < 64 * 1024, `disk full (${disk.available()} bytes free)`);

      // During the fault: a job crashes and is restarted, and a new job is applied.
      process.kill(oldRespawn, 'SIGKILL');
      const newRespawn = await eventually(
        async () => {
          const p = (await pids()).get(respawn);
          return p !== undefined && p !== oldRespawn ? p : undefined;
        },
        20_000,
        'the crashed job restarted',
      );
      await applyToAll(fleet, late, faultPlist(late, `exec ${lateCmd}`));
      await eventually(
        async () => /no space left on device/i.test(await agentLog()),
        20_000,
        'the agent log says the disk is full',
      );
      const failed = await eventually(
        () =>
          events
            .of(fleet.nodeId, 'load-failed', late)
            .find((e) => /no space left on device/i.test(e.detail ?? '')),
        30_000,
        'a load-failed event for the new job names the full disk',
      );
      assert.match(failed.detail ?? '', /no space left on device/i);
      // And from the controller: the node lists the new job as one it is retrying, with why
      // and when it tries next (the node status's `retrying`, shown by `nodes describe`).
      const retrying = await eventually(
        async () => {
          const r = await fleet.cli(['nodes', 'describe', fleet.nodeId, '--json']);
          const d = JSON.parse(r.stdout) as {
            jobs: { label: string; retry?: { why: string; failures: number } | null }[];
          };
          const j = d.jobs.find((x) => x.label === late)?.retry;
          return j && /no space left on device/i.test(j.why) ? j : undefined;
        },
        30_000,
        'nodes describe shows the new job as retrying, naming the full disk',
      );
      assert.ok(retrying.failures >= 1);
      const text = (await fleet.cli(['nodes', 'describe', fleet.nodeId])).stdout;
      assert.match(
        text,
        new RegExp(`retrying .*\\n  ${late.replaceAll('.', '\\.')}: .*no space left on device`, 'i'),
      );
      // And on the node itself: `lfctl print system` lists it among the services being retried.
      const local = await eventually(
        async () => {
          const r = await runLfctl(['--run-dir', fleet.runDir(), 'print', '--json', 'system']);
          const d = JSON.parse(r.stdout) as { retrying?: { label: string; why: string; failures: number }[] };
          const j = d.retrying?.find((x) => x.label === late);
          return j && /no space left on device/i.test(j.why) ? j : undefined;
        },
        30_000,
        'lfctl print --json system lists the new job as retrying, naming the full disk',
      );
      assert.ok(local.failures >= 1);
      const printed = (await runLfctl(['--run-dir', fleet.runDir(), 'print', 'system'])).stdout;
      assert.match(
        printed,
        new RegExp(
          `\\tretrying services = \\{\\n(?:\\t\\t.*\\n)*\\t\\t"${late.replaceAll('.', '\\.')}" => failed \\d+ times?, .*no space left on device`,
          'i',
        ),
      );
      // And `print <service-target>` of that job, which never loaded: still 113 (not loaded, as
      // launchctl says it), with what the fleet link is doing about it.
      const one = await runLfctl(['--run-dir', fleet.runDir(), 'print', `system/${late}`]);
      assert.equal(one.code, 113, one.stderr);
      assert.match(
        one.stdout,
        new RegExp(
          `^system/${late.replaceAll('.', '\\.')} = \\{\\n\\tstate = not loaded .*\\n\\tretrying = failed \\d+ times?, .*no space left on device`,
          'i',
        ),
      );
      const oneJson = await runLfctl(['--run-dir', fleet.runDir(), 'print', '--json', `system/${late}`]);
      assert.equal(oneJson.code, 113);
      const retried = (JSON.parse(oneJson.stdout) as { retrying?: { label: string; why: string } }).retrying;
      assert.equal(retried?.label, late);
      assert.match(retried?.why ?? '', /no space left on device/i);
      const log = await agentLog();
      assert.match(log, /cannot (write|persist) .*no space left on device/i);

      // The agent is the same process, and what ran keeps running.
      assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
      assert.ok(agentPid !== undefined && alive(agentPid));
      assert.equal((await pids()).get(steady), steadyPid, 'the steady job kept its pid');
      assert.ok(alive(steadyPid));
      assert.equal(instances(steadyCmd), 1);
      assert.equal(instances(respawnCmd), 1);

      // Space returns: the state file catches up by itself (the restarted job's pid), without
      // waiting for some other change to write it; then the new job runs.
      disk.free();
      await eventually(
        () => recordedPids().get(respawn) === newRespawn,
        10_000,
        'agent-state.json records the pid of the job restarted during the fault',
      );
      const latePid = await eventually(async () => (await pids()).get(late), 60_000, 'the new job runs');
      await eventually(
        () => recordedPids().get(late) === latePid,
        10_000,
        'agent-state.json records the new job',
      );
      assert.equal((await pids()).get(steady), steadyPid);

      // The user-visible consequence: the agent crashes now and starts while the broker is
      // away. It must reap what its predecessor left (the restarted job included: no second
      // instance) and run the job applied during the fault from its own state directory.
      await fleet.killAgent('agent');
      await fleet.killBroker();
      await fleet.restartAgent('agent');
      try {
        await eventually(
          async () => {
            const p = await pids().catch(() => new Map<string, number>());
            return [steady, respawn, late].every((l) => p.has(l) && p.get(l) !== before.get(l));
          },
          60_000,
          'all three jobs run again offline, from the state directory',
        );
        await sleep(1000);
        assert.equal(instances(steadyCmd), 1, 'one steady instance');
        assert.equal(instances(respawnCmd), 1, 'one instance of the job restarted during the fault');
        assert.equal(instances(lateCmd), 1, 'one instance of the job applied during the fault');
      } finally {
        await fleet.restartBroker();
      }
    });

    test('read-only: jobs keep running, the agent says so, and recovers when the disk is writable again', async () => {
      const before = await eventually(
        async () => {
          const p = await pids();
          return p.size >= 3 ? p : undefined;
        },
        30_000,
        'jobs listed',
      );
      const steadyPid = before.get(steady);
      const oldRespawn = before.get(respawn);
      assert.ok(steadyPid && oldRespawn);
      // Connected again after the broker restart of the previous test (applies need it).
      await eventually(
        async () => {
          const r = await fleet.cli(['nodes', 'list', '--json']);
          return /online/i.test(r.stdout) && true;
        },
        60_000,
        'node online again',
      );
      const agentPid = fleet.agentPid();
      try {
        // Phase 1: only a job restart happens while the disk is read-only. Nothing else changes
        // afterwards, so only the agent's own retry can bring the state file up to date.
        disk.readOnly(true);
        process.kill(oldRespawn, 'SIGKILL');
        const newRespawn = await eventually(
          async () => {
            const p = (await pids()).get(respawn);
            return p !== undefined && p !== oldRespawn ? p : undefined;
          },
          20_000,
          'the crashed job restarted',
        );
        await eventually(
          async () => /cannot write .*agent-state\.json.*read-only file system/i.test(await agentLog()),
          10_000,
          'the agent log names the file it cannot write',
        );
        disk.readOnly(false);
        await eventually(
          () => recordedPids().get(respawn) === newRespawn,
          8_000,
          'agent-state.json records the restarted job once the disk is writable',
        );

        // Phase 2: a job applied while the disk is read-only.
        disk.readOnly(true);
        await applyToAll(fleet, readonlyJob, faultPlist(readonlyJob));
        await eventually(
          () =>
            events
              .of(fleet.nodeId, 'load-failed', readonlyJob)
              .find((e) => /read-only file system/i.test(e.detail ?? '')),
          30_000,
          'a load-failed event names the read-only file system',
        );
        assert.match(await agentLog(), /cannot persist .*read-only file system/i);
        assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
        assert.equal((await pids()).get(steady), steadyPid, 'the steady job kept its pid');
        assert.equal((await pids()).get(respawn), newRespawn);
        disk.readOnly(false);
        const roPid = await eventually(
          async () => (await pids()).get(readonlyJob),
          60_000,
          'the new job runs',
        );
        await eventually(
          () => recordedPids().get(readonlyJob) === roPid,
          10_000,
          'agent-state.json catches up',
        );
        // desired.json holds the four jobs again (it could not be written during the fault).
        await eventually(
          () => (readJson(join(disk.path, 'desired.json')) as { jobs: unknown[] }).jobs.length === 4,
          10_000,
          'desired.json holds the job applied during the fault',
        );
      } finally {
        disk.readOnly(false);
      }
    });

    test('killed at random moments while it writes: every state file is whole, and no job runs twice', async () => {
      const files = ['agent-state.json', 'desired.json', 'node.json', 'trust.json'];
      // A job that exits every ~second keeps the agent writing agent-state.json.
      await applyToAll(fleet, 'com.fault.churn', faultPlist('com.fault.churn', 'sleep 0.2'));
      const rounds = 3;
      for (let i = 0; i < rounds; i++) {
        await eventually(
          async () => (await pids().catch(() => new Map())).has(steady),
          60_000,
          `round ${i}: up`,
        );
        await sleep(200 + Math.floor(Math.random() * 2000));
        await fleet.killAgent('agent');
        for (const f of files)
          assert.doesNotThrow(() => readJson(join(disk.path, f)), `round ${i}: ${f} is whole`);
        await fleet.restartAgent('agent');
      }
      await eventually(
        async () => {
          const p = await pids().catch(() => new Map<string, number>());
          return [steady, respawn, late, readonlyJob].every((l) => p.has(l));
        },
        60_000,
        'every job runs after the last restart',
      );
      await sleep(1000);
      assert.equal(instances(steadyCmd), 1);
      assert.equal(instances(respawnCmd), 1);
      assert.equal(instances(lateCmd), 1);
      // Temp files of writes cut short must not pile up on a small disk.
      const leftovers = readdirSync(disk.path).filter((f) => f.endsWith('.tmp'));
      assert.ok(leftovers.length <= 1, `temp files left behind: ${leftovers.join(', ')}`);
    });
  },
);
