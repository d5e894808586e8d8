/**
 * Bootstrap token use against a real nats-server (operator mode, controller credentials
 * signed by native Ed25519 keys): many enrolments racing on one multi-use token all get a use
 * while uses remain (lost compare-and-sets are retried, not answered `used-token` or `busy`),
 * never more than `maxUses` are taken, and a token with more uses than its record could list
 * keys for keeps working (the record stays under the bucket's 4 KiB value limit).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createNativePair } from '@launchfleet/shared/native-nkeys';
import { keys, nodeIdFromRandom } from '@launchfleet/shared/messages';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';

describe('control plane: bootstrap token uses under contention', () => {
  let cp: ControlPlaneHarness;

  before(async () => {
    cp = await startControlPlane();
  });

  after(async () => {
    await cp?.close();
  });

  const newKey = () => createNativePair('user').getPublicKey();
  const newNode = () => nodeIdFromRandom(randomBytes(13));

  test('40 concurrent enrolments on a 30-use token: exactly 30 uses, the rest used-token', async () => {
    const { token, id } = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 30 });
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, () => cp.enrollment.tokens.use(token, now, newKey(), newNode())),
    );
    const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
    assert.equal(results.filter((r) => r.ok).length, 30, JSON.stringify(errors));
    assert.deepEqual(new Set(errors), new Set(['used-token']));
    const nodes = new Set(results.flatMap((r) => (r.ok ? [r.nodeId] : [])));
    assert.equal(nodes.size, 30);
    const rec = JSON.parse((await cp.store.tokens.get(keys.token(id)))?.string() ?? '{}') as {
      uses?: number;
    };
    assert.equal(rec.uses, 30);
  });

  test('a 120-use token serves 120 enrolments (10 at a time) and then refuses', async () => {
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 120 });
    const now = Date.now();
    const firstKeys: string[] = [];
    for (let round = 0; round < 12; round++) {
      const batch = Array.from({ length: 10 }, () => newKey());
      firstKeys.push(...batch);
      const results = await Promise.all(batch.map((k) => cp.enrollment.tokens.use(token, now, k, newNode())));
      assert.ok(
        results.every((r) => r.ok && !r.repeat),
        `round ${round}: ${JSON.stringify(results)}`,
      );
    }
    assert.deepEqual(await cp.enrollment.tokens.use(token, now, newKey(), newNode()), {
      ok: false,
      error: 'used-token',
    });
    // The newest keys are still remembered: a lost reply's retry gets its node back.
    const last = firstKeys.at(-1) ?? '';
    const again = await cp.enrollment.tokens.use(token, now, last, newNode());
    assert.ok(again.ok && again.repeat, JSON.stringify(again));
  });
});
