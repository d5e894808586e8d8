/**
 * Every stream of the control plane carries an explicit consumer limit (nats-server 2.15 caps a
 * stream without one at 1,000 and no longer reads -1 as unlimited), and a controller starting on
 * streams made by an older version (no limit) starts and leaves their limit as it was: nats-server
 * refuses to change it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { maxConsumersOf } from '@launchfleet/controller/identity';
import { auditStream } from '@launchfleet/shared/messages';
import { ControllerFleet } from '../support/controller-fleet.ts';

describe('controller: stream limits', () => {
  let fleet: ControllerFleet;

  before(async () => {
    fleet = await ControllerFleet.start();
  });

  after(async () => {
    await fleet?.close();
  });

  test('every stream it creates has an explicit, positive consumer limit', async () => {
    // An older controller's audit stream, without a limit.
    const nc = await connect({
      servers: [fleet.server.url],
      authenticator: credsAuthenticator(await fleet.identity.controllerCreds()),
    });
    await (
      await jetstreamManager(nc)
    ).streams.add({ name: auditStream.name, subjects: [...auditStream.subjects] });
    await nc.close();
    const c = await fleet.startController();
    const jsm = await jetstreamManager(c.app.nc);
    const streams: { name: string; max: number }[] = [];
    for await (const si of jsm.streams.list())
      streams.push({ name: si.config.name, max: si.config.max_consumers });
    const ours = streams.filter((s) => s.name !== auditStream.name);
    assert.ok(ours.length >= 10, JSON.stringify(streams));
    for (const s of ours) {
      assert.ok(s.max > 0, `${s.name}: max_consumers ${s.max}`);
      assert.equal(s.max, maxConsumersOf(s.name), s.name);
    }
    const audit = streams.find((s) => s.name === auditStream.name);
    assert.ok(audit && audit.max <= 0, 'the existing stream kept its configuration (and was updated)');
  });
});
