/**
 * Fault suite (docs/fault-suite.md): the broker killed outright (SIGKILL, no lame duck) under a
 * running fleet of real processes (nats-server, controller, agent), kept away for longer than the
 * offline threshold, and started again on the same store.
 *
 * Promised to the user: the agent and the controller never exit; the job keeps its pid through
 * the whole outage; the agent says it lost the broker; an apply made during the outage fails with
 * an error that says the broker did not answer (not "internal error"), and the same apply retried
 * after the broker is back reaches the node; the node is online again; no job runs twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
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

const steady = 'com.fault.broker.steady';
const during = 'com.fault.broker.during';
const steadyCmd = 'sleep 7181';
const duringCmd = 'sleep 7182';

describe('fault: the broker is killed and comes back', { timeout: 240_000 }, () => {
  let fleet: LocalFleet;
  const presence = () => nodePresence(fleet);

  before(async () => {
    // A short threshold (the agent beats every 10 s) so the outage outlasts it.
    fleet = await startLocalFleet({ offlineAfterSeconds: 15 });
    await applyToAll(fleet, steady, faultPlist(steady, `exec ${steadyCmd}`));
    await eventually(async () => (await listedPids(fleet)).get(steady), 60_000, 'the job runs');
  });

  after(async () => {
    const keep = process.env['LF_FAULT_LOGS'];
    if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
    await fleet?.stop();
  });

  test('SIGKILL to nats-server for longer than the offline threshold: nothing on the node notices but the link', async () => {
    const jobPid = (await listedPids(fleet)).get(steady);
    const agentPid = fleet.agentPid();
    assert.ok(jobPid && agentPid);
    const logBefore = (await fleet.agentLog()).length;
    await fleet.killBroker();

    await eventually(
      async () => /link: (disconnected|NATS unavailable)/.test((await fleet.agentLog()).slice(logBefore)),
      30_000,
      'the agent logs that it lost the broker',
    );
    // An apply now fails, and says why.
    const plist = faultPlist(during, `exec ${duringCmd}`);
    const f = join(fleet.dir, `${during}.plist`);
    writeFileSync(f, plist);
    const r = await fleet.cli(['jobs', 'apply', f, '--all'], 60_000);
    assert.notEqual(r.code, 0, 'the apply cannot succeed without the broker');
    assert.match(r.stderr, /UNAVAILABLE/, r.stderr);
    assert.match(r.stderr, /broker|NATS/i, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error/i);
    // It failed before its first write (the job record could not be read, or the write was not
    // sent while the controller's connection was down): it says nothing was changed, not that
    // the change may or may not take effect (controller/src/api/status.ts).
    assert.match(r.stderr, /nothing was changed: retry/, r.stderr);
    assert.doesNotMatch(r.stderr, /may or may not take effect/, r.stderr);

    // Past the offline threshold, everything on the node is as it was.
    await sleep(16_000);
    assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
    assert.equal((await listedPids(fleet)).get(steady), jobPid, 'the job kept its pid');
    assert.ok(alive(jobPid));
    assert.equal(instances(steadyCmd), 1);
    assert.equal(instances(duringCmd), 0, 'the failed apply ran nowhere');
  });

  test('broker back: the node reconnects, is online, and the apply retried by the user runs once', async () => {
    const jobPid = (await listedPids(fleet)).get(steady);
    await fleet.restartBroker();
    await eventually(async () => /online/i.test(await presence()), 60_000, 'the node is online again');
    await eventually(
      async () => {
        const r = await fleet.cli(['jobs', 'apply', join(fleet.dir, `${during}.plist`), '--all']);
        return r.code === 0;
      },
      30_000,
      'the apply works again',
    );
    await eventually(
      async () => (await listedPids(fleet)).get(during),
      60_000,
      'the retried apply runs on the node',
    );
    assert.equal((await listedPids(fleet)).get(steady), jobPid, 'the job kept its pid through the outage');
    await sleep(1000);
    assert.equal(instances(steadyCmd), 1);
    assert.equal(instances(duringCmd), 1);
  });
});
