/**
 * Fault suite (docs/fault-suite.md): malformed messages published to the real subjects of a
 * running fleet of real processes (nats-server, controller, agent). Towards the agent they are
 * published with the controller's credentials (a buggy or compromised controller, or an operator's
 * mistake with the `nats` CLI); towards the controller with the node's own credentials (a
 * compromised or broken node can publish only on its own subjects).
 *
 * Promised to the user: neither the agent nor the controller exits; the job keeps its pid; what
 * the agent refuses is reported as a refusal event naming why; the node stays online with its
 * report intact; and a real apply afterwards runs on the node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { buckets, keys, kvSubject, subjects } from '@launchfleet/shared/messages';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { alive, eventually, sleep } from '../support/agent.ts';
import {
  FleetEvents,
  applyToAll,
  controllerConn,
  faultPlist,
  instances,
  listedPids,
} from '../support/fault-fleet.ts';

const steady = 'com.fault.bad.steady';
const after_ = 'com.fault.bad.after';
const steadyCmd = 'sleep 7191';

/** Payloads no peer should ever send: empty, not JSON, JSON of the wrong shape, binary, oversized fields. */
const garbage: readonly Uint8Array[] = [
  new Uint8Array(),
  new TextEncoder().encode('not json at all'),
  new TextEncoder().encode('{"v":1}'),
  new TextEncoder().encode('{"v":1,"kind":"status","ts":"yesterday","body":[1,2,3]}'),
  new TextEncoder().encode(JSON.stringify({ v: 1, kind: 'bundle', payload: 'x'.repeat(200_000) })),
  new TextEncoder().encode('['.repeat(5000)),
  Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256),
];

interface NodesList {
  nodes?: { nodeId: string; presence: string | number }[];
}

describe('fault: malformed messages on the real subjects', { timeout: 240_000 }, () => {
  let fleet: LocalFleet;
  let ctl: NatsConnection;
  let node: NatsConnection;
  let events: FleetEvents;
  let jobPid: number;
  let agentPid: number;

  const unchanged = async (what: string): Promise<void> => {
    assert.equal(fleet.agentPid(), agentPid, `${what}: the agent never exited`);
    assert.ok(alive(agentPid));
    assert.equal((await listedPids(fleet)).get(steady), jobPid, `${what}: the job kept its pid`);
    const r = await fleet.cli(['nodes', 'list', '--json']);
    assert.equal(r.code, 0, `${what}: the controller answers: ${r.stderr}`);
    const n = (JSON.parse(r.stdout) as NodesList).nodes?.find((x) => x.nodeId === fleet.nodeId);
    assert.match(String(n?.presence), /online/i, `${what}: the node is online`);
  };

  before(async () => {
    fleet = await startLocalFleet();
    ctl = await controllerConn(fleet);
    events = new FleetEvents(ctl);
    // The node's own credentials, as the agent wrote them at enrolment.
    node = await connect({
      servers: [fleet.natsUrl],
      authenticator: credsAuthenticator(readFileSync(join(fleet.stateDir(), 'node.creds'))),
      inboxPrefix: subjects.nodeInboxPrefix(fleet.nodeId),
      name: 'fault-suite-as-node',
    });
    await applyToAll(fleet, steady, faultPlist(steady, `exec ${steadyCmd}`));
    jobPid = await eventually(async () => (await listedPids(fleet)).get(steady), 60_000, 'the job runs');
    agentPid = fleet.agentPid() ?? 0;
  });

  after(async () => {
    const keep = process.env['LF_FAULT_LOGS'];
    if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
    await node?.close().catch(() => undefined);
    await ctl?.close().catch(() => undefined);
    await fleet?.stop();
  });

  test('towards the agent: desired state, its index, the trust store and live queries', async () => {
    const id = fleet.nodeId;
    const trustSubject = kvSubject(buckets.trust, keys.trustStore);
    // The trust store is put back afterwards (the bucket keeps the last value): read it first.
    const trustKv = await new Kvm(ctl).open(buckets.trust);
    const trustBefore = await trustKv.get(keys.trustStore);
    assert.ok(trustBefore && trustBefore.value.length > 0, 'the current trust store');
    for (const g of garbage) {
      ctl.publish(kvSubject(buckets.desired, keys.desired(id, 'com.fault.bad.garbage')), g);
      ctl.publish(kvSubject(buckets.desired, keys.desired(id, steady)), g);
      ctl.publish(kvSubject(buckets.desired, `${id}.bad_ZZ_token`), g);
      ctl.publish(kvSubject(buckets.desired, keys.desiredIndex(id)), g);
      ctl.publish(trustSubject, g);
      ctl.publish(subjects.query(id, 'status'), g);
      ctl.publish(subjects.query(id, 'no-such-query'), g);
    }
    await ctl.flush();
    // A live query with a garbage body still gets an answer (or none), never a dead agent.
    await ctl.request(subjects.query(id, 'status'), garbage[6], { timeout: 5000 }).catch(() => undefined);
    await trustKv.put(keys.trustStore, trustBefore.value);

    await eventually(
      () => events.of(id, 'bundle-refused', steady).length > 0 && events.of(id, 'trust-refused').length > 0,
      30_000,
      'the agent reports the refused bundles and trust stores',
    );
    const reasons = new Set(events.of(id, 'bundle-refused').map((e) => e.reason));
    assert.ok(reasons.size > 0, 'refusals name a reason');
    await sleep(2000);
    await unchanged('after garbage towards the agent');
  });

  test('towards the controller: heartbeats, status, inventory and events from the node itself', async () => {
    const id = fleet.nodeId;
    for (const g of garbage) {
      node.publish(subjects.heartbeat(id), g);
      node.publish(kvSubject(buckets.nodes, keys.nodeStatus(id)), g);
      node.publish(kvSubject(buckets.nodes, keys.nodeInventory(id)), g);
      node.publish(subjects.event(id, 'load-failed'), g);
      node.publish(subjects.event(id, 'no-such-kind'), g);
    }
    await node.flush();
    await sleep(2000);
    // The controller still answers every query a user makes, and its fleet view still holds the node.
    for (const args of [
      ['nodes', 'list'],
      ['jobs', 'health', steady],
      ['jobs', 'list'],
    ]) {
      const r = await fleet.cli([...args, '--json']);
      assert.equal(r.code, 0, `launchfleet ${args.join(' ')}: ${r.stderr}`);
    }
    await unchanged('after garbage towards the controller');
  });

  test('afterwards a real apply runs on the node, and the job set is whole', async () => {
    // The desired key of the steady job was overwritten with garbage: an apply of the same
    // label puts a good bundle there again; the running instance is not disturbed by refusals.
    await applyToAll(fleet, after_, faultPlist(after_));
    await eventually(async () => (await listedPids(fleet)).get(after_), 60_000, 'the new job runs');
    await eventually(
      async () => {
        const r = await fleet.cli(['jobs', 'health', after_, '--json']);
        return (
          r.code === 0 &&
          (JSON.parse(r.stdout) as { subStates?: Record<string, number> }).subStates?.['running'] === 1
        );
      },
      60_000,
      'the controller sees it running',
    );
    assert.equal(instances(steadyCmd), 1, 'one instance of the steady job');
    await unchanged('at the end');
  });
});
