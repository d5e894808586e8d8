import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { NotFoundError, UnavailableError } from '@launchfleet/shared';
import type { AuditRecord, AuditLog } from '../audit/audit-log.ts';
import { methodPolicy, rolloutMethodPolicy, type Role } from '../auth/core/roles.ts';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';
import type { FleetMetrics } from '../metrics/fleet-metrics.ts';
import { type CallPolicy, serviceImpl } from './grpc-methods.ts';
import { loadFleetProto, loadRolloutProto } from './proto.ts';

test('every method of each served service has a rule, and every rule a method', () => {
  for (const [proto, rules] of [
    [loadFleetProto(), methodPolicy],
    [loadRolloutProto(), rolloutMethodPolicy],
  ] as const) {
    assert.deepEqual(Object.keys(proto.service).sort(), Object.keys(rules).sort());
  }
});

type Obj = Record<string, unknown>;
type Callback = (e: ServiceError | null, res?: Obj) => void;

function harness(role: Role | undefined, fail?: Error) {
  const audit: AuditRecord[] = [];
  const observed: string[] = [];
  const policy: CallPolicy = {
    authenticate: () => {
      if (!role) throw new UnauthenticatedError('unknown API token');
      return { name: `t-${role}`, role };
    },
    audit: { record: (e: AuditRecord) => Promise.resolve(void audit.push(e)) } as unknown as AuditLog,
    metrics: {
      apiSeconds: {
        observe: (l: { method: string; code: string }) => observed.push(`${l.method}:${l.code}`),
      },
    } as unknown as FleetMetrics,
    clock: { wallMs: () => 1_000, monoMs: () => 0 } as unknown as CallPolicy['clock'],
    log: () => undefined,
  };
  const rules = {
    Change: { role: 'operator', audited: true, reads: false },
    Read: { role: 'viewer', audited: false, reads: true },
  } as const;
  const impl = serviceImpl(
    policy,
    rules,
    {
      Change: {
        unary: (req, ctx) =>
          fail ? Promise.reject(fail) : ((ctx.target = 'changed'), Promise.resolve({ ok: req['x'] })),
      },
      Read: { unary: () => Promise.reject(fail ?? new NotFoundError('job', 'j')) },
    },
    (m) => `${m}-target`,
  );
  const call = (method: 'Change' | 'Read', req: Obj) =>
    new Promise<{ e: ServiceError | null; res?: Obj }>((resolve) => {
      const fn = impl[method] as (c: unknown, cb: Callback) => void;
      fn({ metadata: new Metadata(), request: req }, (e, res) => resolve({ e, res }));
    });
  return { audit, observed, call };
}

test('an allowed call runs, is audited with the target the handler set, and is timed', async () => {
  const h = harness('admin');
  const r = await h.call('Change', { x: 7 });
  assert.equal(r.e, null);
  assert.deepEqual(r.res, { ok: 7 });
  assert.equal(h.audit.length, 1);
  assert.equal(h.audit[0]?.who, 't-admin');
  assert.equal(h.audit[0]?.target, 'changed');
  assert.equal(h.audit[0]?.outcome, 'OK');
  assert.deepEqual(h.observed, ['Change:OK']);
});

test('a role below the rule is refused, the refusal audited; an unaudited failure is not', async () => {
  const h = harness('viewer');
  const denied = await h.call('Change', {});
  assert.equal(denied.e?.code, status.PERMISSION_DENIED);
  assert.match(denied.e?.details ?? '', /Change needs the operator role; token t-viewer has viewer/);
  assert.equal(h.audit[0]?.outcome, 'PERMISSION_DENIED');
  assert.equal(h.audit[0]?.target, 'Change-target');
  const missing = await h.call('Read', {});
  assert.equal(missing.e?.code, status.NOT_FOUND);
  assert.equal(h.audit.length, 1, 'Read is not audited');
  assert.deepEqual(h.observed, ['Change:PERMISSION_DENIED', 'Read:NOT_FOUND']);
});

test('no token: UNAUTHENTICATED, audited as anonymous', async () => {
  const h = harness(undefined);
  const r = await h.call('Change', {});
  assert.equal(r.e?.code, status.UNAUTHENTICATED);
  assert.equal(h.audit[0]?.who, 'anonymous');
  assert.equal(h.audit[0]?.role, '');
});

test('the broker not answering: a read is told nothing was changed, a change that it may or may not take effect', async () => {
  const nats = await import('@nats-io/transport-node');
  const outage = new UnavailableError('reading rollout r1: timeout', { cause: new nats.TimeoutError() });
  const h = harness('admin', outage);
  const read = await h.call('Read', {});
  assert.equal(read.e?.code, status.UNAVAILABLE);
  assert.match(read.e?.details ?? '', /broker \(NATS\) did not answer \(reading rollout r1: timeout\)/);
  assert.match(read.e?.details ?? '', /nothing was changed/);
  assert.doesNotMatch(read.e?.details ?? '', /may or may not take effect/);
  const change = await h.call('Change', {});
  assert.equal(change.e?.code, status.UNAVAILABLE);
  assert.match(change.e?.details ?? '', /the change may or may not take effect/);
  assert.match(
    h.audit[0]?.detail ?? '',
    /the change may or may not take effect/,
    'the audit entry says the same',
  );
});

test('the broker not answering a change that wrote nothing: the caller and the audit entry say nothing was changed', async () => {
  const nats = await import('@nats-io/transport-node');
  const outage = new UnavailableError('reading the job record of com.acme.x: timeout', {
    cause: new nats.TimeoutError(),
    changedNothing: true,
  });
  const h = harness('admin', outage);
  const change = await h.call('Change', {});
  assert.equal(change.e?.code, status.UNAVAILABLE);
  assert.match(
    change.e?.details ?? '',
    /did not answer \(reading the job record of com\.acme\.x: timeout\); nothing was changed: retry/,
  );
  assert.doesNotMatch(change.e?.details ?? '', /may or may not take effect/);
  assert.match(h.audit[0]?.detail ?? '', /nothing was changed: retry/, 'the audit entry says the same');
});
