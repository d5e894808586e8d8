import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import { FakeClock } from '@launchfleet/shared/testing';
import type { NodeInventory, NodeStatus } from '@launchfleet/shared/messages';
import { errors as natsErrors } from '@nats-io/nats-core';
import { publishDenied } from '../../testing/fake-nats.ts';
import { StatusPublisher, type StatusPublisherOptions } from './status-publisher.ts';

/**
 * A KV bucket (the publisher only puts): a put of a key fails with `failure(key)` as its cause
 * when that gives an error; `tried` records every key tried, `puts` the keys put.
 */
function recordingKv(failure: (key: string) => Error | undefined = () => undefined): {
  kv: KV;
  tried: string[];
  puts: string[];
} {
  const tried: string[] = [];
  const puts: string[] = [];
  const kv = {
    put: (key: string) => {
      tried.push(key);
      const e = failure(key);
      if (e) return Promise.reject(new Error('put failed', { cause: e }));
      puts.push(key);
      return Promise.resolve(puts.length);
    },
  } as unknown as KV;
  return { kv, tried, puts };
}

/** How nats.js fails a put of `key` in lf_nodes that these credentials may not make. */
const putDenied = (key: string): Error => publishDenied(`$KV.lf_nodes.${key}`);

/**
 * Node n1's publisher on a fake clock, its snapshot's health read from `health` (changed by the
 * tests); `o` replaces any option.
 */
function publisher(o: Partial<StatusPublisherOptions> = {}): {
  p: StatusPublisher;
  clock: FakeClock;
  health: { value: string };
} {
  const clock = new FakeClock();
  const health = { value: 'healthy' };
  const p = new StatusPublisher({
    nodeId: () => 'n1',
    clock,
    scheduler: clock,
    log: () => {},
    statusMinIntervalMs: 1000,
    statusRefreshMs: 60_000,
    snapshot: () => ({ nodeId: 'n1', health: health.value }) as unknown as NodeStatus,
    inventory: (): NodeInventory => ({ nodeId: 'n1', hostname: 'h', labels: {} }),
    stats: { statusPuts: 0 },
    ...o,
  });
  return { p, clock, health };
}

const settle = () => new Promise<void>((r) => setImmediate(r));

describe('status publisher', () => {
  test('a change is put at most once per statusMinIntervalMs', async () => {
    const { p, clock, health } = publisher();
    const { kv, puts } = recordingKv();
    p.attach(kv);
    clock.advance(0);
    await settle();
    assert.deepEqual(puts, ['n1.inventory', 'n1.status']);
    health.value = 'degraded';
    p.schedule(false);
    clock.advance(999);
    await settle();
    assert.equal(puts.filter((k) => k === 'n1.status').length, 1);
    clock.advance(1);
    await settle();
    assert.equal(puts.filter((k) => k === 'n1.status').length, 2);
  });

  test('a put scheduled when the connection went is made on the next connection', async () => {
    const { p, clock, health } = publisher();
    const first = recordingKv();
    p.attach(first.kv);
    clock.advance(0);
    await settle();
    health.value = 'degraded';
    p.schedule(false); // due in 1 s
    p.detach(); // the connection goes before it fires
    const second = recordingKv();
    p.attach(second.kv);
    clock.advance(0);
    await settle();
    assert.deepEqual(second.puts, ['n1.inventory', 'n1.status']);
  });

  test('a put NATS denies is said once at error, naming the subject and the credential, and not tried again for deniedWaitMs', async () => {
    const lines: [string, string][] = [];
    const { p, clock, health } = publisher({
      credential: () => "node n1's credentials (/s/node.creds)",
      log: (level, _label, msg) => lines.push([level, msg]),
      deniedWaitMs: 300_000,
    });
    let deny = true;
    const { kv, tried: attempts } = recordingKv((key) => (deny ? putDenied(key) : undefined));
    p.attach(kv);
    clock.advance(0);
    await settle();
    assert.deepEqual(attempts, ['n1.inventory', 'n1.status']);
    const errors = lines.filter(([l]) => l === 'error').map(([, m]) => m);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(
      errors[1] ?? '',
      /NATS denied putting the node status on \$KV\.lf_nodes\.n1\.status to node n1's credentials \(\/s\/node\.creds\)/,
    );
    assert.match(errors[1] ?? '', /a person must act/);
    // Changes keep coming (every job change schedules a put): nothing is tried for 5 minutes.
    for (let i = 0; i < 299; i++) {
      health.value = i % 2 === 0 ? 'degraded' : 'healthy';
      p.schedule(false);
      void p.refresh();
      void p.putInventory();
      clock.advance(1000);
      await settle();
    }
    assert.deepEqual(attempts, ['n1.inventory', 'n1.status'], 'no hot retry');
    // After the wait it is tried again (once), and goes through.
    deny = false;
    clock.advance(1000);
    await settle();
    assert.deepEqual(attempts.slice(2), ['n1.status']);
    assert.equal(lines.filter(([l]) => l === 'error').length, 2, 'said once');
  });

  test('the inventory denied does not hold up the status (each key has its own wait)', async () => {
    const { p, clock } = publisher();
    const { kv, puts } = recordingKv((key) => (key.endsWith('.inventory') ? putDenied(key) : undefined));
    p.attach(kv);
    // The inventory's denial comes back before the status timer fires.
    await settle();
    clock.advance(0);
    await settle();
    assert.deepEqual(puts, ['n1.status']);
  });

  test('a new connection starts the pacing over: a failure on the last one does not hold the heartbeat refresh', async () => {
    const { p, clock } = publisher();
    const { kv: failing, tried } = recordingKv(() => new natsErrors.TimeoutError());
    p.attach(failing);
    clock.advance(0);
    await settle();
    // The status put failed: a retry is armed, so the heartbeat's refresh tries nothing.
    await p.refresh();
    assert.deepEqual(tried, ['n1.inventory', 'n1.status']);
    const held = recordingKv();
    p.detach();
    p.attach(held.kv);
    // The heartbeat fires before the attach's own put: the old connection's failure is
    // forgotten (one count, in the pacing), so the refresh puts the snapshot now.
    await p.refresh();
    assert.deepEqual(held.puts, ['n1.inventory', 'n1.status']);
  });
});
