import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapTokenPattern } from '@launchfleet/shared/messages';
import { newToken, parseTokenRecord, secretMatches, splitToken } from './bootstrap-token.ts';

test('tokens: shape, split, stored hash only', () => {
  const { token, record } = newToken(1000, 60_000, 2);
  assert.match(token, bootstrapTokenPattern);
  const parts = splitToken(token);
  assert.ok(parts);
  assert.equal(parts.id, record.id);
  assert.ok(!JSON.stringify(record).includes(parts.secret), 'record never holds the secret');
  assert.ok(secretMatches(parts.secret, record.hash));
  const flipped = `${parts.secret.slice(0, -1)}${parts.secret.endsWith('A') ? 'B' : 'A'}`;
  assert.ok(!secretMatches(flipped, record.hash));
  assert.equal(record.expiresAt, 61_000);
  assert.deepEqual(parseTokenRecord(JSON.stringify(record)), record);
});

test('tokens: hostile input is refused as a value', () => {
  for (const t of ['', 'lfbt_', 'lfbt_zz_yy', `lfbt_${'0'.repeat(16)}_${'a'.repeat(42)}`, 'x'.repeat(10_000)])
    assert.equal(splitToken(t), undefined, t.slice(0, 30));
  assert.equal(parseTokenRecord('not json'), undefined);
  assert.equal(parseTokenRecord('{"v":1}'), undefined);
  assert.ok(!secretMatches('x', 'nothex'));
});
