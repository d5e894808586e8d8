/**
 * The outbox acts on what a failed publish was (../nats-edge.ts): an event NATS denies these
 * credentials is dropped at once and said once; no answer waits, with backoff, and is never
 * dropped; a refusal retrying cannot fix (the event too large for the stream) is dropped at once;
 * any other refusal on a live connection is dropped after 3 tries (as before).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { FakeClock } from '@launchfleet/shared/testing';
import { jetStreamConnection as connection, publishDenied } from '../../testing/fake-nats.ts';
import { flush } from '../../testing/settle.ts';
import { EventOutbox } from './event-outbox.ts';

/**
 * Attaches a connection that answers the drift event's publish with `refusal(subject)` and acks
 * the others, then queues a drift event and another; returns the subjects tried.
 */
function driftRefused(o: EventOutbox, refusal: (subject: string) => Error): string[] {
  const { nc, tries } = connection((s) => (s === 'lf.events.n1.drift' ? refusal(s) : undefined));
  o.attach(nc);
  o.emit({ kind: 'drift', reason: 'plist-changed' });
  o.emit({ kind: 'bundle-accepted', label: 'com.a', version: 1 });
  return tries;
}

function outbox(clock: FakeClock, lines: [string, string][]) {
  const stats = { eventsPublished: 0, eventsDropped: 0, jobStateEvents: 0 };
  const o = new EventOutbox({
    nodeId: () => 'n1',
    credential: () => "node n1's credentials (/s/node.creds)",
    clock,
    scheduler: clock,
    log: (level, _label, msg) => lines.push([level, msg]),
    maxQueuedEvents: 100,
    stats,
  });
  return { o, stats };
}

const settle = (): Promise<void> => flush(5);

describe('event outbox: failed publishes, classified', () => {
  test('an event NATS denies is dropped at once, said once naming the subject and the credential; the others go', async () => {
    const clock = new FakeClock();
    const lines: [string, string][] = [];
    const { o, stats } = outbox(clock, lines);
    const tries = driftRefused(o, (s) => new Error('publish failed', { cause: publishDenied(s) }));
    o.emit({ kind: 'drift', reason: 'job-unloaded' });
    await settle();
    assert.deepEqual(
      tries,
      ['lf.events.n1.drift', 'lf.events.n1.bundle-accepted', 'lf.events.n1.drift'],
      'each tried once',
    );
    assert.equal(stats.eventsDropped, 2);
    assert.equal(stats.eventsPublished, 1);
    assert.equal(o.queued, 0);
    const errors = lines.filter(([l]) => l === 'error').map(([, m]) => m);
    assert.equal(errors.length, 1, 'said once');
    assert.match(
      errors[0] ?? '',
      /^NATS denied publishing a drift event on lf\.events\.n1\.drift to node n1's credentials \(\/s\/node\.creds\)/,
    );
  });

  test('no answer (a timeout, no responders) waits with backoff and is never dropped', async () => {
    const clock = new FakeClock();
    const lines: [string, string][] = [];
    const { o, stats } = outbox(clock, lines);
    let fail = true;
    const { nc, tries } = connection(() =>
      fail
        ? tries.length % 2 === 0
          ? new natsErrors.TimeoutError()
          : new Error('publish failed', { cause: new natsErrors.NoRespondersError('lf.events.n1.drift') })
        : undefined,
    );
    o.attach(nc);
    o.emit({ kind: 'drift', reason: 'plist-changed' });
    await settle();
    const at: number[] = [];
    for (let t = 0; t < 60_000; t += 500) {
      const before = tries.length;
      clock.advance(500);
      await settle();
      if (tries.length > before) at.push(t + 500);
    }
    // Retried 1, 2, 4, 8 and 16 s after each failure (the next after 30 s).
    assert.deepEqual(at, [1000, 3000, 7000, 15_000, 31_000]);
    assert.equal(stats.eventsDropped, 0);
    assert.equal(o.queued, 1);
    fail = false;
    clock.advance(30_000);
    await settle();
    assert.equal(stats.eventsPublished, 1);
    assert.ok(
      lines.every(([l]) => l === 'debug'),
      'quietly',
    );
  });

  test('a refusal on a live connection is dropped after 3 tries so it cannot block the others', async () => {
    const clock = new FakeClock();
    const { o, stats } = outbox(clock, []);
    // A store failure natsError does not know as permanent (a full stream that discards new
    // messages may take it later): retried, then dropped.
    const tries = driftRefused(
      o,
      () => new JetStreamApiError({ code: 503, err_code: 10077, description: 'maximum bytes exceeded' }),
    );
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      await settle();
    }
    assert.equal(tries.filter((s) => s === 'lf.events.n1.drift').length, 3);
    assert.equal(stats.eventsDropped, 1);
    assert.equal(stats.eventsPublished, 1);
  });

  test('a refusal retrying cannot fix (the event larger than the stream allows) is dropped at once, with a warn line', async () => {
    const clock = new FakeClock();
    const lines: [string, string][] = [];
    const { o, stats } = outbox(clock, lines);
    const tries = driftRefused(
      o,
      () =>
        new JetStreamApiError({
          code: 400,
          err_code: 10054,
          description: 'message size exceeds maximum allowed',
        }),
    );
    await settle();
    assert.deepEqual(
      tries,
      ['lf.events.n1.drift', 'lf.events.n1.bundle-accepted'],
      'tried once, then the next',
    );
    assert.equal(stats.eventsDropped, 1);
    assert.equal(stats.eventsPublished, 1);
    const warned = lines.filter(([l]) => l === 'warn').map(([, m]) => m);
    assert.equal(warned.length, 1, warned.join('\n'));
    assert.match(
      warned[0] ?? '',
      /^event dropped: publishing a drift event: message size exceeds maximum allowed \(the message is larger than the stream allows/,
    );
  });
});
