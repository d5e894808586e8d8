import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeLabelToken, encodeLabelToken, isNodeId, nodeIdFromRandom } from './tokens.ts';
import { keys, subjects } from './names.ts';

test('label tokens: readable for reverse-DNS labels and free of subject/KV metacharacters', () => {
  assert.equal(encodeLabelToken('com.acme.backup'), 'com_2Eacme_2Ebackup');
  assert.equal(encodeLabelToken('a_b'), 'a_5Fb');
  for (const hostile of ['a.b', 'x*y', 'x>y', 'sp ace', 'tab\t', '../etc', 'ü名', 'a/b=c']) {
    const t = encodeLabelToken(hostile);
    assert.match(t, /^[A-Za-z0-9_-]+$/, hostile);
    const back = decodeLabelToken(t);
    if (hostile === 'tab\t') assert.equal(back.ok, false, 'control characters are refused on decode');
    else assert.deepEqual(back, { ok: true, value: hostile });
  }
});

test('label tokens: encode/decode round-trips and is injective (property)', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }), (label) => {
      // eslint-disable-next-line no-control-regex
      fc.pre(!/[\u0000-\u001f\u007f]/.test(label));
      const t = encodeLabelToken(label);
      assert.match(t, /^[A-Za-z0-9_-]+$/);
      assert.deepEqual(decodeLabelToken(t), { ok: true, value: label });
    }),
  );
});

test('label tokens: hostile tokens are refused as values, not exceptions', () => {
  for (const bad of ['', 'a.b', 'a_2', 'a_zz', 'a_41' /* "A" must be plain */, '_FF_FE', 'a b', '>', '*']) {
    const r = decodeLabelToken(bad);
    assert.equal(r.ok, false, bad);
  }
  assert.equal(decodeLabelToken('x'.repeat(300)).ok, false, 'longer than 255 bytes');
});

test('node ids: generated ids match the pattern and are single tokens', () => {
  const id = nodeIdFromRandom(new Uint8Array(16).fill(255));
  assert.equal(id, `n${'7'.repeat(20)}`);
  assert.ok(isNodeId(nodeIdFromRandom(new Uint8Array(13))));
  assert.ok(!isNodeId('controller'));
  assert.ok(!isNodeId('nAAAAAAAAAAAAAAAAAAAA'));
  assert.ok(!isNodeId('n.aaaaaaaaaaaaaaaaaaa'));
  assert.ok(!isNodeId(42));
  assert.throws(() => nodeIdFromRandom(new Uint8Array(3)), RangeError);
});

test('names: per-node keys and subjects start with the node id', () => {
  const n = nodeIdFromRandom(new Uint8Array(13).fill(7));
  assert.equal(keys.desired(n, 'com.acme.x'), `${n}.com_2Eacme_2Ex`);
  assert.equal(keys.desiredOf(n), `${n}.>`);
  assert.equal(subjects.event(n, 'bundle-refused'), `lf.events.${n}.bundle-refused`);
  assert.equal(subjects.nodeInboxPrefix(n), `_I.${n}`);
});
