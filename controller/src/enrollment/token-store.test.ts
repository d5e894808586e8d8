/**
 * TokenStore's compare-and-set loop against a scripted in-memory bucket: lost races are
 * retried (not answered `used-token` while uses remain), endless losses answer `busy`, other
 * write failures are not mistaken for contention, and the record stays bounded. The same
 * store against a real nats-server: test/src/integration/control-enroll-tokens.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import { parseTokenRecord } from './bootstrap-token.ts';
import { TokenStore, isWrongRevision, rememberedKeysPerToken, repeatGraceMs } from './token-store.ts';

/** The few KV calls TokenStore makes, with JetStream's compare-and-set semantics. */
class ScriptedKv {
  readonly entries = new Map<string, { value: string; revision: number }>();
  #seq = 0;
  updates = 0;
  /** Runs before each update is applied; may move the entry (a concurrent writer) or throw. */
  beforeUpdate: ((key: string) => void) | undefined;

  async create(key: string, value: string): Promise<number> {
    await Promise.resolve();
    if (this.entries.has(key)) throw new Error('wrong last sequence: 1');
    this.entries.set(key, { value, revision: ++this.#seq });
    return this.#seq;
  }

  async get(key: string) {
    await Promise.resolve();
    const e = this.entries.get(key);
    if (!e) return null;
    const { value, revision } = e;
    return { operation: 'PUT' as const, revision, string: () => value };
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    await Promise.resolve();
    this.updates++;
    this.beforeUpdate?.(key);
    const e = this.entries.get(key);
    if (!e || e.revision !== revision)
      throw Object.assign(new Error(`wrong last sequence: ${e?.revision ?? 0}`), { code: 10071 });
    this.entries.set(key, { value, revision: ++this.#seq });
    return this.#seq;
  }

  /** Another writer touches the entry (same value, new revision). */
  bump(key: string): void {
    const e = this.entries.get(key);
    if (e) this.entries.set(key, { value: e.value, revision: ++this.#seq });
  }

  record(id: string) {
    return parseTokenRecord(this.entries.get(id)?.value ?? '');
  }
}

const now = 1_000_000;
const noPause = { backoffMs: () => 0 };
const userKey = (i: number) => `U${String(i).padStart(55, 'A')}`;
const nodeId = (i: number) => `n${String(i).padStart(20, 'a').replace(/[0-9]/g, 'b')}`;
const store = (kv: ScriptedKv, o = {}) => new TokenStore(kv as unknown as KV, { ...noPause, ...o });

describe('TokenStore.use', () => {
  test('a multi-use token survives many lost races: retried, one use taken', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv);
    const { token, id } = await ts.create(now, 60_000, 3);
    let losses = 10;
    kv.beforeUpdate = (key) => {
      if (losses-- > 0) kv.bump(key);
    };
    const r = await ts.use(token, now, userKey(1), nodeId(1));
    assert.deepEqual(r, { ok: true, tokenId: id, nodeId: nodeId(1), repeat: false });
    assert.equal(kv.updates, 11);
    assert.equal(kv.record(id)?.uses, 1);
  });

  test('losing every race answers busy (not used-token) and takes no use', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv, { maxAttempts: 6 });
    const { token, id } = await ts.create(now, 60_000, 5);
    kv.beforeUpdate = (key) => kv.bump(key);
    assert.deepEqual(await ts.use(token, now, userKey(1), nodeId(1)), { ok: false, error: 'busy' });
    assert.equal(kv.updates, 6);
    assert.equal(kv.record(id)?.uses, 0);
    kv.beforeUpdate = undefined;
    assert.equal((await ts.use(token, now, userKey(1), nodeId(1))).ok, true);
  });

  test('a write failure that is not a lost race is thrown at once, not retried as busy', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv);
    const { token } = await ts.create(now, 60_000, 5);
    kv.beforeUpdate = () => {
      throw new Error('message size exceeds maximum allowed');
    };
    await assert.rejects(ts.use(token, now, userKey(1), nodeId(1)), /exceeds maximum/);
    assert.equal(kv.updates, 1);
  });

  test('concurrent enrolments take exactly maxUses uses; the rest are used-token', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv, { maxAttempts: 64 });
    const { token, id } = await ts.create(now, 60_000, 12);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ts.use(token, now, userKey(i), nodeId(i))),
    );
    const okCount = results.filter((r) => r.ok).length;
    assert.equal(okCount, 12, JSON.stringify(results));
    assert.ok(
      results.every((r) => r.ok || r.error === 'used-token'),
      JSON.stringify(results),
    );
    assert.equal(kv.record(id)?.uses, 12);
  });

  test('a repeated key gets its node back without a use; the record stays bounded', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv);
    const { token, id } = await ts.create(now, 60_000, 1000);
    for (let i = 0; i < 100; i++) assert.equal((await ts.use(token, now, userKey(i), nodeId(i))).ok, true);
    const text = kv.entries.get(id)?.value ?? '';
    assert.ok(text.length < 4096, `record of ${text.length} bytes`);
    assert.equal(Object.keys(kv.record(id)?.enrolled ?? {}).length, rememberedKeysPerToken);
    const last = await ts.use(token, now + 1, userKey(99), nodeId(500));
    assert.deepEqual(last, { ok: true, tokenId: id, nodeId: nodeId(99), repeat: true });
    assert.equal(kv.record(id)?.uses, 100);
    // The oldest key was forgotten: it takes a new use (a new node), it is not locked out.
    const old = await ts.use(token, now + 1, userKey(0), nodeId(501));
    assert.deepEqual(old, { ok: true, tokenId: id, nodeId: nodeId(501), repeat: false });
  });

  test('one-use token: the second key is refused, the first key may repeat', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv);
    const { token } = await ts.create(now, 60_000, 1);
    assert.equal((await ts.use(token, now, userKey(1), nodeId(1))).ok, true);
    assert.deepEqual(await ts.use(token, now, userKey(2), nodeId(2)), { ok: false, error: 'used-token' });
    assert.equal((await ts.use(token, now, userKey(1), nodeId(3))).ok, true);
  });

  test('a repeat is answered until the token expired 10 minutes ago, not later', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv);
    const { token, id } = await ts.create(now, 60_000, 1);
    assert.equal((await ts.use(token, now, userKey(1), nodeId(1))).ok, true);
    const justBefore = now + 60_000 + repeatGraceMs - 1;
    assert.deepEqual(await ts.use(token, justBefore, userKey(1), nodeId(9)), {
      ok: true,
      tokenId: id,
      nodeId: nodeId(1),
      repeat: true,
    });
    assert.deepEqual(await ts.use(token, justBefore + 1, userKey(1), nodeId(9)), {
      ok: false,
      error: 'expired-token',
    });
  });

  test('bad, expired and revoked tokens', async () => {
    const kv = new ScriptedKv();
    const ts = store(kv);
    const { token, id } = await ts.create(now, 1000, 2);
    assert.deepEqual(await ts.use('nonsense', now, userKey(1), nodeId(1)), { ok: false, error: 'bad-token' });
    const wrongSecret = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.deepEqual(await ts.use(wrongSecret, now, userKey(1), nodeId(1)), {
      ok: false,
      error: 'bad-token',
    });
    assert.deepEqual(await ts.use(token, now + 1000, userKey(1), nodeId(1)), {
      ok: false,
      error: 'expired-token',
    });
    let losses = 3;
    kv.beforeUpdate = (key) => {
      if (losses-- > 0) kv.bump(key);
    };
    await ts.revoke(id);
    assert.equal(kv.record(id)?.revoked, true);
    assert.deepEqual(await ts.use(token, now, userKey(1), nodeId(1)), { ok: false, error: 'revoked-token' });
  });
});

test('isWrongRevision recognises the JetStream error only', () => {
  assert.equal(isWrongRevision(Object.assign(new Error('wrong last sequence: 7'), { code: 10071 })), true);
  assert.equal(isWrongRevision(new Error('wrong last sequence: 7')), true);
  assert.equal(isWrongRevision(new Error('timeout')), false);
  assert.equal(isWrongRevision(null), false);
});
