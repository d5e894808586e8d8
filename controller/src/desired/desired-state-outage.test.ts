/**
 * What `jobs apply` and `jobs delete` tell a caller when the broker does not answer
 * (docs/fault-suite.md, fault-broker and fault-cluster): nothing was changed, when the service
 * knows its write was not sent, not stored, or never reached; "may or may not take effect" only
 * when a write may have been stored before its answer was lost. Driven through the service with a
 * scripted job bucket, and worded by api/status.ts as the CLI and the console show it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KV, KvEntry } from '@nats-io/kv';
import { errors as natsErrors } from '@nats-io/nats-core';
import { jserrors } from '@nats-io/jetstream/internal';
import { UnavailableError } from '@launchfleet/shared';
import { FakeClock } from '@launchfleet/shared/testing';
import { toServiceError } from '../api/status.ts';
import { DesiredStateService } from './desired-state-service.ts';
import { jobRecordJson } from './testing/fake-stores.ts';

const label = 'com.acme.outage';
const plist =
  `<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>${label}</string>` +
  '<key>ProgramArguments</key><array><string>/bin/true</string></array></dict></plist>';
const record = jobRecordJson({ label, plist, nodeIds: ['n1'], updatedAt: 1 });

/** The job bucket's answers: `get` and the record's write (create or update). */
interface Script {
  readonly stored?: boolean;
  readonly get?: () => Promise<KvEntry | null>;
  readonly write?: () => Promise<number>;
}

function service(script: Script, connected = true): DesiredStateService {
  const entry = { operation: 'PUT', revision: 5, string: () => record } as unknown as KvEntry;
  const jobs = {
    get: script.get ?? (() => Promise.resolve(script.stored ? entry : null)),
    create: script.write ?? (() => Promise.resolve(1)),
    update: script.write ?? (() => Promise.resolve(6)),
  } as unknown as KV;
  return new DesiredStateService({
    desired: {} as KV,
    index: {} as never,
    jobs,
    signingKey: () => assert.fail('nothing is signed before the job record is written'),
    candidates: () => [{ nodeId: 'n1', hostname: 'h1', labels: {}, registered: true, revoked: false }],
    clock: new FakeClock(),
    brokerConnected: () => connected,
  });
}

const apply = (s: DesiredStateService) =>
  s.apply({ plist, domain: 'system', target: { kind: 'all' }, by: 'op' });

/** The error `p` rejects with, and its details as a change call (the CLI's and console's words). */
async function failure(p: Promise<unknown>): Promise<{ e: UnavailableError; details: string }> {
  const e = await p.then(
    () => assert.fail('the call should fail'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof UnavailableError, String(e));
  return { e, details: toServiceError(e, false).details };
}

const noResponders = () =>
  new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
    cause: new natsErrors.RequestError('no responders', {
      cause: new natsErrors.NoRespondersError(`$KV.lf_jobs.${label}`),
    }),
  });

test('an apply whose write was not sent, not stored or never reached: nothing was changed, retry', async () => {
  const cases: [string, DesiredStateService, RegExp][] = [
    [
      'not connected',
      service({}, false),
      /writing the job record of com\.acme\.outage: the controller is not connected .*nothing was sent/,
    ],
    [
      'the read before the write timed out',
      service({ get: () => Promise.reject(new natsErrors.TimeoutError()) }),
      /reading the job record of com\.acme\.outage: timeout/,
    ],
    [
      'the write reached no stream (no quorum)',
      service({ write: () => Promise.reject(noResponders()) }),
      /writing the job record of com\.acme\.outage: no JetStream server answered .*the request reached no stream; retry/,
    ],
  ];
  for (const [what, s, inner] of cases) {
    const { e, details } = await failure(apply(s));
    assert.equal(e.changedNothing, true, what);
    assert.match(details, /^the message broker \(NATS\) did not answer \(/, what);
    assert.match(details, inner, what);
    assert.match(details, /; nothing was changed: retry once the broker is back$/, what);
    assert.doesNotMatch(details, /may or may not/, what);
  }
});

test('an apply whose write timed out may have been stored: "may or may not take effect", check first', async () => {
  for (const stored of [false, true]) {
    const { e, details } = await failure(
      apply(service({ stored, write: () => Promise.reject(new natsErrors.TimeoutError()) })),
    );
    assert.equal(e.changedNothing, false);
    assert.match(details, /did not answer \(writing the job record of com\.acme\.outage: timeout\)/);
    assert.match(details, /the change may or may not take effect once it is back: check .* before you retry/);
    assert.doesNotMatch(details, /nothing was changed/);
  }
});

test('a delete the broker did not answer before its first write changed nothing', async () => {
  for (const [what, s] of [
    ['the record could not be read', service({ get: () => Promise.reject(new natsErrors.TimeoutError()) })],
    ['not connected', service({ stored: true }, false)],
    [
      'the tombstone reached no stream',
      service({ stored: true, write: () => Promise.reject(noResponders()) }),
    ],
  ] as const) {
    const { e, details } = await failure(s.delete(label, 'op'));
    assert.equal(e.changedNothing, true, what);
    assert.match(details, /nothing was changed: retry/, what);
    assert.doesNotMatch(details, /may or may not/, what);
  }
  const timedOut = await failure(
    service({ stored: true, write: () => Promise.reject(new natsErrors.TimeoutError()) }).delete(label, 'op'),
  );
  assert.match(timedOut.details, /the change may or may not take effect/);
});
