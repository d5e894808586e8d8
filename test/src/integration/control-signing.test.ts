/**
 * Signed job bundles end to end on the wire: the controller puts bundles into a node's
 * desired state; the node's DesiredWatch verifies them and reports every refusal reason as
 * an event in LF_EVENTS. Key rotation and revocation work without touching the agent, and a
 * forged trust store (written with the controller's broker rights but no trusted key) is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { systemClock } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import {
  type JobBundle,
  type SigningKey,
  acceptTrustStore,
  encodeSignedBundle,
  encodeSignedTrustStore,
  generateSigningKey,
  signBundle,
  signTrustStore,
} from '@launchfleet/shared/signing';
import { type NodeIdentity, DesiredWatch, connectAsNode, enroll } from '@launchfleet/node-agent/link';
import { publishTrustStore, putSignedBundle } from '@launchfleet/controller/identity';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { waitForEvents } from '../support/events.ts';

interface Seen {
  kind: string;
  reason: string;
  label: string | undefined;
}

describe('control plane: signed bundles on the wire', () => {
  let cp: ControlPlaneHarness;
  let stateRoot: string;
  let a: NodeIdentity;
  let b: NodeIdentity;
  let ncA: NatsConnection;
  let watch: DesiredWatch;
  const seen: Seen[] = [];
  const accepted: JobBundle[] = [];
  let waiters: (() => void)[] = [];

  /** Resolves when an event matching `pred` has been reported. */
  const waitSeen = (pred: (s: Seen) => boolean, timeoutMs = 10_000): Promise<Seen> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no matching event; seen ${JSON.stringify(seen)}`)),
        timeoutMs,
      );
      const check = () => {
        const s = seen.find(pred);
        if (!s) return false;
        clearTimeout(t);
        resolve(s);
        return true;
      };
      // A waiter is woken by every event; one that does not match yet waits for the next.
      const arm = (): void => {
        if (!check()) waiters.push(arm);
      };
      arm();
    });

  const seenCount = (label: string) =>
    seen.filter((e) => e.label === label && e.kind === 'bundle-accepted').length;
  const now = () => Date.now();
  const base = (label: string, over: Partial<JobBundle> = {}): Omit<JobBundle, 'keyId'> => ({
    label,
    domain: 'system',
    plist: `<plist><dict><key>Label</key><string>${label}</string></dict></plist>`,
    version: 1,
    issuedAt: now(),
    expiresAt: now() + 3600_000,
    nodeId: a.nodeId,
    ...over,
  });
  const putRaw = (label: string, value: string) => cp.store.desired.put(keys.desired(a.nodeId, label), value);
  const signed = (b: Omit<JobBundle, 'keyId'>, k: SigningKey = cp.keyStore.activeSigningKey()) =>
    signBundle({ ...b, keyId: k.keyId }, k);

  before(async () => {
    cp = await startControlPlane();
    stateRoot = await mkdtemp(join(tmpdir(), 'lf-agents-'));
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 2 });
    const enrolOne = async (n: string) => {
      const r = await enroll({
        servers: cp.urls,
        enrollCreds: cp.enrollCreds,
        token,
        stateDir: join(stateRoot, n),
        hostname: n,
      });
      assert.ok(r.ok, JSON.stringify(r));
      return r.value;
    };
    a = await enrolOne('a');
    b = await enrolOne('b');
    const trust = acceptTrustStore(await readFile(a.trustStorePath), undefined);
    assert.ok(trust.ok);
    ncA = await connectAsNode(a, { servers: cp.urls });
    watch = new DesiredWatch({
      nc: ncA,
      nodeId: a.nodeId,
      trust: trust.store,
      clock: systemClock,
      maxSkewMs: 1000,
      onBundle: (bundle) => accepted.push(bundle),
      onEvent: (kind, reason, label) => {
        seen.push({ kind, reason, label });
        const ws = waiters;
        waiters = [];
        for (const w of ws) w();
      },
    });
    await watch.start();
  });

  after(async () => {
    await watch?.stop();
    await ncA?.close().catch(() => undefined);
    await cp?.close();
    if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
  });

  test('a signed bundle is accepted; an identical re-delivery changes nothing', async () => {
    const { signed: s } = await putSignedBundle(
      cp.store,
      cp.keyStore.activeSigningKey(),
      base('com.acme.one'),
    );
    await waitSeen((e) => e.kind === 'bundle-accepted' && e.label === 'com.acme.one');
    await putRaw('com.acme.one', encodeSignedBundle(s));
    // A later, different bundle proves the re-delivery was processed before it (KV order).
    await putSignedBundle(cp.store, cp.keyStore.activeSigningKey(), base('com.acme.marker'));
    await waitSeen((e) => e.label === 'com.acme.marker');
    assert.equal(seen.filter((e) => e.label === 'com.acme.one').length, 1, 'no second event for a duplicate');
    assert.deepEqual(
      accepted.map((x) => x.label),
      ['com.acme.one', 'com.acme.marker'],
    );
    assert.equal(accepted[0]?.plist, s.bundle.plist);
  });

  test('every refusal reason arrives as an event', async () => {
    const key = cp.keyStore.activeSigningKey();
    const good = signed(base('com.acme.tampered'));
    await putRaw(
      'com.acme.tampered',
      JSON.stringify({ ...good, bundle: { ...good.bundle, plist: '<plist/>' } }),
    );
    const unsigned = signed(base('com.acme.unsigned'));
    await putRaw('com.acme.unsigned', JSON.stringify({ ...unsigned, sig: undefined }));
    await putRaw(
      'com.acme.wrongnode',
      encodeSignedBundle(signed(base('com.acme.wrongnode', { nodeId: b.nodeId }))),
    );
    await putRaw(
      'com.acme.expired',
      encodeSignedBundle(
        signed(base('com.acme.expired', { issuedAt: now() - 7200_000, expiresAt: now() - 3600_000 })),
      ),
    );
    await putRaw(
      'com.acme.future',
      encodeSignedBundle(
        signed(base('com.acme.future', { issuedAt: now() + 3600_000, expiresAt: now() + 7200_000 })),
      ),
    );
    const stranger = generateSigningKey();
    await putRaw('com.acme.stranger', encodeSignedBundle(signed(base('com.acme.stranger'), stranger)));
    await putRaw('com.acme.garbage', '{"v":1,"kind":"job-bundle","bundle":');
    // Replay: a second, different bundle claiming version 1 of an applied label.
    await putRaw(
      'com.acme.one',
      encodeSignedBundle(signed(base('com.acme.one', { plist: '<plist><dict/></plist>' }))),
    );
    // Older: go to v3, then offer v2.
    await putSignedBundle(cp.store, key, base('com.acme.ver', { version: 3 }));
    await waitSeen((e) => e.label === 'com.acme.ver' && e.kind === 'bundle-accepted');
    await putSignedBundle(cp.store, key, base('com.acme.ver', { version: 2 }));
    // Replay of a superseded bundle: v1 applied, then v2, then v1's exact bytes again.
    const sup1 = await putSignedBundle(cp.store, key, base('com.acme.sup'));
    await waitSeen((e) => e.label === 'com.acme.sup' && e.kind === 'bundle-accepted');
    await putSignedBundle(cp.store, key, base('com.acme.sup', { version: 2 }));
    await waitSeen(
      (e) => e.label === 'com.acme.sup' && e.kind === 'bundle-accepted' && seenCount('com.acme.sup') >= 2,
    );
    await putRaw('com.acme.sup', encodeSignedBundle(sup1.signed));
    // A key that is not a label token.
    await cp.store.desired.put(`${a.nodeId}.bad_zz`, '{}');

    const want: [string, string][] = [
      ['com.acme.tampered', 'bad-signature'],
      ['com.acme.unsigned', 'unsigned'],
      ['com.acme.wrongnode', 'wrong-node'],
      ['com.acme.expired', 'expired'],
      ['com.acme.future', 'not-yet-valid'],
      ['com.acme.stranger', 'unknown-key'],
      ['com.acme.garbage', 'malformed'],
      ['com.acme.one', 'replayed'],
      ['com.acme.ver', 'older-version'],
      ['com.acme.sup', 'replayed'],
    ];
    for (const [label, reason] of want) {
      const e = await waitSeen((s) => s.label === label && s.kind === 'bundle-refused');
      assert.equal(e.reason, reason, label);
    }
    await waitSeen((s) => s.kind === 'message-refused' && s.reason === 'bad-key');
    const mayRun = new Set(['com.acme.one', 'com.acme.marker', 'com.acme.ver', 'com.acme.sup']);
    assert.deepEqual(
      accepted.filter((x) => !mayRun.has(x.label)),
      [],
      'nothing refused was handed on',
    );
    assert.deepEqual(
      accepted.filter((x) => x.label === 'com.acme.sup').map((x) => x.version),
      [1, 2],
    );
    assert.equal(accepted.find((x) => x.label === 'com.acme.ver')?.version, 3);
    // Oversized: the bucket itself refuses a value above the bundle cap.
    await assert.rejects(putRaw('com.acme.huge', 'x'.repeat(600 * 1024)));

    // And the events are in the stream, where the controller reads them.
    const events = await waitForEvents(cp.nc, a.nodeId, (evs) =>
      want.every(([label, reason]) => evs.some((e) => e.label === label && e.reason === reason)),
    );
    assert.ok(events.every((e) => e.source === a.nodeId));
  });

  test('key rotation without touching the agent, then revocation of the old key', async () => {
    const k1 = cp.keyStore.activeSigningKey();
    const k2 = await cp.keyStore.addSigningKey();
    await publishTrustStore(cp.store.trust, cp.keyStore, { now: now() });
    await waitSeen((e) => e.kind === 'trust-updated');
    assert.ok(watch.trust.keys.some((k) => k.keyId === k2.keyId));
    await cp.keyStore.activate(k2.keyId);
    await putSignedBundle(cp.store, k2, base('com.acme.rotated'));
    await waitSeen((e) => e.label === 'com.acme.rotated' && e.kind === 'bundle-accepted');
    // Retire and revoke k1 (store v3, signed by k2, which v2 trusts).
    await publishTrustStore(cp.store.trust, cp.keyStore, { now: now(), revoke: [k1.keyId] });
    await waitSeen(() => watch.trust.revoked.includes(k1.keyId));
    await putSignedBundle(cp.store, k1, base('com.acme.oldkey'));
    const e = await waitSeen((s) => s.label === 'com.acme.oldkey');
    assert.equal(e.reason, 'revoked-key');
  });

  test('a forged or rolled-back trust store is refused and reported', async () => {
    const before = watch.trust;
    const evil = generateSigningKey();
    const forged = signTrustStore(
      { ...before, version: before.version + 1, keys: [{ keyId: evil.keyId, publicKey: evil.publicKey }] },
      evil,
    );
    await cp.store.trust.put(keys.trustStore, encodeSignedTrustStore(forged));
    await waitSeen((s) => s.kind === 'trust-refused' && s.reason === 'unknown-key');
    const k2 = cp.keyStore.activeSigningKey();
    const rollback = signTrustStore({ ...before, version: 1 }, k2);
    await cp.store.trust.put(keys.trustStore, encodeSignedTrustStore(rollback));
    await waitSeen((s) => s.kind === 'trust-refused' && s.reason === 'older-version');
    await cp.store.trust.put(keys.trustStore, '{"v":1,"kind":"trust-store","store":');
    await waitSeen((s) => s.kind === 'trust-refused' && s.reason === 'malformed');
    assert.deepEqual(watch.trust, before, 'trust store unchanged');
  });
});
