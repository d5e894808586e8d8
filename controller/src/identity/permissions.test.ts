import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIdFromRandom } from '@launchfleet/shared/messages';
import { enrollPermissions, nodePermissions } from './permissions.ts';

const a = nodeIdFromRandom(new Uint8Array(13).fill(1));
const b = nodeIdFromRandom(new Uint8Array(13).fill(2));

/** NATS subject matching (`*` one token, `>` the rest). */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
const canPub = (id: string, subj: string) => nodePermissions(id).pub.allow.some((p) => matches(p, subj));
const canSub = (id: string, subj: string) => nodePermissions(id).sub.allow.some((p) => matches(p, subj));

test('a node may read only its own desired keys and the trust store', () => {
  assert.ok(canPub(a, `$JS.API.DIRECT.GET.KV_lf_desired.$KV.lf_desired.${a}.com_2Eacme`));
  assert.ok(canPub(a, `$JS.API.CONSUMER.CREATE.KV_lf_desired.oc_1.$KV.lf_desired.${a}.>`));
  assert.ok(canPub(a, '$JS.API.DIRECT.GET.KV_lf_trust.$KV.lf_trust.store'));
  assert.ok(!canPub(a, `$JS.API.DIRECT.GET.KV_lf_desired.$KV.lf_desired.${b}.com_2Eacme`));
  assert.ok(!canPub(a, `$JS.API.CONSUMER.CREATE.KV_lf_desired.oc_1.$KV.lf_desired.${b}.>`));
  assert.ok(!canPub(a, '$JS.API.CONSUMER.CREATE.KV_lf_desired.oc_1.$KV.lf_desired.>'));
  assert.ok(!canPub(a, '$JS.API.CONSUMER.CREATE.KV_lf_desired'));
  assert.ok(!canPub(a, '$JS.API.DIRECT.GET.KV_lf_desired'));
  assert.ok(!canPub(a, '$JS.API.STREAM.INFO.KV_lf_desired'));
  assert.ok(!canPub(a, '$JS.API.STREAM.MSG.GET.KV_lf_desired'));
  assert.ok(!canPub(a, '$JS.API.CONSUMER.DELETE.KV_lf_desired.x'));
});

test('a node follows the trust store by subscription only: no consumer on lf_trust', () => {
  assert.ok(canSub(a, '$KV.lf_trust.store'));
  for (const s of [
    '$JS.API.CONSUMER.CREATE.KV_lf_trust.oc_1.$KV.lf_trust.store',
    '$JS.API.CONSUMER.CREATE.KV_lf_trust.oc_1.$KV.lf_trust.>',
    '$JS.API.CONSUMER.CREATE.KV_lf_trust',
    '$JS.FC.KV_lf_trust.x.y',
    '$JS.API.DIRECT.GET.KV_lf_trust',
    '$JS.API.DIRECT.GET.KV_lf_trust.$KV.lf_trust.other',
    '$JS.API.STREAM.INFO.KV_lf_trust',
  ])
    assert.ok(!canPub(a, s), s);
  // The desired-state watch keeps its consumer and its flow control.
  assert.ok(canPub(a, '$JS.FC.KV_lf_desired.x.y'));
  // Exactly the trust key: no other key, no wildcard; and desired state by subscription only
  // under its own node id (a core subscriber on all of lf_desired would see every node's
  // bundles as they are put).
  for (const s of [
    '$KV.lf_trust.>',
    '$KV.lf_trust.*',
    '$KV.lf_trust.other',
    `$KV.lf_desired.${b}.com_2Eacme`,
    `$KV.lf_desired.${b}.>`,
    '$KV.lf_desired.>',
    '$KV.lf_desired.*.>',
    '$KV.>',
  ])
    assert.ok(!canSub(a, s), s);
  assert.ok(canSub(a, `$KV.lf_desired.${a}.com_2Eacme`));
  assert.ok(canSub(a, `$KV.lf_desired.${a}.>`));
});

test('a node may write only its own status, events and heartbeat, and ask to renew only its own credentials', () => {
  assert.ok(canPub(a, `$KV.lf_nodes.${a}.status`));
  assert.ok(canPub(a, `lf.events.${a}.bundle-refused`));
  assert.ok(canPub(a, `lf.hb.${a}`));
  assert.ok(canPub(a, `lf.renew.${a}`));
  for (const s of [
    `lf.renew.${b}`,
    'lf.renew.*',
    `lf.renew.${a}.x`,
    `$KV.lf_nodes.${b}.status`,
    `lf.events.${b}.bundle-refused`,
    'lf.events.controller.enroll-refused',
    `lf.hb.${b}`,
    `$KV.lf_desired.${a}.x`,
    '$KV.lf_trust.store',
    '$KV.lf_registry.x',
    'lf.enroll',
  ])
    assert.ok(!canPub(a, s), s);
});

test('a node subscribes only to its own inbox, its questions, the trust key and its desired keys', () => {
  assert.ok(canSub(a, `_I.${a}.abc`));
  assert.ok(canSub(a, `lf.q.${a}.ping`));
  for (const s of [
    `_I.${b}.abc`,
    `lf.q.${b}.ping`,
    '>',
    'lf.enroll',
    '_INBOX.x',
    `lf.events.${a}.x`,
    `lf.renew.${a}`,
  ])
    assert.ok(!canSub(a, s), s);
  assert.deepEqual(nodePermissions(a).resp, { max: 1, ttl: 10_000_000_000 });
});

test('the bootstrap user can only enrol', () => {
  const p = enrollPermissions();
  assert.deepEqual(p.pub.allow, ['lf.enroll']);
  assert.deepEqual(p.sub.allow, ['_E.>']);
  assert.equal(p.resp, undefined);
});
