/**
 * Enrolment and least-privilege node credentials against a real nats-server in operator
 * mode: two agents enrol; each can read only its own desired state and speak only as itself;
 * bad tokens and bad messages are refused with clear errors and events; a revoked node is
 * cut off; nothing the controller publishes carries private key material.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createUser } from '@nats-io/nkeys';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import {
  buckets,
  decodeEnrollReply,
  encodeEnrollRequest,
  encodeEnvelope,
  encodeHeartbeat,
  encodeNodeEvent,
  encodeNodeStatus,
  keys,
  kvStreamName,
  kvSubject,
  subjects,
} from '@launchfleet/shared/messages';
import { type NodeIdentity, connectAsNode, enroll } from '@launchfleet/node-agent/link';
import { putSignedBundle } from '@launchfleet/controller/identity';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import { firstServerError, waitForEvents } from '../support/events.ts';

const denied = /Permissions Violation/i;

describe('control plane: enrolment and per-node credentials', () => {
  let cp: ControlPlaneHarness;
  let stateRoot: string;
  let a: NodeIdentity;
  let b: NodeIdentity;
  let ncA: NatsConnection;
  const captured: Uint8Array[] = [];
  const capturedSubjects: string[] = [];

  const enrollAs = async (name: string, token: string) =>
    enroll({
      servers: cp.urls,
      enrollCreds: cp.enrollCreds,
      token,
      stateDir: join(stateRoot, name),
      hostname: `${name}.local`,
      inventory: { os: 'linux' },
      timeoutMs: 5000,
    });

  before(async () => {
    cp = await startControlPlane();
    stateRoot = await mkdtemp(join(tmpdir(), 'lf-agents-'));
    // Everything published in the fleet account, for the no-private-material check.
    cp.nc.subscribe('>', {
      callback: (_e, m) => {
        captured.push(m.data);
        capturedSubjects.push(m.subject);
      },
    });
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 2 });
    const ra = await enrollAs('a', token);
    const rb = await enrollAs('b', token);
    assert.ok(ra.ok && rb.ok, JSON.stringify([ra, rb]));
    a = ra.value;
    b = rb.value;
    ncA = await connectAsNode(a, { servers: cp.urls, maxReconnectAttempts: 0 });
    const key = cp.keyStore.activeSigningKey();
    const now = Date.now();
    for (const id of [a.nodeId, b.nodeId]) {
      await putSignedBundle(cp.store, key, {
        label: 'com.acme.backup',
        domain: 'system',
        plist: `<plist><dict><key>Label</key><string>com.acme.backup</string><key>X</key><string>${id}</string></dict></plist>`,
        version: 1,
        issuedAt: now,
        expiresAt: now + 3600_000,
        nodeId: id,
      });
    }
  });

  after(async () => {
    await ncA?.close().catch(() => undefined);
    await cp?.close();
    if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
  });

  test('enrolment stores a 0600 credentials file and the node id in the state dir', async () => {
    assert.match(a.nodeId, /^n[a-z2-7]{20}$/);
    assert.notEqual(a.nodeId, b.nodeId);
    const st = await stat(a.credsPath);
    assert.equal(st.mode & 0o777, 0o600);
    assert.match(await readFile(a.credsPath, 'utf8'), /BEGIN USER NKEY SEED/);
    const rec = await cp.enrollment.registry.get(a.nodeId);
    assert.equal(rec?.hostname, 'a.local');
  });

  test('A reads its own desired state with get and watch', async () => {
    const kv = await new Kvm(ncA).open(buckets.desired, { allow_direct: true });
    const e = await kv.get(keys.desired(a.nodeId, 'com.acme.backup'));
    assert.match(e?.string() ?? '', new RegExp(a.nodeId));
    const w = await kv.watch({ key: keys.desiredOf(a.nodeId) });
    for await (const entry of w) {
      assert.equal(entry.key, keys.desired(a.nodeId, 'com.acme.backup'));
      break;
    }
    w.stop();
    // And the trust store, read-only.
    const trust = await new Kvm(ncA).open(buckets.trust, { allow_direct: true });
    assert.ok(await trust.get(keys.trustStore));
  });

  test("A cannot read B's desired state (get, watch, payload-form get, stream info)", async () => {
    const kv = await new Kvm(ncA).open(buckets.desired, { allow_direct: true });
    await assert.rejects(kv.get(keys.desired(b.nodeId, 'com.acme.backup')), denied);
    await assert.rejects(kv.watch({ key: keys.desiredOf(b.nodeId) }), denied);
    await assert.rejects(kv.watch({ key: '>' }), denied);
    const stream = kvStreamName(buckets.desired);
    const last = JSON.stringify({
      last_by_subj: kvSubject(buckets.desired, keys.desired(b.nodeId, 'com.acme.backup')),
    });
    for (const subj of [
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.x`,
    ]) {
      await assert.rejects(ncA.request(subj, last, { timeout: 2000 }), denied, subj);
    }
    // A consumer whose subject names A's filter but whose payload asks for B's keys: the
    // server refuses the mismatch (2.9 checks the subject filter against the config).
    const sneaky = {
      stream_name: stream,
      config: {
        name: 'sneaky',
        filter_subject: kvSubject(buckets.desired, keys.desiredOf(b.nodeId)),
        deliver_subject: `${subjects.nodeInboxPrefix(a.nodeId)}.sneaky`,
        ack_policy: 'none',
      },
    };
    const r = await ncA.request(
      `$JS.API.CONSUMER.CREATE.${stream}.sneaky.${kvSubject(buckets.desired, keys.desiredOf(a.nodeId))}`,
      JSON.stringify(sneaky),
      { timeout: 2000 },
    );
    const answer = JSON.parse(r.string()) as { error?: { description?: string } };
    assert.ok(answer.error, `server must refuse a mismatched filter: ${r.string()}`);
  });

  test('A cannot speak as B, write the trust store, or subscribe to everything', async () => {
    const js = jetstream(ncA);
    const ev = encodeNodeEvent({ source: b.nodeId, kind: 'bundle-accepted' }, Date.now());
    await assert.rejects(js.publish(subjects.event(b.nodeId, 'bundle-accepted'), ev), denied);
    const nodes = await new Kvm(ncA).open(buckets.nodes);
    const status = encodeNodeStatus({ nodeId: b.nodeId, health: 'ok', jobs: {}, versions: {} }, Date.now());
    await assert.rejects(nodes.put(keys.nodeStatus(b.nodeId), status), denied);
    const trust = await new Kvm(ncA).open(buckets.trust);
    await assert.rejects(trust.put(keys.trustStore, '{}'), denied);
    const desired = await new Kvm(ncA).open(buckets.desired);
    await assert.rejects(
      desired.put(keys.desired(a.nodeId, 'x'), '{}'),
      denied,
      'not even its own desired state',
    );
    await assert.rejects(ncA.request(subjects.enroll, 'x', { timeout: 2000 }), denied);
    await assert.rejects(ncA.request(subjects.heartbeat(b.nodeId), 'x', { timeout: 2000 }), denied);
    const sub = ncA.subscribe('>');
    const closed = await sub.closed;
    assert.match(String(closed), denied);
    // What A may do, it can.
    await nodes.put(
      keys.nodeStatus(a.nodeId),
      encodeNodeStatus({ nodeId: a.nodeId, health: 'ok', jobs: {}, versions: {} }, Date.now()),
    );
    await js.publish(
      subjects.event(a.nodeId, 'bundle-accepted'),
      encodeNodeEvent({ source: a.nodeId, kind: 'bundle-accepted' }, Date.now()),
    );
    ncA.publish(
      subjects.heartbeat(a.nodeId),
      encodeHeartbeat({ nodeId: a.nodeId, seq: 1, health: 'ok' }, Date.now()),
    );
    await ncA.flush();
    const got = await cp.store.nodes.get(keys.nodeStatus(a.nodeId));
    assert.ok(got);
  });

  test('the controller can ask A a live question and A can answer only that', async () => {
    const sub = ncA.subscribe(subjects.queriesOf(a.nodeId), {
      callback: (_e, m) => {
        m.respond(new TextEncoder().encode(`pong from ${a.nodeId}`));
      },
    });
    await ncA.flush();
    const r = await cp.nc.request(subjects.query(a.nodeId, 'ping'), '', { timeout: 2000 });
    assert.equal(r.string(), `pong from ${a.nodeId}`);
    sub.unsubscribe();
    // A cannot listen to B's questions.
    const spy = ncA.subscribe(subjects.queriesOf(b.nodeId));
    assert.match(String(await spy.closed), denied);
  });

  test('the bootstrap user can only enrol', async () => {
    const nc = await connect({
      servers: cp.urls,
      authenticator: credsAuthenticator(cp.enrollCreds),
      inboxPrefix: subjects.enrollInboxPrefix('probe'),
    });
    try {
      const snoop = nc.subscribe(subjects.enroll);
      assert.match(String(await snoop.closed), denied, "cannot read other agents' tokens");
      const kv = await new Kvm(nc).open(buckets.desired, { allow_direct: true });
      await assert.rejects(kv.get(keys.desired(a.nodeId, 'com.acme.backup')), denied);
    } finally {
      await nc.close();
    }
  });

  test('bad, expired, used-up and revoked tokens are refused with a clear error and an event', async () => {
    const used = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 1 });
    assert.ok((await enrollAs('c', used.token)).ok);
    const reused = await enrollAs('c2', used.token);
    assert.equal(!reused.ok && reused.error.reason, 'used-token');
    // A zero lifetime: expired the moment it is created.
    const expired = await cp.enrollment.createToken({ ttlMs: 0, maxUses: 1 });
    const rExpired = await enrollAs('d', expired.token);
    assert.equal(!rExpired.ok && rExpired.error.reason, 'expired-token');
    const revoked = await cp.enrollment.createToken({ ttlMs: 60_000 });
    await cp.enrollment.revokeToken(revoked.id);
    const rRevoked = await enrollAs('e', revoked.token);
    assert.equal(!rRevoked.ok && rRevoked.error.reason, 'revoked-token');
    const wrongSecret = `${used.token.slice(0, 22)}${'A'.repeat(43)}`;
    const rBad = await enrollAs('f', wrongSecret);
    assert.equal(!rBad.ok && rBad.error.reason, 'bad-token');
    const rGarbage = await enrollAs('g', 'hello');
    assert.equal(!rGarbage.ok && rGarbage.error.reason, 'bad-token');
    for (const name of ['c2', 'd', 'e', 'f', 'g']) {
      // No credentials, and no pending key left behind by a refused attempt.
      const left = await readdir(join(stateRoot, name)).catch(() => [] as string[]);
      assert.deepEqual(left, [], `no credentials for ${name}`);
    }
    const events = await waitForEvents(cp.nc, 'controller', (evs) =>
      ['used-token', 'expired-token', 'revoked-token', 'bad-token'].every((r) =>
        evs.some((e) => e.reason === r),
      ),
    );
    assert.ok(events.every((e) => e.kind === 'enroll-refused'));
  });

  test('a lost enrolment reply does not lock the agent out: its retry gets the same node', async () => {
    const t = await cp.enrollment.createToken({ ttlMs: 60_000, maxUses: 1 });
    const dir = join(stateRoot, 'lost');
    // The agent's first attempt: it saved its pending key, the controller enrolled it, the reply was lost.
    const first = createUser();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'enroll-pending.nk'), new TextDecoder().decode(first.getSeed()), {
      mode: 0o600,
    });
    const lost = await cp.enrollment.handle(
      encodeEnrollRequest(
        { token: t.token, publicKey: first.getPublicKey(), hostname: 'lost.local', inventory: {} },
        Date.now(),
      ),
    );
    assert.ok(lost.ok, JSON.stringify(lost));
    // The retry presents the same key and gets the same node; the token's one use is spent once.
    const retry = await enrollAs('lost', t.token);
    assert.ok(retry.ok, JSON.stringify(retry));
    assert.equal(retry.value.nodeId, lost.nodeId);
    await assert.rejects(stat(join(dir, 'enroll-pending.nk')), 'the pending key is gone once enrolled');
    // Another machine with the same, used, token is still refused.
    const other = await enrollAs('other', t.token);
    assert.equal(!other.ok && other.error.reason, 'used-token');
    // And the node really works with what the retry stored.
    const nc = await connectAsNode(retry.value, { servers: cp.urls });
    await nc.close();
  });

  test('malformed and oversized enrolment requests get clear errors; the controller keeps serving', async () => {
    const nc = await connect({
      servers: cp.urls,
      authenticator: credsAuthenticator(cp.enrollCreds),
      inboxPrefix: subjects.enrollInboxPrefix('hostile'),
    });
    try {
      const hostile: (string | Uint8Array)[] = [
        'not json',
        new Uint8Array([0xff, 0x00, 0xfe]),
        '{}',
        JSON.stringify({ v: 99, kind: 'enroll.request', ts: 1, body: {} }),
        encodeEnvelope('enroll.request', 1, {
          token: 'x',
          publicKey: 'SUAAAA',
          hostname: 'h',
          inventory: {},
        }),
        encodeEnvelope('enroll.request', 1, { token: 'x'.repeat(15_000) }),
      ];
      for (const h of hostile) {
        const r = decodeEnrollReply((await nc.request(subjects.enroll, h, { timeout: 3000 })).data);
        assert.ok(r.ok && !r.value.ok && r.value.error === 'invalid-request', JSON.stringify(r));
      }
      // Over the bootstrap user's payload cap: the server itself refuses it.
      await assert.rejects(nc.request(subjects.enroll, new Uint8Array(20_000), { timeout: 2000 }));
    } finally {
      await nc.close().catch(() => undefined);
    }
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
    assert.ok((await enrollAs('h', token)).ok, 'still enrols after hostile input');
  });

  test('a revoked node is cut off at once and cannot reconnect', async () => {
    const ncB = await connectAsNode(b, { servers: cp.urls, maxReconnectAttempts: 0 });
    const cutOff = firstServerError(ncB);
    const report = await cp.enrollment.revokeNode(b.nodeId);
    assert.match(await cutOff, /revoked/i);
    // It says what it did and where: the server acknowledged it and holds the revocation.
    const name = cp.servers[0]?.name;
    assert.equal(report.nodeId, b.nodeId);
    assert.match(report.publicKey, /^U[A-Z2-7]{55}$/);
    assert.ok(report.revokedAt * 1000 >= Date.now() - 10_000, String(report.revokedAt));
    assert.deepEqual(report.acks, [{ server: name, ok: true, message: 'jwt updated' }]);
    assert.deepEqual(report.servers, [{ server: name, inForce: true }]);
    await ncB.close().catch(() => undefined);
    await assert.rejects(connectAsNode(b, { servers: cp.urls, maxReconnectAttempts: 0 }), /authorization/i);
    // A is unaffected.
    const kv = await new Kvm(ncA).open(buckets.desired, { allow_direct: true });
    assert.ok(await kv.get(keys.desired(a.nodeId, 'com.acme.backup')));
  });

  test('no message published in the fleet account carries private key material', async () => {
    await cp.nc.flush();
    const secrets: string[] = [];
    for (const f of ['operator.nk', 'system.nk', 'account.nk']) {
      secrets.push((await readFile(join(cp.keyStore.dir, 'nats', f), 'utf8')).trim());
    }
    for (const k of cp.keyStore.signingKeys()) {
      const der = k.privateKey.export({ format: 'der', type: 'pkcs8' });
      const seed = der.subarray(der.length - 32);
      secrets.push(
        seed.toString('base64'),
        seed.toString('base64url'),
        seed.toString('hex'),
        der.toString('base64'),
      );
    }
    for (const id of [a, b]) {
      const creds = await readFile(id.credsPath, 'utf8');
      const seed = /-----BEGIN USER NKEY SEED-----\n(\S+)/.exec(creds)?.[1];
      assert.ok(seed?.startsWith('SU'));
      secrets.push(seed ?? '');
    }
    assert.ok(captured.length > 20, `captured ${captured.length} messages`);
    assert.ok(capturedSubjects.some((s) => s === subjects.enroll));
    const text = captured.map((d) => Buffer.from(d).toString('latin1')).join('\n');
    for (const s of secrets) assert.ok(!text.includes(s), 'private material found on the wire');
  });
  test('after a server restart with the controller stopped, the revoked node is refused at once', async () => {
    // Nothing re-pushes the revocation: the server reads it from its resolver directory.
    await cp.enrollment.stop();
    await cp.sys.close();
    await cp.servers[0]?.restart();
    await assert.rejects(connectAsNode(b, { servers: cp.urls, maxReconnectAttempts: 0 }), /authorization/i);
    // While A, not revoked, still gets in.
    const nc = await connectAsNode(a, { servers: cp.urls, maxReconnectAttempts: 0 });
    await nc.close();
  });
});
