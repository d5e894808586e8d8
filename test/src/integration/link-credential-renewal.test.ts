/**
 * Node credentials that expire and renew themselves, against a real nats-server (and a real
 * 3-server cluster): a real agent link enrolled with 15-second credentials renews them before
 * they expire (a signed request on its own `lf.renew.<nodeId>`), reconnects with them and is
 * still connected, with its job still running, long after the first credentials expired. The
 * renewed JWT carries the current permission template. Then bad input against the renewal
 * service: a request signed by the wrong key, naming another key, replayed, stale, malformed,
 * for another node's subject, for a revoked node, and forged JWTs at the servers: each refused
 * with its reason and a `renewal-refused` event, and nothing else changes (registry record,
 * credentials file).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createUser, fromSeed } from '@nats-io/nkeys';
import { encodeUser, fmtCreds } from '@nats-io/jwt';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import {
  type RenewRequest,
  decodeRenewReply,
  encodeEnvelope,
  encodeRenewRequest,
  renewSigningPayload,
  subjects,
} from '@launchfleet/shared/messages';
import { nodePermissions } from '@launchfleet/controller/identity';
import {
  type NodeIdentity,
  connectAsNode,
  enroll,
  parseCreds,
  stateFiles,
  userClaims,
} from '@launchfleet/node-agent/link';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { type LinkNode, daemonPlist, eventually } from '../support/link-node.ts';
import { EventLog, enrolledLinkNode, putJob } from '../support/link-fleet.ts';

const lifetimeMs = 15_000;

/** The JWT claims of a node's credentials file. */
async function heldClaims(stateDir: string) {
  const parts = parseCreds(await readFile(join(stateDir, stateFiles.creds), 'utf8'));
  assert.ok(parts, 'a credentials file');
  const c = userClaims(parts.jwt);
  assert.ok(c);
  const perms = JSON.parse(Buffer.from(parts.jwt.split('.')[1] ?? '', 'base64url').toString()) as {
    nats: { pub: { allow: string[] }; sub: { allow: string[] } };
  };
  return {
    ...c,
    jwt: parts.jwt,
    seed: parts.seed,
    pubAllow: perms.nats.pub.allow,
    subAllow: perms.nats.sub.allow,
  };
}

/** A signed renewal request as the agent makes it, with overrides. */
function signedRequest(seed: string, nodeId: string, o: Partial<RenewRequest> & { signWith?: string } = {}) {
  const key = fromSeed(new TextEncoder().encode(o.signWith ?? seed));
  const own = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  const base = { nodeId, publicKey: own, requestedAt: Date.now(), ...o };
  const signature = Buffer.from(key.sign(renewSigningPayload(base))).toString('base64url');
  return encodeRenewRequest({ ...base, signature: o.signature ?? signature }, Date.now());
}

