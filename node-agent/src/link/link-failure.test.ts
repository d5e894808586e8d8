/**
 * The link loop's failures classified once, against the error objects nats.js itself raises,
 * made as its protocol handler makes them (`ProtocolHandler.toError` parses the server's -ERR
 * line). Against nats-server 2.10.27 with a wrong password, `connect` rejects with exactly
 * `AuthorizationError: Authorization Violation`, and a closed port with `ConnectionError:
 * connection refused` caused by ECONNREFUSED (checked by hand, 2026-12-06).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/transport-node';
import { TimeoutError } from '@launchfleet/shared/errors';
import { natsAuthorization } from './enroll.ts';
import { enrolmentError, linkFailure, linkFailureLine } from './link-failure.ts';

/** The error nats.js makes of a server's -ERR line (null when it is not that error). */
function parsed<T>(e: T | null): T {
  assert.ok(e, 'nats.js recognises the server error');
  return e;
}

/** How fleet-link.ts wraps a failed connect (the step that failed, the cause kept). */
const connectFailed = (cause: Error) => new Error(`connect: ${cause.message}`, { cause });

test('credentials NATS refuses are an authorization failure that needs a person, not "unavailable"', () => {
  const refused = connectFailed(parsed(natsErrors.AuthorizationError.parse('Authorization Violation')));
  const f = linkFailure(refused);
  assert.equal(f.kind, 'authorization');
  assert.equal(f.error.retryable, false);
  const { level, line } = linkFailureLine(f, refused.message, 22_500);
  assert.equal(level, 'error');
  assert.match(line, /NATS refused this node's credentials \(connect: Authorization Violation\)/);
  assert.match(line, /a person must act/);
  assert.match(line, /not retried for 23 s$/);
  assert.doesNotMatch(line, /unavailable|retrying with backoff/);
  const expired = connectFailed(
    parsed(natsErrors.UserAuthenticationExpiredError.parse('User Authentication Expired')),
  );
  assert.equal(linkFailure(expired).kind, 'authorization');
});

test('a broker that is down or slow is retried with backoff, as quietly as before', () => {
  const cases: Error[] = [
    connectFailed(
      new natsErrors.ConnectionError('connection refused', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4222'), { code: 'ECONNREFUSED' }),
      }),
    ),
    connectFailed(new natsErrors.TimeoutError()),
    new Error('session set-up: TIMEOUT', { cause: new natsErrors.TimeoutError() }),
    new TimeoutError('session set-up took longer than 15000 ms', 15_000),
    new natsErrors.ClosedConnectionError(),
    // The server's authentication window closed before a busy client (or server) finished the
    // handshake: nats.js says AuthorizationError, but nothing was refused. Read as a refusal it
    // made agents wait long, and ask for a person, in the middle of a broker-restart wave.
    connectFailed(parsed(natsErrors.AuthorizationError.parse('Authentication Timeout'))),
  ];
  for (const e of cases) {
    const f = linkFailure(e);
    assert.equal(f.kind, 'unavailable', e.message);
    assert.deepEqual(linkFailureLine(f, e.message, 999), {
      level: 'info',
      line: `no session (${e.message}); retrying with backoff`,
    });
  }
});

test('anything else is not a connection problem: said so, still retried with backoff', () => {
  const bug = linkFailure(new TypeError("Cannot read properties of undefined (reading 'x')"));
  assert.equal(bug.kind, 'terminal');
  assert.equal(linkFailureLine(bug, 'x', 999).level, 'warn');
  assert.match(linkFailureLine(bug, 'x', 999).line, /not a connection problem/);
});

test('enrolment failures: what NATS refused, what the controller refused, what did not answer', () => {
  const kind = (e: Parameters<typeof enrolmentError>[0]) => linkFailure(enrolmentError(e, 'm')).kind;
  assert.equal(kind({ kind: 'refused', reason: natsAuthorization, detail: 'NATS refused' }), 'authorization');
  assert.equal(kind({ kind: 'unreachable', reason: 'connect', detail: 'connection refused' }), 'unavailable');
  assert.equal(
    kind({ kind: 'refused', reason: 'internal', detail: 'busy: 200 enrolments in flight' }),
    'unavailable',
  );
  // A token the controller refuses needs a new token, but a person may write one any time: the
  // loop keeps its backoff (the re-enrolment of an expired node has its own pacing).
  assert.equal(kind({ kind: 'refused', reason: 'revoked-token', detail: 'revoked' }), 'terminal');
  assert.equal(kind({ kind: 'bad-reply', reason: 'jwt', detail: 'not bound' }), 'terminal');
});
