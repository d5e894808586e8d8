/**
 * natsError's table of JetStream refusals retrying cannot fix (shared/src/nats-errors.ts), checked
 * against what a real nats-server answers through nats.js: a message larger than the stream's
 * max_msg_size, a second message on a subject of a stream that discards new messages per subject,
 * and a payload over the server's max_payload (refused by nats.js before it is sent). Each must
 * come out not retryable; a store the stream takes must not.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { natsError } from '@launchfleet/shared/nats-errors';
import { type NatsServer, startServer } from '../support/nats-server.ts';

describe('natsError against a real nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;

  before(async () => {
    server = await startServer({ extraConfig: 'max_payload: 65536' });
    nc = await connect({ servers: server.url });
  });

  after(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** What publishing `data` to `subject` threw, classified (undefined: stored). */
  async function refusal(subject: string, data: Uint8Array) {
    try {
      await jetstream(nc).publish(subject, data, { timeout: 5000 });
      return undefined;
    } catch (e) {
      return natsError(e, 'publishing');
    }
  }

  test('a message larger than the stream allows: InvalidArgument, not retryable', async () => {
    await jetstreamManager(nc).then((m) =>
      m.streams.add({ name: 'SMALL', subjects: ['small.>'], max_msg_size: 1024 }),
    );
    assert.equal(await refusal('small.a', new Uint8Array(100)), undefined, 'a small one is stored');
    const e = await refusal('small.a', new Uint8Array(4096));
    assert.ok(e, 'refused');
    assert.equal(e.name, 'InvalidArgument', e.message);
    assert.equal(e.retryable, false);
    assert.match(e.message, /max_msg_size/);
  });

  test('a payload over the server max_payload: InvalidArgument, not retryable', async () => {
    const e = await refusal('small.b', new Uint8Array(100_000));
    assert.ok(e, 'refused');
    assert.equal(e.name, 'InvalidArgument', e.message);
    assert.equal(e.retryable, false);
    assert.match(e.message, /max_payload/);
  });

  test('a subject full in a stream that discards new messages per subject: FailedPrecondition, not retryable', async (t) => {
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({
        name: 'ONE',
        subjects: ['one.>'],
        discard: DiscardPolicy.New,
        discard_new_per_subject: true,
        max_msgs_per_subject: 1,
      });
    } catch (e) {
      // nats-server 2.9 has no discard-new-per-subject (the matrix's older leg).
      t.skip(`this nats-server cannot make such a stream: ${String(e)}`);
      return;
    }
    assert.equal(await refusal('one.a', new Uint8Array(10)), undefined, 'the first is stored');
    const e = await refusal('one.a', new Uint8Array(10));
    assert.ok(e, 'refused');
    assert.equal(e.name, 'FailedPrecondition', e.message);
    assert.equal(e.retryable, false);
    assert.equal(await refusal('one.b', new Uint8Array(10)), undefined, 'another subject is stored');
  });
});
