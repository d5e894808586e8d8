import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountDetail, claimsUpdateOutcome, decodeServerApiReply } from './server-replies.ts';

test('a claims update accepted: the server named, ok with its message', () => {
  const r = decodeServerApiReply(
    JSON.stringify({ server: { name: 'nats-1', id: 'NABC' }, data: { code: 200, message: 'jwt updated' } }),
  );
  assert.equal(r?.server, 'nats-1');
  assert.deepEqual(claimsUpdateOutcome(r), { ok: true, message: 'jwt updated' });
});

test('a claims update refused: the error description, or the data message, is what it says', () => {
  const refused = decodeServerApiReply(
    JSON.stringify({ server: { id: 'NABC' }, error: { code: 500, description: 'not trusted' } }),
  );
  assert.equal(refused?.server, 'NABC', 'the id when the server has no name');
  assert.deepEqual(claimsUpdateOutcome(refused), { ok: false, message: 'not trusted' });
  const both = decodeServerApiReply(
    JSON.stringify({ server: { name: 's' }, data: { code: 200 }, error: { code: 500, description: 'x' } }),
  );
  assert.deepEqual(claimsUpdateOutcome(both!), { ok: false, message: 'x' }, 'an error wins over a 200');
  const notUpdated = decodeServerApiReply(
    JSON.stringify({ server: { name: 's' }, data: { code: 400, message: 'older jwt' } }),
  );
  assert.deepEqual(claimsUpdateOutcome(notUpdated!), { ok: false, message: 'older jwt' });
});

test('mistyped or missing fields are undefined, not defaults; not an object is no reply', () => {
  for (const raw of ['not json', '5', '[]', 'null']) assert.equal(decodeServerApiReply(raw), undefined, raw);
  const r = decodeServerApiReply(JSON.stringify({ server: { name: 7, id: '' }, data: [1], error: 'x' }));
  assert.deepEqual(r, {
    server: undefined,
    data: undefined,
    error: { code: undefined, description: undefined },
  });
  assert.deepEqual(claimsUpdateOutcome(r), { ok: false, message: undefined });
  assert.equal(
    claimsUpdateOutcome(decodeServerApiReply('{"data":{"code":"200"}}')!).ok,
    false,
    'a code as text is not 200',
  );
});

test('an ACCOUNTZ answer: the account JWT iat and the revocations in unix seconds; none without account_detail', () => {
  const r = decodeServerApiReply(
    JSON.stringify({
      server: { name: 'nats-2' },
      data: {
        account_detail: {
          decoded_jwt: { iat: 1700000000 },
          revoked_user: { UA: '2026-12-07T00:00:00Z', UB: 'not a time', UC: 12 },
        },
      },
    }),
  );
  assert.deepEqual(accountDetail(r!), { issuedAt: 1700000000, revoked: { UA: 1796601600 } });
  assert.equal(accountDetail(decodeServerApiReply('{"server":{"name":"s"},"data":{}}')!), undefined);
  assert.equal(
    accountDetail(decodeServerApiReply('{"server":{"name":"s"},"data":{"account_detail":{}}}')!),
    undefined,
  );
  assert.deepEqual(
    accountDetail(decodeServerApiReply('{"data":{"account_detail":{"decoded_jwt":{"iat":"1"}}}}')!),
    { issuedAt: undefined, revoked: {} },
  );
});
