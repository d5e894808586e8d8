import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope } from './envelope.ts';
import { decodeEnrollReply, decodeEnrollRequest, encodeEnrollRequest } from './enroll.ts';
import { decodeHeartbeat, decodeNodeEvent, decodeNodeStatus, encodeNodeEvent } from './node-messages.ts';

const pub = `U${'A'.repeat(55)}`;
const node = `n${'a'.repeat(20)}`;

test('envelope: round trip and every refusal is a value', () => {
  const e = decodeEnvelope(encodeEnvelope('x.y', 5, { a: 1 }), 'x.y');
  assert.deepEqual(e, { ok: true, value: { v: 1, kind: 'x.y', ts: 5, body: { a: 1 } } });
  const cases: [Uint8Array | string, string][] = [
    ['not json', 'malformed'],
    [new Uint8Array([0xff, 0xfe, 0x00]), 'malformed'],
    ['[]', 'malformed'],
    ['null', 'malformed'],
    ['{"v":2,"kind":"x.y","ts":1,"body":{}}', 'unsupported-version'],
    ['{"v":1,"kind":"z","ts":1,"body":{}}', 'wrong-kind'],
    ['{"v":1,"kind":"x.y","body":{}}', 'malformed'],
    ['{"v":1,"kind":"x.y","ts":1}', 'malformed'],
    [`{"v":1,"kind":"x.y","ts":1,"body":"${'a'.repeat(70_000)}"}`, 'oversized'],
  ];
  for (const [data, code] of cases) {
    const r = decodeEnvelope(data, 'x.y');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.code, code, String(data).slice(0, 40));
  }
});

test('enroll request: valid, and each bad field is named', () => {
  const good = { token: 'lfbt_x', publicKey: pub, hostname: 'mac-01.local', inventory: { os: 'linux' } };
  assert.deepEqual(decodeEnrollRequest(encodeEnrollRequest(good, 1)), { ok: true, value: good });
  const bad = decodeEnrollRequest(
    encodeEnvelope('enroll.request', 1, {
      token: 5,
      publicKey: 'SU...',
      hostname: 'a b',
      inventory: { k: 7 },
    }),
  );
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    for (const f of ['token', 'publicKey', 'hostname', 'inventory'])
      assert.match(bad.error.detail, new RegExp(f));
  }
  const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v']));
  assert.equal(
    decodeEnrollRequest(encodeEnvelope('enroll.request', 1, { ...good, inventory: many })).ok,
    false,
  );
});

test('enroll reply: ok and refusal forms; a non-node id is refused', () => {
  const ok = { ok: true, nodeId: node, jwt: 'a.b.c', trustStore: '{}' };
  assert.deepEqual(decodeEnrollReply(encodeEnvelope('enroll.reply', 1, ok)), { ok: true, value: ok });
  assert.equal(
    decodeEnrollReply(encodeEnvelope('enroll.reply', 1, { ...ok, nodeId: 'controller' })).ok,
    false,
  );
  const no = { ok: false, error: 'bad-token', message: 'no' };
  assert.deepEqual(decodeEnrollReply(encodeEnvelope('enroll.reply', 1, no)), { ok: true, value: no });
  assert.equal(decodeEnrollReply(encodeEnvelope('enroll.reply', 1, { ok: false, error: 'nope' })).ok, false);
});

test('node messages: status, heartbeat and events validate', () => {
  const ev = { source: node, kind: 'bundle-refused' as const, label: 'com.x', reason: 'expired', version: 3 };
  assert.deepEqual(decodeNodeEvent(encodeNodeEvent(ev, 1)), { ok: true, value: ev });
  assert.equal(decodeNodeEvent(encodeEnvelope('node.event', 1, { ...ev, source: 'n.*' })).ok, false);
  assert.equal(decodeNodeEvent(encodeEnvelope('node.event', 1, { ...ev, kind: 'boom' })).ok, false);
  assert.equal(
    decodeHeartbeat(encodeEnvelope('node.heartbeat', 1, { nodeId: node, seq: -1, health: 'ok' })).ok,
    false,
  );
  assert.equal(
    decodeNodeStatus(encodeEnvelope('node.status', 1, { nodeId: node, health: 'ok', jobs: {}, versions: {} }))
      .ok,
    true,
  );
});

test('decoders never throw on arbitrary input (property)', () => {
  const decoders = [
    decodeEnrollRequest,
    decodeEnrollReply,
    decodeNodeEvent,
    decodeNodeStatus,
    decodeHeartbeat,
  ];
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string(), fc.uint8Array({ maxLength: 200 })), (input) => {
      for (const d of decoders) {
        const r = d(input);
        assert.equal(typeof r.ok, 'boolean');
      }
    }),
  );
  fc.assert(
    fc.property(fc.anything(), (body) => {
      for (const kind of ['enroll.request', 'enroll.reply', 'node.event', 'node.status', 'node.heartbeat']) {
        let bytes: Uint8Array;
        try {
          bytes = encodeEnvelope(kind, 1, body);
        } catch {
          return; // not JSON-encodable (bigint, cycles): never reaches the wire
        }
        for (const d of decoders) assert.equal(typeof d(bytes).ok, 'boolean');
      }
    }),
  );
});

test("a job-loaded event carries the job's settled state (additive); a bad one is refused", () => {
  const node = 'n' + 'b'.repeat(20);
  const base = { source: node, kind: 'job-loaded' as const, label: 'com.x', reason: 'updated', version: 2 };
  const withState = {
    ...base,
    jobState: { subState: 'running', active: 'active', result: 'success' } as const,
  };
  assert.deepEqual(decodeNodeEvent(encodeNodeEvent(withState, 1)), { ok: true, value: withState });
  // An older agent's job-loaded has no state, and reads as before.
  assert.deepEqual(decodeNodeEvent(encodeNodeEvent(base, 1)), { ok: true, value: base });
  const bad = { ...base, jobState: { subState: 'running', active: 'failed', result: 'crash' } };
  assert.equal(decodeNodeEvent(encodeEnvelope('node.event', 1, bad)).ok, false);
});
