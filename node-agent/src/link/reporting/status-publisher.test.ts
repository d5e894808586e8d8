import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import { FakeClock } from '@launchfleet/shared/testing';
import type { NodeInventory, NodeStatus } from '@launchfleet/shared/messages';
import { StatusPublisher } from './status-publisher.ts';

/** A KV bucket that records the keys put (the only call the publisher makes). */
function recordingKv(): { kv: KV; puts: string[] } {
  const puts: string[] = [];
  const kv = {
    put: (key: string) => {
      puts.push(key);
      return Promise.resolve(puts.length);
    },
  } as unknown as KV;
  return { kv, puts };
}

function publisher(clock: FakeClock, health: { value: string }): StatusPublisher {
  return new StatusPublisher({
    nodeId: () => 'n1',
    clock,
    scheduler: clock,
    log: () => {},
    statusMinIntervalMs: 1000,
    statusRefreshMs: 60_000,
    snapshot: () => ({ nodeId: 'n1', health: health.value }) as unknown as NodeStatus,
    inventory: (): NodeInventory => ({ nodeId: 'n1', hostname: 'h', labels: {} }),
    stats: { statusPuts: 0 },
  });
}

const settle = () => new Promise<void>((r) => setImmediate(r));

describe('status publisher', () => {
  test('a change is put at most once per statusMinIntervalMs', async () => {
    const clock = new FakeClock();
    const health = { value: 'healthy' };
    const p = publisher(clock, health);
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
    const clock = new FakeClock();
    const health = { value: 'healthy' };
    const p = publisher(clock, health);
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
});
