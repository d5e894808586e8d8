import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import {
  ConflictError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  TimeoutError,
  UnavailableError,
} from '@launchfleet/shared';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';
import { brokerUnavailableKey, statusName, statusOf, toServiceError } from './status.ts';

test('every error class maps to its gRPC code', () => {
  const cases: [unknown, status][] = [
    [new InvalidArgumentError('bad', 'f'), status.INVALID_ARGUMENT],
    [new NotFoundError('job', 'x'), status.NOT_FOUND],
    [new ConflictError('c'), status.ABORTED],
    [new PermissionDeniedError('p'), status.PERMISSION_DENIED],
    [new UnauthenticatedError('u'), status.UNAUTHENTICATED],
    [new UnavailableError('n'), status.UNAVAILABLE],
    [new FailedPreconditionError('repair'), status.FAILED_PRECONDITION],
    [new TimeoutError('t', 5), status.DEADLINE_EXCEEDED],
    [new InternalError('i'), status.INTERNAL],
    [new TypeError('x is undefined'), status.INTERNAL],
    ['a string', status.INTERNAL],
  ];
  for (const [e, code] of cases) assert.equal(statusOf(e), code, String(e));
});

test('service errors keep domain messages and hide unexpected ones', () => {
  const se = toServiceError(new NotFoundError('job', 'com.acme.x'));
  assert.equal(se.code, status.NOT_FOUND);
  assert.equal(se.details, 'job not found: com.acme.x');
  const hidden = toServiceError(new TypeError('secret internals at /srv/x.js'));
  assert.equal(hidden.code, status.INTERNAL);
  assert.doesNotMatch(hidden.details, /secret/);
  assert.equal(statusName(status.PERMISSION_DENIED), 'PERMISSION_DENIED');
  assert.equal(statusName(status.OK), 'OK');
});

test('nats.js errors of a broker that does not answer are UNAVAILABLE, with a message that says so', async () => {
  const nats = await import('@nats-io/transport-node');
  for (const e of [
    new nats.TimeoutError(),
    new nats.ClosedConnectionError(),
    new nats.NoRespondersError('$JS.API.STREAM.INFO.x'),
    new nats.RequestError('no answer'),
  ]) {
    assert.equal(statusOf(e), status.UNAVAILABLE, e.name);
    assert.match(toServiceError(e).details, /message broker \(NATS\) did not answer .*retry/);
    assert.deepEqual(toServiceError(e).metadata.get(brokerUnavailableKey), ['1']);
  }
  // The same once classified (natsError): still the broker's fault, still marked for the CLI.
  const classified = new UnavailableError('reading the job record of com.acme.x: timeout', {
    cause: new nats.TimeoutError(),
  });
  assert.match(
    toServiceError(classified).details,
    /message broker \(NATS\) did not answer \(reading the job record.*retry/,
  );
  assert.deepEqual(toServiceError(classified).metadata.get(brokerUnavailableKey), ['1']);
  // An UnavailableError of our own (contention) keeps its words and no broker mark.
  const own = new UnavailableError('could not revoke token t: too much contention, retry');
  assert.equal(toServiceError(own).details, own.message);
  assert.deepEqual(toServiceError(own).metadata.get(brokerUnavailableKey), []);
  // A nats.js permission error is a bug of ours, not an outage.
  assert.equal(statusOf(new nats.PermissionViolationError('x', 'publish', 'lf.x')), status.INTERNAL);
});

test('a read the broker did not answer says nothing was changed; a change keeps "may or may not take effect"', async () => {
  const nats = await import('@nats-io/transport-node');
  for (const e of [
    new nats.TimeoutError(),
    new UnavailableError('reading rollout r1: timeout', { cause: new nats.TimeoutError() }),
  ]) {
    const read = toServiceError(e, true);
    assert.equal(read.code, status.UNAVAILABLE, e.name);
    assert.match(read.details, /message broker \(NATS\) did not answer .*nothing was changed: retry/);
    assert.doesNotMatch(read.details, /may or may not take effect/);
    assert.deepEqual(read.metadata.get(brokerUnavailableKey), ['1']);
    assert.match(toServiceError(e).details, /the change may or may not take effect/, 'a change by default');
    assert.match(toServiceError(e, false).details, /the change may or may not take effect/);
  }
  // Other errors read the same whatever the call.
  const own = new UnavailableError('could not revoke token t: too much contention, retry');
  assert.equal(toServiceError(own, true).details, own.message);
});

test('a change the service knows wrote nothing says nothing was changed, not "may or may not take effect"', async () => {
  const nats = await import('@nats-io/transport-node');
  const notSent = new UnavailableError(
    'writing the job record of com.acme.x: the controller is not connected to the message broker (NATS) right now; nothing was sent; retry',
    { cause: Object.assign(new Error('not connected'), { name: 'ConnectionError' }), changedNothing: true },
  );
  const readFirst = new UnavailableError('reading the job record of com.acme.x: timeout', {
    cause: new nats.TimeoutError(),
    changedNothing: true,
  });
  for (const e of [notSent, readFirst]) {
    const change = toServiceError(e, false);
    assert.equal(change.code, status.UNAVAILABLE);
    assert.equal(
      change.details,
      `the message broker (NATS) did not answer (${e.message}); nothing was changed: retry once the broker is back`,
    );
    assert.deepEqual(change.metadata.get(brokerUnavailableKey), ['1']);
    // A read says it only reads, as before.
    assert.match(toServiceError(e, true).details, /this call only reads, nothing was changed/);
  }
  // Unmarked, the same outage may have stored the write: the caller is told to check first.
  const unknown = new UnavailableError(readFirst.message, { cause: new nats.TimeoutError() });
  assert.equal(unknown.changedNothing, false, 'unknown unless said');
  assert.match(toServiceError(unknown).details, /the change may or may not take effect/);
  // The mark words only an outage: our own UnavailableError keeps its message.
  const own = new UnavailableError('could not revoke token t: too much contention, retry', {
    changedNothing: true,
  });
  assert.equal(toServiceError(own).details, own.message);
});
