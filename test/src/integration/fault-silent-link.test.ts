/**
 * Fault suite (docs/fault-suite.md): the agent's link to the broker dies silently. A TCP proxy
 * between the agent process and nats-server stops passing bytes in both directions without
 * closing anything (no FIN, no RST: a route or a NAT entry gone), while the controller keeps its
 * own connection. Real nats-server, controller and agent processes.
 *
 * Promised to the user: the agent notices within a documented bound (three heartbeat periods:
 * the NATS ping runs at the heartbeat period and two missed answers close the connection), says
 * so, keeps its jobs running with their pids, and after the link returns every event it raised
 * meanwhile reaches the controller, in the order raised, none lost and none twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { alive, eventually, runLfctl, sleep } from '../support/agent.ts';
import { applyToAll, controllerConn, faultPlist, instances, listedPids } from '../support/fault-fleet.ts';

const steady = 'com.fault.silent.steady';
const first = 'com.fault.silent.first';
const second = 'com.fault.silent.second';
const steadyCmd = 'sleep 7201';
/** The agent's heartbeat period in this fleet (local-fleet's default agent config). */
const heartbeatS = 10;

interface Seen {
  /** The envelope's time: when the agent published it (a retry re-stamps it). */
  readonly ts: number;
  readonly kind: string;
  readonly label: string | undefined;
  readonly reason: string | undefined;
}

describe('fault: the link to the broker dies silently', { timeout: 240_000 }, () => {
  let fleet: LocalFleet;
  let nc: NatsConnection;
  const seen: Seen[] = [];

  before(async () => {
    fleet = await startLocalFleet({ proxyAgent: true, offlineAfterSeconds: 30 });
    nc = await controllerConn(fleet);
    nc.subscribe(`lf.events.${fleet.nodeId}.>`, {
      callback: (_e, m) => {
        let env: { ts?: number; body?: { label?: string; reason?: string } };
        try {
          env = JSON.parse(Buffer.from(m.data).toString('utf8')) as typeof env;
        } catch {
          return;
        }
        const body = env.body ?? {};
        seen.push({
          ts: env.ts ?? 0,
          kind: m.subject.split('.').pop() ?? '',
          label: body.label,
          reason: body.reason,
        });
      },
    });
    await applyToAll(fleet, steady, faultPlist(steady, `exec ${steadyCmd}`));
    await applyToAll(fleet, first, faultPlist(first, 'exec sleep 7202'));
    await applyToAll(fleet, second, faultPlist(second, 'exec sleep 7203'));
    await eventually(async () => (await listedPids(fleet)).size >= 3 && true, 60_000, 'the jobs run');
  });

  after(async () => {
    const keep = process.env['LF_FAULT_LOGS'];
    if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
    await nc?.close().catch(() => undefined);
    await fleet?.stop();
  });

  test('silent for longer than the bound: noticed in time, events of the outage delivered once, in order', async () => {
    const proxy = fleet.agentProxy;
    assert.ok(proxy);
    const pids = await listedPids(fleet);
    const agentPid = fleet.agentPid();
    assert.ok(agentPid);
    // Someone boots out a managed job by hand: the agent repairs it and raises a drift event.
    const bootout = async (label: string) => {
      const r = await runLfctl(['--run-dir', fleet.runDir(), 'bootout', `system/${label}`]);
      assert.equal(r.code, 0, r.stderr);
    };
    const logAt = (await fleet.agentLog()).length;

    const silentAt = Date.now();
    proxy.silence(true);
    // Raised while the agent still believes in its connection.
    await sleep(1000);
    await bootout(first);
    await eventually(
      async () => /link: disconnected/.test((await fleet.agentLog()).slice(logAt)),
      3 * heartbeatS * 1000 + 10_000,
      `the agent notices the dead link within 3 heartbeat periods (${3 * heartbeatS} s)`,
    );
    const noticedS = (Date.now() - silentAt) / 1000;
    // Raised while the agent knows it is offline.
    await bootout(second);
    await sleep(3000);
    assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
    const during = await listedPids(fleet);
    assert.equal(during.get(steady), pids.get(steady), 'the steady job kept its pid');
    assert.ok(alive(pids.get(steady) ?? 0));
    proxy.silence(false);

    await eventually(
      async () => /link: connected/.test((await fleet.agentLog()).slice(logAt)),
      30_000,
      'the agent connects again',
    );
    // Both repairs reach the controller.
    const outage = () =>
      seen.filter((e) => e.ts >= silentAt && e.kind === 'drift' && (e.label === first || e.label === second));
    await eventually(
      () => outage().some((e) => e.label === first) && outage().some((e) => e.label === second),
      30_000,
      'the events raised during the outage arrive',
    );
    await sleep(3000);
    const got = outage();
    // Each repair raised exactly one drift event: none lost, none twice.
    assert.deepEqual(
      got.map((e) => e.label),
      [first, second],
      `in the order raised, each once: ${JSON.stringify(got)}`,
    );
    assert.ok(noticedS <= 3 * heartbeatS + 5, `noticed after ${noticedS} s`);
    assert.equal(instances(steadyCmd), 1);
  });
});
