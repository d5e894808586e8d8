import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDesiredIndex, encodeDesiredIndex, maxIndexedLabels } from './desired-index.ts';
import { encodeEnvelope } from './envelope.ts';
import { encodeLabelToken } from './tokens.ts';

describe('desired-state index', () => {
  test('round-trips sorted tokens without repeats', () => {
    const a = encodeLabelToken('com.acme.b');
    const b = encodeLabelToken('com.acme.a');
    const d = decodeDesiredIndex(encodeDesiredIndex({ tokens: [a, b, a] }, 1));
    assert.ok(d.ok);
    assert.deepEqual(d.value.tokens, [b, a].sort());
  });

  test('the index segment can never be a label token', () => {
    const d = decodeDesiredIndex(encodeEnvelope('desired.index', 1, { tokens: ['_index'] }));
    assert.ok(!d.ok);
    assert.match(d.error.detail, /bad label token/);
  });

  test('refuses what it cannot trust: wrong kind, not an array, too many entries, not JSON', () => {
    assert.ok(!decodeDesiredIndex(encodeEnvelope('node.status', 1, { tokens: [] })).ok);
    assert.ok(!decodeDesiredIndex(encodeEnvelope('desired.index', 1, { tokens: 'x' })).ok);
    const many = Array.from({ length: maxIndexedLabels + 1 }, (_, i) => `l${i}`);
    const big = decodeDesiredIndex(encodeEnvelope('desired.index', 1, { tokens: many }));
    assert.ok(!big.ok);
    assert.match(big.error.detail, /more than/);
    assert.ok(!decodeDesiredIndex('{not json').ok);
  });
});
