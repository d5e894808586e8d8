import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsText, retryWhen } from './nodes-command.ts';

test('nodes describe: the credentials line names the key that signed them (what a key rotation checks)', () => {
  const exp = Date.now() + 3_600_000;
  const line = credentialsText(
    { credentialsExpireAtMs: String(exp) },
    { credentialsIssuedAtMs: String(Date.now()), credentialRenewals: 2, credentialsIssuer: 'AKEY' },
  );
  assert.match(line, /^expire .*renewed 2 times, signed by AKEY; the agent renews them before\)$/);
  assert.doesNotMatch(
    credentialsText(
      { credentialsExpireAtMs: String(exp) },
      { credentialsIssuedAtMs: '1', credentialsIssuer: '' },
    ),
    /signed by/,
  );
});

test('nodes describe: a job the node is retrying says how often it failed and when it tries next', () => {
  const now = 1_800_000_000_000;
  assert.match(
    retryWhen({ failures: 3, nextAttemptAtMs: String(now + 8000) }, now),
    /^failed 3 times in a row; next attempt in 8s \(.+\)$/,
  );
  assert.equal(
    retryWhen({ failures: 1, nextAttemptAtMs: 0 }, now),
    'failed 1 time in a row; being tried now',
  );
  assert.match(retryWhen({ failures: 0, nextAttemptAtMs: now - 5 }, now), /^next attempt due now \(/);
});
