import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiTokenTable, addApiToken, newApiToken, parseApiTokens } from './api-tokens.ts';
import { allows, methodPolicy, roles } from './core/roles.ts';

test('roles: viewer reads, operator changes jobs, admin manages identities', () => {
  const want: Record<string, readonly string[]> = {
    viewer: ['ListJobs', 'GetJob', 'ListNodes', 'DescribeNode', 'JobHealth', 'WatchEvents'],
    operator: [
      'ListJobs',
      'GetJob',
      'ListNodes',
      'DescribeNode',
      'JobHealth',
      'WatchEvents',
      'ApplyJob',
      'DeleteJob',
    ],
    admin: Object.keys(methodPolicy),
  };
  for (const r of roles) {
    const got = (Object.keys(methodPolicy) as (keyof typeof methodPolicy)[]).filter((m) => allows(r, m));
    assert.deepEqual(got.sort(), [...(want[r] ?? [])].sort(), r);
  }
});

test('tokens: only the hash is stored; lookup finds the principal', () => {
  const { token, entry } = newApiToken('alice', 'operator');
  assert.match(token, /^lfat_[A-Za-z0-9_-]{43}$/);
  assert.ok(!JSON.stringify(entry).includes(token.slice(5)));
  const t = new ApiTokenTable([entry]);
  assert.deepEqual(t.lookup(token), { name: 'alice', role: 'operator' });
  assert.equal(t.lookup(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), undefined);
  assert.equal(t.lookup(''), undefined);
  assert.equal(t.lookup('x'.repeat(100_000)), undefined);
});

test('tokens file: bad entries are refused with the entry named; add keeps mode 0600', async () => {
  for (const [text, re] of [
    ['nope', /not valid JSON/],
    ['{}', /expected \{ "tokens"/],
    ['{"tokens":[{"name":"a","role":"root","sha256":"' + 'a'.repeat(64) + '"}]}', /tokens\[0\]\.role/],
    ['{"tokens":[{"name":"a b","role":"admin","sha256":"' + 'a'.repeat(64) + '"}]}', /tokens\[0\]\.name/],
    ['{"tokens":[{"name":"a","role":"admin","sha256":"xyz"}]}', /tokens\[0\]\.sha256/],
  ] as const)
    assert.throws(() => parseApiTokens(text, 'f.json'), re);
  const dir = await mkdtemp(join(tmpdir(), 'lf-tokens-'));
  try {
    const file = join(dir, 'tokens.json');
    const t1 = await addApiToken(file, 'ci', 'viewer');
    const t2 = await addApiToken(file, 'root', 'admin');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes(t1) && !text.includes(t2));
    const table = await ApiTokenTable.load(file);
    assert.equal(table.lookup(t1)?.role, 'viewer');
    assert.equal(table.lookup(t2)?.name, 'root');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
