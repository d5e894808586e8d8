import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KV, KvEntry } from '@nats-io/kv';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { errors as natsErrors } from '@nats-io/nats-core';
import { FakeClock } from '@launchfleet/shared/testing';
import { encodeDesiredIndex, encodeLabelToken } from '@launchfleet/shared/messages';
import { type DesiredEntry, DesiredFollower, type DesiredFollowerOptions } from './desired-follower.ts';
import { EdgePacing } from './nats-edge.ts';
import { publishDenied } from '../testing/fake-nats.ts';

const node = 'n1';
const tA = encodeLabelToken('com.acme.a');
const tB = encodeLabelToken('com.acme.b');

/** A connection whose one subscription the test feeds (live messages), never closed. */
function fakeConnection(): { nc: NatsConnection; live: (key: string, data: Uint8Array) => void } {
  let deliver: ((err: Error | null, m: Msg) => void) | undefined;
  const nc = {
    subscribe: (_subject: string, o: { callback: (err: Error | null, m: Msg) => void }) => {
      deliver = o.callback;
      return { closed: new Promise(() => undefined), isClosed: () => false, unsubscribe: () => undefined };
    },
    flush: () => Promise.resolve(),
    closed: () => new Promise(() => undefined),
    isClosed: () => false,
  } as unknown as NatsConnection;
  const live = (key: string, data: Uint8Array): void =>
    deliver?.(null, { subject: `$KV.lf_desired.${key}`, headers: undefined, data } as unknown as Msg);
  return { nc, live };
}

/** The bucket as stored; reads of a key in `denied` fail as nats.js fails a denied direct get. */
function fakeBucket(): {
  kv: KV;
  put: (key: string, value: Uint8Array) => void;
  denied: Set<string>;
  reads: string[];
} {
  const stored = new Map<string, KvEntry>();
  const denied = new Set<string>();
  const reads: string[] = [];
  let revision = 0;
  const kv = {
    get: (key: string) => {
      reads.push(key);
      if (denied.has(key)) {
        const e = publishDenied(`$JS.API.DIRECT.GET.KV_lf_desired.$KV.lf_desired.${key}`);
        return Promise.reject(new Error('direct get failed', { cause: e }));
      }
      return Promise.resolve(stored.get(key) ?? null);
    },
  } as unknown as KV;
  const put = (key: string, value: Uint8Array): void => {
    const e = {
      key,
      operation: 'PUT',
      revision: ++revision,
      value,
      string: () => new TextDecoder().decode(value),
    };
    stored.set(key, e as unknown as KvEntry);
  };
  return { kv, put, denied, reads };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Lets the follower's queue, reads and timers' callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * A follower over a bucket holding `a1` for com.acme.a (the index lists it), on a fake connection;
 * `clustered`: the server's INFO names a cluster. `delivered` and `lines` record what it did.
 */
function fixture(o: { clustered?: boolean; options?: Partial<DesiredFollowerOptions> } = {}) {
  const clock = new FakeClock();
  const { nc, live } = fakeConnection();
  if (o.clustered) Object.assign(nc, { info: { cluster: 'lf' } });
  const bucket = fakeBucket();
  bucket.put(`${node}._index`, encodeDesiredIndex({ tokens: [tA] }, clock.wallMs()));
  bucket.put(`${node}.${tA}`, text('a1'));
  const delivered: string[] = [];
  const lines: [string, string][] = [];
  const follower = new DesiredFollower({
    nc,
    kv: bucket.kv,
    nodeId: node,
    scheduler: clock,
    onEntry: (e: DesiredEntry) => delivered.push(`${e.key}=${e.string()}`),
    log: (level, msg) => lines.push([level, msg]),
    recheckMs: 300_000,
    random: () => 0.5,
    ...o.options,
  });
  const last = () => delivered[delivered.length - 1];
  const info = () => lines.filter(([l]) => l === 'info').map(([, m]) => m);
  /** Moves the clock on and lets what it woke run. */
  const advance = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await settle();
  };
  return { clock, live, bucket, follower, delivered, lines, last, info, advance };
}

