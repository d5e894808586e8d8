import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { natsError } from '@launchfleet/shared/nats-errors';
import { InvalidArgumentError } from '@launchfleet/shared';

test('NATS errors are classified once: who they are and whether a retry can help', () => {
  const auth = natsErrors.AuthorizationError.parse("'Authorization Violation'");
  const perm = natsErrors.PermissionViolationError.parse(
    '\'Permissions Violation for Publish to "lf.desired.x"\'',
  );
  const cases: [unknown, string, boolean][] = [
    [auth, 'PermissionDenied', false],
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
  ];
  for (const [e, name, retryable] of cases) {
    const c = natsError(e, 'storing the rollout');
    assert.equal(c.name, name, String(e));
    assert.equal(c.retryable, retryable, String(e));
    assert.match(c.message, /^storing the rollout: /);
  }
  assert.match(natsError(auth, 'connecting').message, /NATS refused our credentials/);
  const own = new InvalidArgumentError('bad');
  assert.equal(natsError(own, 'x'), own, 'our own errors pass through');
});
