import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { changedNothing, natsError, natsNotStored } from '@launchfleet/shared/nats-errors';
import { InvalidArgumentError, UnavailableError } from '@launchfleet/shared';

test('NATS errors are classified once: who they are and whether a retry can help', () => {
  const auth = natsErrors.AuthorizationError.parse("'Authorization Violation'");
  const perm = natsErrors.PermissionViolationError.parse(
    '\'Permissions Violation for Publish to "lf.desired.x"\'',
  );
  // The server's handshake window closed (a busy client or server): nats.js calls it an
  // AuthorizationError, but nothing was refused.
  const authTimeout = natsErrors.AuthorizationError.parse("'Authentication Timeout'");
  assert.ok(authTimeout, 'nats.js parses the server error as an AuthorizationError');
  const cases: [unknown, string, boolean][] = [
    [auth, 'PermissionDenied', false],
    [authTimeout, 'Unavailable', true],
    [new Error('connect failed', { cause: authTimeout }), 'Unavailable', true],
    [new Error('request failed', { cause: perm }), 'PermissionDenied', false],
    [new natsErrors.TimeoutError(), 'Unavailable', true],
    [new natsErrors.NoRespondersError('$JS.API.INFO'), 'Unavailable', true],
    [new natsErrors.ClosedConnectionError(), 'Unavailable', true],
    [
      new JetStreamApiError({ code: 400, err_code: 10071, description: 'wrong last sequence: 4' }),
      'Conflict',
      false,
    ],
    [new TypeError('x is undefined'), 'Internal', false],
    // A write to a stream with no leader (a cluster without quorum): nats.js calls it "not enabled".
    [
      new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
        cause: new natsErrors.RequestError('no responders', {
          cause: new natsErrors.NoRespondersError('$KV.lf_jobs.x'),
        }),
      }),
      'Unavailable',
      true,
    ],
    // An account without JetStream says so in an API error: provisioning is missing.
    [
      new jserrors.JetStreamNotEnabled('jetstream not enabled for account', {
        cause: new JetStreamApiError({
          code: 503,
          err_code: 10039,
          description: 'jetstream not enabled for account',
        }),
      }),
      'FailedPrecondition',
      false,
    ],
  ];
  for (const [e, name, retryable] of cases) {
    const c = natsError(e, 'storing the rollout');
    assert.equal(c.name, name, String(e));
    assert.equal(c.retryable, retryable, String(e));
    assert.match(c.message, /^storing the rollout: /);
  }
  assert.match(natsError(auth, 'connecting').message, /NATS refused our credentials/);
  assert.match(natsError(authTimeout, 'connecting').message, /not refused credentials; retry$/);
  const own = new InvalidArgumentError('bad');
  assert.equal(natsError(own, 'x'), own, 'our own errors pass through');
});

test('JetStream API errors retrying cannot fix are not retryable; the others are', () => {
  const api = (code: number, err_code: number, description: string) =>
    new JetStreamApiError({ code, err_code, description });
  const cases: [unknown, string, boolean, RegExp][] = [
    // What we sent can never be stored as it is.
    [api(400, 10054, 'message size exceeds maximum allowed'), 'InvalidArgument', false, /max_msg_size/],
    [api(400, 10097, 'header size exceeds maximum allowed of 64k'), 'InvalidArgument', false, /headers/],
    [api(400, 10003, 'bad request'), 'InvalidArgument', false, /retrying cannot help/],
    // The stream or the account must change first.
    [
      api(400, 10058, 'stream name already in use with a different configuration'),
      'FailedPrecondition',
      false,
      /a person must act/,
    ],
    [
      api(500, 10052, 'duplicates window can not be larger then max age'),
      'FailedPrecondition',
      false,
      /configuration is not valid/,
    ],
    [api(400, 10109, 'invalid operation on sealed stream'), 'FailedPrecondition', false, /sealed/],
    [api(400, 10002, 'resource limits exceeded for account'), 'FailedPrecondition', false, /resource limits/],
    [
      api(503, 10077, 'maximum messages per subject exceeded'),
      'FailedPrecondition',
      false,
      /as many messages/,
    ],
    // A busy or leaderless cluster, or a store failure that may pass: retried with backoff.
    [api(503, 10077, 'maximum bytes exceeded'), 'Unavailable', true, /maximum bytes exceeded$/],
    [
      api(503, 10008, 'JetStream system temporarily unavailable'),
      'Unavailable',
      true,
      /temporarily unavailable$/,
    ],
    [
      api(500, 10009, 'JetStream cluster can not handle request'),
      'Unavailable',
      true,
      /can not handle request$/,
    ],
    // nats.js itself refuses a payload over the server's max_payload.
    [
      natsErrors.InvalidArgumentError.format('payload', 'max_payload size exceeded'),
      'InvalidArgument',
      false,
      /max_payload/,
    ],
  ];
  for (const [e, name, retryable, message] of cases) {
    const c = natsError(new Error('publish failed', { cause: e }), 'publishing an event');
    assert.equal(c.name, name, String(e));
    assert.equal(c.retryable, retryable, String(e));
    assert.match(c.message, /^publishing an event: /);
    assert.match(c.message, message);
  }
});

test('no responders means the request reached no stream; a timeout does not say so', () => {
  const noQuorum = new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
    cause: new natsErrors.RequestError('no responders', {
      cause: new natsErrors.NoRespondersError('$KV.lf_jobs.x'),
    }),
  });
  assert.equal(natsNotStored(noQuorum), true);
  assert.equal(natsNotStored(new natsErrors.NoRespondersError('$JS.API.INFO')), true);
  assert.equal(natsNotStored(new natsErrors.TimeoutError()), false, 'a timed-out write may be stored');
  assert.equal(natsNotStored(new natsErrors.ClosedConnectionError()), false);
  // Its words are about the request, not about the call it was part of.
  const c = natsError(noQuorum, 'writing the job record of x');
  assert.match(c.message, /no JetStream server answered .*: the request reached no stream; retry$/);
  assert.doesNotMatch(c.message, /change was not made/);
  assert.equal(
    (c as UnavailableError).changedNothing,
    false,
    'natsError does not know what the call wrote before',
  );
});

test('changedNothing marks an outage only, keeping its words and cause', () => {
  const timeout = new natsErrors.TimeoutError();
  const c = natsError(timeout, 'reading rollout r1');
  const marked = changedNothing(c);
  assert.ok(marked instanceof UnavailableError);
  assert.equal(marked.changedNothing, true);
  assert.equal(marked.message, c.message);
  assert.equal(marked.cause, timeout, 'the nats.js cause stays first in the chain');
  assert.equal(changedNothing(marked), marked);
  const own = new InvalidArgumentError('bad');
  assert.equal(changedNothing(own), own, 'not an outage: unchanged');
});
