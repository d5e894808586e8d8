/**
 * The node status's `retrying` list (jobs the agent's reconciler is retrying) is additive: a
 * status without it (every agent before it) still decodes, and a status with it is read by a
 * reader that does not know the field, because readers skip fields they do not name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNodeStatus, encodeNodeStatus, type NodeStatus } from './node-messages.ts';
import { oldNodeStatus } from './fixtures/agent-0.1.0-messages.ts';

const status: NodeStatus = {
  nodeId: 'nqatdlb7irc6hjsefsfxu',
  health: 'ok',
  jobs: { 'com.acme.web': { subState: 'running', active: 'active', result: 'success' } },
  versions: { 'com.acme.web': '1' },
  retrying: [
    {
      domain: 'system',
      label: 'com.acme.full',
      failures: 3,
      why: 'load: ENOSPC',
      nextAttemptAt: 1_796_448_000_000,
    },
    { domain: 'gui/501', label: 'com.acme.ui', failures: 0, why: 'launchd-5' },
  ],
};

test('a status without retrying jobs (an old agent) decodes, with no retrying list', () => {
  const d = decodeNodeStatus(oldNodeStatus);
  assert.ok(d.ok, d.ok ? '' : d.error.detail);
  assert.equal(d.value.retrying, undefined);
});

test('the retrying jobs travel with why and the next attempt', () => {
  const d = decodeNodeStatus(encodeNodeStatus(status, 1));
  assert.ok(d.ok, d.ok ? '' : d.error.detail);
  assert.deepEqual(d.value.retrying, status.retrying);
});

test('a reader skips fields it does not know (how an older controller reads `retrying`)', () => {
  const body = JSON.parse(oldNodeStatus) as { body: Record<string, unknown> };
  body.body['someLaterField'] = [{ anything: true }];
  (body.body['details'] as Record<string, Record<string, unknown>>)['com.acme.web']!['later'] = 1;
  const d = decodeNodeStatus(JSON.stringify(body));
  assert.ok(d.ok, d.ok ? '' : d.error.detail);
  assert.equal(d.value.jobs['com.acme.web']?.subState, 'running');
});

test('a malformed retrying list is refused, named', () => {
  const bad = { ...status, retrying: [{ domain: 'system', label: 'x', failures: -1, why: 'w'.repeat(200) }] };
  const d = decodeNodeStatus(encodeNodeStatus(bad, 1));
  assert.ok(!d.ok);
  assert.match(d.error.detail, /body\.retrying\[0\]\.failures/);
  assert.match(d.error.detail, /body\.retrying\[0\]\.why must be at most 128 characters/);
});
