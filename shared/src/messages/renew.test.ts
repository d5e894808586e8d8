import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEnvelope } from './envelope.ts';
import {
  decodeRenewReply,
  decodeRenewRequest,
  encodeRenewReply,
  encodeRenewRequest,
  renewSigningPayload,
  renewSubjectNodeId,
} from './renew.ts';

const nodeId = 'n' + 'a'.repeat(20);
const publicKey = 'U' + 'A'.repeat(55);
const signature = 'A'.repeat(86);

test('a renewal request round-trips; malformed ones are refused with every problem named', () => {
  const r = { nodeId, publicKey, requestedAt: 1234, signature };
  assert.deepEqual(decodeRenewRequest(encodeRenewRequest(r, 1)), { ok: true, value: r });
  const bad = decodeRenewRequest(
    encodeEnvelope('renew.request', 1, { nodeId: 'x', publicKey: 'SU', requestedAt: -1, signature: 'short' }),
  );
  assert.equal(bad.ok, false);
  if (!bad.ok)
    for (const f of ['nodeId', 'publicKey', 'requestedAt', 'signature'])
      assert.match(bad.error.detail, new RegExp(f));
  assert.equal(decodeRenewRequest('x'.repeat(5000)).ok, false, 'oversized');
});

test('replies round-trip; an unknown refusal is refused', () => {
  const ok = { ok: true as const, jwt: 'a.b.c', expiresAt: 5 };
  assert.deepEqual(decodeRenewReply(encodeRenewReply(ok, 1)), { ok: true, value: ok });
  const no = { ok: false as const, error: 'replayed' as const, message: 'm' };
  assert.deepEqual(decodeRenewReply(encodeRenewReply(no, 1)), { ok: true, value: no });
  assert.equal(
    decodeRenewReply(encodeEnvelope('renew.reply', 1, { ok: false, error: 'other', message: '' })).ok,
    false,
  );
});

test('the signed bytes name the context, the node, the key and the time', () => {
  const text = new TextDecoder().decode(renewSigningPayload({ nodeId, publicKey, requestedAt: 7 }));
  assert.equal(text, `launchfleet.renew.v1\n${nodeId}\n${publicKey}\n7`);
});

test('the node id of a renewal subject', () => {
  assert.equal(renewSubjectNodeId(`lf.renew.${nodeId}`), nodeId);
  for (const s of ['lf.renew.x', `lf.renew.${nodeId}.more`, `lf.enroll.${nodeId}`])
    assert.equal(renewSubjectNodeId(s), undefined, s);
});
