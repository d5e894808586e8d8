import assert from 'node:assert/strict';
import { test } from 'node:test';
import { denyReason, scopeName, type Scope } from './authorization.ts';
import type { ControlMethod } from './wire.ts';

const root: Scope = { kind: 'owner', uid: 0 };
const alice: Scope = { kind: 'user', uid: 1001 };
const pub: Scope = { kind: 'public' };
const system = { kind: 'system' } as const;
const guiA = { kind: 'gui', uid: 1001 } as const;
const userA = { kind: 'user', uid: 1001 } as const;
const guiB = { kind: 'gui', uid: 1002 } as const;

test('the owner socket may do everything', () => {
  for (const m of ['Bootstrap', 'Kill', 'PrintService', 'Load'] as ControlMethod[])
    for (const d of [system, guiA, guiB, undefined]) assert.equal(denyReason(root, m, d), undefined);
});

test('a user may modify only their own gui and user domains, and only read the system domain', () => {
  for (const m of ['Bootstrap', 'Bootout', 'Kill', 'Enable', 'Kickstart', 'Stop'] as ControlMethod[]) {
    assert.equal(denyReason(alice, m, guiA), undefined);
    assert.equal(denyReason(alice, m, userA), undefined);
    assert.match(denyReason(alice, m, guiB) ?? '', /uid 1001 may not act on the domains of uid 1002/);
    assert.match(denyReason(alice, m, system) ?? '', /root privileges/);
  }
  for (const m of ['PrintService', 'PrintDomain', 'PrintDisabled', 'List', 'Blame'] as ControlMethod[]) {
    assert.equal(denyReason(alice, m, system), undefined);
    assert.ok(denyReason(alice, m, guiB), `${m} of another user's domain is refused`);
  }
});

test('the public socket reads the system domain and nothing else', () => {
  assert.equal(denyReason(pub, 'List', system), undefined);
  assert.equal(denyReason(pub, 'Version', undefined), undefined);
  assert.ok(denyReason(pub, 'List', guiA));
  assert.ok(denyReason(pub, 'Kickstart', system));
  assert.ok(denyReason(pub, 'Load', undefined));
});

test('scope names', () => {
  assert.equal(scopeName(root), 'root');
  assert.equal(scopeName({ kind: 'owner', uid: 1000 }), 'owner/1000');
  assert.equal(scopeName(alice), 'user/1001');
  assert.equal(scopeName(pub), 'public');
});