describe('desired follower', () => {
  test('a denied read-back or index read keeps the session: said once, read again on the pacing, then caught up', async () => {
    const { clock, live, bucket, follower, delivered, lines } = fixture({
      options: {
        credential: "node n1's credentials (/s/node.creds)",
        pacing: new EdgePacing({ deniedWaitMs: 60_000 }),
      },
    });
    const index = (tokens: string[]): Uint8Array => encodeDesiredIndex({ tokens }, clock.wallMs());
    let ended = false;
    void follower.ended().then(() => {
      ended = true;
    });
    assert.equal(await follower.start(), 'following');
    assert.deepEqual(delivered, [`${node}.${tA}=a1`]);

    // The controller lists com.acme.b and stores it, but NATS denies this node its key's reads:
    // the index message reads the index (allowed) and then the key (denied); the key's own
    // message is read back (denied).
    bucket.denied.add(`${node}.${tB}`);
    bucket.put(`${node}._index`, index([tA, tB]));
    bucket.put(`${node}.${tB}`, text('b1'));
    live(`${node}._index`, index([tA, tB]));
    live(`${node}.${tB}`, text('b1'));
    await settle();
    const errors = () => lines.filter(([l]) => l === 'error').map(([, m]) => m);
    assert.equal(errors().length, 1, errors().join('\n'));
    assert.match(
      errors()[0] ?? '',
      /^NATS denied reading this node's desired state on the direct gets of \$KV\.lf_desired\.n1\.> to node n1's credentials \(\/s\/node\.creds\)/,
    );
    assert.equal(ended, false, 'the session stays');
    const readsOfB = () => bucket.reads.filter((k) => k === `${node}.${tB}`).length;
    assert.equal(readsOfB(), 2, 'the index read and the read-back, each once');

    // The session still brings every other change.
    bucket.put(`${node}.${tA}`, text('a2'));
    live(`${node}.${tA}`, text('a2'));
    await settle();
    assert.deepEqual(delivered, [`${node}.${tA}=a1`, `${node}.${tA}=a2`]);

    // Nothing is read again before the pacing's wait (60 s here, sooner than the 5-min re-read).
    clock.advance(59_999);
    await settle();
    assert.equal(readsOfB(), 2, 'no hot retry');
    clock.advance(1);
    await settle();
    assert.equal(readsOfB(), 3, 'read again after the wait');
    assert.equal(errors().length, 1, 'still denied: not said again');
    assert.equal(ended, false);

    // The permission returns: the next re-read takes the change, and says how it came.
    bucket.denied.clear();
    clock.advance(60_000);
    await settle();
    assert.deepEqual(delivered, [`${node}.${tA}=a1`, `${node}.${tA}=a2`, `${node}.${tB}=b1`]);
    assert.ok(
      lines.some(([l, m]) => l === 'info' && m.includes('caught up by the re-read after a denied read')),
      lines.map(([l, m]) => `${l} ${m}`).join('\n'),
    );
    assert.equal(ended, false);

    // Read fine again: a later denial is said again (at error).
    bucket.denied.add(`${node}.${tA}`);
    bucket.put(`${node}.${tA}`, text('a3'));
    live(`${node}.${tA}`, text('a3'));
    await settle();
    assert.equal(errors().length, 2, errors().join('\n'));
    assert.equal(ended, false);
    await follower.stop();
  });

  test('a read-back that fails for another reason still ends the follower (the next session catches up)', async () => {
    const clock = new FakeClock();
    const { nc, live } = fakeConnection();
    const bucket = fakeBucket();
    bucket.put(`${node}._index`, encodeDesiredIndex({ tokens: [tA] }, clock.wallMs()));
    bucket.put(`${node}.${tA}`, text('a1'));
    const lines: string[] = [];
    const follower = new DesiredFollower({
      nc,
      kv: {
        get: (key: string) =>
          key === `${node}.${tA}` && lines.length > 0
            ? Promise.reject(new Error('get failed', { cause: new natsErrors.TimeoutError() }))
            : bucket.kv.get(key),
      } as unknown as KV,
      nodeId: node,
      scheduler: clock,
      onEntry: () => undefined,
      log: (level, msg) => {
        if (level === 'warn') lines.push(msg);
      },
      recheckMs: 0,
    });
    let ended = false;
    void follower.ended().then(() => {
      ended = true;
    });
    assert.equal(await follower.start(), 'following');
    lines.push('(started)');
    live(`${node}.${tA}`, text('a2'));
    await settle();
    assert.equal(ended, true);
    assert.ok(
      lines.some((l) => /read-back of n1\.\S+ failed .*: starting over$/.test(l)),
      lines.join('\n'),
    );
    await follower.stop();
  });

  test('in a cluster, a catch-up answered by a replica behind is read again 20 s later, not left for the 5-minute re-read', async () => {
    for (const clustered of [true, false]) {
      const { bucket, follower, last, info, advance } = fixture({ clustered });
      assert.equal(await follower.start(), 'following');
      assert.equal(last(), `${node}.${tA}=a1`);
      // a2 was stored (its live message left the leader before this session's interest reached
      // it, so none comes); the replica that answered the catch-up had only a1 and now has a2.
      bucket.put(`${node}.${tA}`, text('a2'));
      await advance(19_999);
      assert.equal(last(), `${node}.${tA}=a1`, 'not before the settling delay');
      await advance(1);
      if (clustered) {
        assert.equal(last(), `${node}.${tA}=a2`, 'read again 20 s after the catch-up');
        assert.ok(
          info().some((m) => m.includes('caught up by the re-read after the catch-up')),
          info().join('\n'),
        );
      } else {
        // One server has no replica to be behind: nothing more is read until the periodic re-read.
        await advance(200_000);
        assert.equal(last(), `${node}.${tA}=a1`);
        await advance(100_000);
        assert.equal(last(), `${node}.${tA}=a2`, 'the periodic re-read');
      }
      await follower.stop();
    }
  });

  test('in a cluster, a live change the answering replica never showed is read again 20 s after the last look', async () => {
    const { live, bucket, follower, last, info, advance } = fixture({ clustered: true });
    assert.equal(await follower.start(), 'following');
    await advance(20_000); // the catch-up's own settling re-read: nothing new
    assert.equal(last(), `${node}.${tA}=a1`);
    // a2's live message comes, but every look is answered by a replica that still has a1.
    live(`${node}.${tA}`, text('a2'));
    await settle();
    for (const d of [10, 30, 100, 300, 1000, 3000, 5000]) {
      await advance(d);
    }
    assert.equal(last(), `${node}.${tA}=a1`, 'the last look took what the replica had');
    bucket.put(`${node}.${tA}`, text('a2'));
    await advance(19_999);
    assert.equal(last(), `${node}.${tA}=a1`);
    await advance(1);
    assert.equal(last(), `${node}.${tA}=a2`, 'read again 20 s after the last look');
    assert.ok(
      info().some((m) => m.includes('caught up by the re-read after a live change not seen stored')),
      info().join('\n'),
    );
    await follower.stop();
  });

  test('a re-read answered by a replica behind (an older revision than delivered) delivers nothing', async () => {
    const { live, bucket, follower, last, advance } = fixture({ clustered: true });
    assert.equal(await follower.start(), 'following');
    const old = await bucket.kv.get(`${node}.${tA}`); // a1, as the lagging replica still has it
    bucket.put(`${node}.${tA}`, text('a2'));
    live(`${node}.${tA}`, text('a2'));
    await settle();
    assert.equal(last(), `${node}.${tA}=a2`);
    // From now on the replica behind answers this key.
    const lagging = bucket.kv.get.bind(bucket.kv);
    Object.assign(bucket.kv, {
      get: (key: string) => (key === `${node}.${tA}` ? Promise.resolve(old) : lagging(key)),
    });
    await advance(30_000); // the settling re-read after the catch-up
    await advance(360_000); // and a periodic one
    assert.equal(last(), `${node}.${tA}=a2`, 'never back to a1');
    await follower.stop();
  });
});