for (const cluster of [false, true]) {
  describe(`credentials expire and renew (${cluster ? '3 servers' : '1 server'})`, () => {
    let cp: ControlPlaneHarness;
    let node: LinkNode;
    let events: EventLog;
    let id: NodeIdentity;

    before(async () => {
      cp = await startControlPlane({ cluster, enrollment: { credentialsLifetimeMs: lifetimeMs } });
      events = new EventLog(cp.nc);
      node = await enrolledLinkNode(cp);
      const ident = node.link.identity;
      assert.ok(ident);
      id = ident;
    });

    const cleanups: (() => Promise<void>)[] = [];

    after(async () => {
      for (const c of cleanups) await c();
      await node?.close();
      await cp?.close();
    });

    test('the agent renews before expiry and stays connected past the first expiry; its job keeps running', async () => {
      const first = await heldClaims(node.stateDir);
      const firstExpiry = first.expiresAtMs;
      assert.ok(firstExpiry !== undefined, 'enrolment gave credentials with an expiry');
      const life = firstExpiry - first.issuedAtMs;
      assert.ok(life <= lifetimeMs && life >= lifetimeMs - 1000, String(life));
      await putJob(cp, id.nodeId, {
        label: 'com.acme.renew',
        version: 1,
        plist: daemonPlist('com.acme.renew'),
      });
      const pid = await eventually(() => node.job('com.acme.renew')?.pid, 15_000, 'the job runs');
      const connects = node.link.status().connects;
      // Renewed in [50 %, 80 %) of the lifetime, i.e. before the first credentials expire.
      await eventually(() => (node.link.status().credentials?.renewals ?? 0) >= 1, lifetimeMs, 'renewed');
      assert.ok(Date.now() < firstExpiry, 'renewed before the first credentials expired');
      const second = await heldClaims(node.stateDir);
      assert.equal(second.sub, first.sub, 'the same node key');
      assert.equal(second.seed, first.seed, 'the seed never changed');
      assert.ok((second.expiresAtMs ?? 0) > firstExpiry, 'a later expiry');
      // It reconnected with them at once, and is still connected after the first JWT expired.
      await eventually(
        () => node.link.status().connects > connects,
        10_000,
        'reconnected with the new credentials',
      );
      await new Promise((r) => setTimeout(r, Math.max(0, firstExpiry - Date.now()) + 1500));
      // (Renewals come every 7.5-12 s with this lifetime, each followed by a reconnect.)
      await eventually(() => node.link.status().connected, 5000, 'connected past the first expiry');
      assert.deepEqual(
        node.logs.filter((l) => /authentication expired|authorization violation/i.test(l)),
        [],
        'never refused by a server',
      );
      // Valid, or already due for the next renewal (every 7.5-12 s here): never expired.
      assert.ok(['valid', 'renewal-due'].includes(node.link.status().credentials?.state ?? ''));
      assert.equal(node.job('com.acme.renew')?.pid, pid, 'the job was never restarted');
      // The registry knows, and the controller said so.
      // Renewals go on every 7.5-12 s, so by now the registry may hold a later one than `second`:
      // it must agree with the credentials the agent holds (the file is written after the
      // registry, so look until both show the same renewal).
      const rec = await eventually(
        async () => {
          const r = await cp.enrollment.registry.get(id.nodeId);
          const held = await heldClaims(node.stateDir);
          return r?.credentialsExpireAt === held.expiresAtMs && r;
        },
        5000,
        'the registry records the expiry of the credentials the agent holds',
      );
      assert.ok((rec.credentialsExpireAt ?? 0) >= (second.expiresAtMs ?? Infinity));
      assert.ok((rec.renewals ?? 0) >= 1);
      await eventually(
        () => events.events.some((e) => e.kind === 'credentials-renewed' && e.detail?.includes(id.nodeId)),
        5000,
        'a credentials-renewed event',
      );
    });

    test('a renewal brings the current permission template', async () => {
      const held = await heldClaims(node.stateDir);
      const current = nodePermissions(id.nodeId);
      assert.deepEqual(held.pubAllow, current.pub.allow);
      assert.deepEqual(held.subAllow, current.sub.allow);
    });

    test('bad input is refused with its reason and an event; nothing changes', async () => {
      // A node without an agent (an identity and its own connection), so that nothing renews
      // behind the test's back.
      const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
      const dir = await mkdtemp(join(tmpdir(), 'lf-renew-bad-'));
      const enrolled = await enroll({
        servers: cp.urls,
        enrollCreds: cp.enrollCreds,
        token,
        stateDir: dir,
        hostname: 'bad.local',
      });
      assert.ok(enrolled.ok, JSON.stringify(enrolled));
      const bare = enrolled.value;
      const held = await heldClaims(dir);
      const before = await cp.enrollment.registry.getVersioned(bare.nodeId);
      const credsBefore = await readFile(join(dir, stateFiles.creds), 'utf8');
      const nc = await connectAsNode(bare, { servers: cp.urls, reconnect: false, maxReconnectAttempts: 0 });
      cleanups.push(async () => {
        await nc.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      });
      const id = bare;
      const ask = async (data: Uint8Array | string, subject = subjects.renew(id.nodeId)) => {
        const r = decodeRenewReply((await nc.request(subject, data, { timeout: 5000 })).data);
        assert.ok(r.ok, JSON.stringify(r));
        return r.value;
      };
      const reasonOf = async (data: Uint8Array | string) => {
        const r = await ask(data);
        return r.ok ? 'granted' : r.error;
      };
      try {
        const stranger = new TextDecoder().decode(createUser().getSeed());
        assert.equal(
          await reasonOf(signedRequest(held.seed, id.nodeId, { signWith: stranger })),
          'bad-signature',
        );
        const otherKey = fromSeed(new TextEncoder().encode(stranger)).getPublicKey();
        assert.equal(
          await reasonOf(signedRequest(stranger, id.nodeId, { publicKey: otherKey })),
          'wrong-key',
          'signed by, and naming, a key the node did not enrol with',
        );
        assert.equal(
          await reasonOf(signedRequest(held.seed, id.nodeId, { requestedAt: Date.now() - 3600_000 })),
          'stale',
        );
        assert.equal(await reasonOf('not json'), 'invalid-request');
        assert.equal(
          await reasonOf(encodeEnvelope('renew.request', 1, { nodeId: id.nodeId, publicKey: 'x' })),
          'invalid-request',
        );
        // Another node's id in the body, on this node's subject.
        assert.equal(await reasonOf(signedRequest(held.seed, 'n' + 'b'.repeat(20))), 'invalid-request');
        // Another node's subject: the server refuses the publish (permissions).
        const other = 'n' + 'c'.repeat(20);
        await assert.rejects(
          nc.request(subjects.renew(other), signedRequest(held.seed, other), { timeout: 2000 }),
          /permission|timeout|no responders/i,
        );
        const after = await cp.enrollment.registry.getVersioned(id.nodeId);
        assert.equal(after?.revision, before?.revision, 'the registry record did not change');
        assert.equal(await readFile(join(dir, stateFiles.creds), 'utf8'), credsBefore);
        for (const reason of ['bad-signature', 'wrong-key', 'stale', 'invalid-request'])
          await eventually(
            () => events.events.some((e) => e.kind === 'renewal-refused' && e.reason === reason),
            5000,
            `a renewal-refused ${reason} event`,
          );

        // A replayed request: the first is granted, the same bytes again are not.
        const once = signedRequest(held.seed, id.nodeId);
        const granted = await ask(once);
        assert.equal(granted.ok, true);
        const recorded = await cp.enrollment.registry.getVersioned(id.nodeId);
        assert.equal(await reasonOf(once), 'replayed');
        assert.equal((await cp.enrollment.registry.getVersioned(id.nodeId))?.revision, recorded?.revision);
      } finally {
        await nc.close();
      }
    });

    test('forged JWTs are refused by every server', async () => {
      const held = await heldClaims(node.stateDir);
      const user = fromSeed(new TextEncoder().encode(held.seed));
      // Signed by an account key of our own making, claiming the node's name and key.
      const forged = await encodeUser(id.nodeId, user, createAccount(), { pub: { allow: ['>'], deny: [] } });
      // The node's real JWT with its permissions widened: the signature no longer matches.
      const [h, b, s] = held.jwt.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(b, 'base64url').toString()) as {
        nats: { pub: { allow: string[] } };
      };
      claims.nats.pub.allow = ['>'];
      const widened = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      for (const jwt of [forged, widened])
        for (const url of cp.urls)
          await assert.rejects(
            connect({
              servers: url,
              authenticator: credsAuthenticator(fmtCreds(jwt, user)),
              reconnect: false,
              timeout: 5000,
            }),
            /authorization|authentication/i,
          );
      await eventually(() => node.link.status().connected, 5000, 'the node itself is unaffected');
    });

    test('a revoked node gets no renewal; the refusal is reported', async () => {
      const other = await enrolledLinkNode(cp);
      try {
        const oid = other.link.identity;
        assert.ok(oid);
        const held = await heldClaims(other.stateDir);
        await cp.enrollment.revokeNode(oid.nodeId);
        await eventually(() => !other.link.status().connected, 10_000, 'cut off');
        // The agent tells a refusal from an outage (node-agent link/link-failure.ts): the real
        // server's answer to its next connect is classified as credentials NATS refuses, said at
        // error level with what a person must do, not "no session (...); retrying with backoff".
        const refusal = await eventually(
          () =>
            other.logs.find((l) =>
              l.startsWith("error link: no session: NATS refused this node's credentials"),
            ),
          10_000,
          'the agent says NATS refused its credentials',
        );
        assert.match(refusal, /Authorization Violation.*a person must act.*not retried for/i);
        assert.ok(
          !other.logs.some((l) => /Authorization Violation.*retrying with backoff/i.test(l)),
          'never logged as a broker outage',
        );
        const before = await cp.enrollment.registry.getVersioned(oid.nodeId);
        // Its connection is gone: the request reaches the service as it would have, mid-flight.
        const r = await cp.enrollment.renewals.handle(
          subjects.renew(oid.nodeId),
          signedRequest(held.seed, oid.nodeId),
        );
        assert.equal(!r.ok && r.error, 'revoked');
        assert.equal((await cp.enrollment.registry.getVersioned(oid.nodeId))?.revision, before?.revision);
        await eventually(
          () =>
            events.events.some(
              (e) => e.kind === 'renewal-refused' && e.reason === 'revoked' && e.detail?.includes(oid.nodeId),
            ),
          5000,
          'a renewal-refused revoked event naming the node',
        );
      } finally {
        await other.close();
      }
    });
  });
}
