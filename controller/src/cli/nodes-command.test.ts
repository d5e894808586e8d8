import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsText } from './nodes-command.ts';

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
