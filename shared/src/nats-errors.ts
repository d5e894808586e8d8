/**
 * Errors from NATS, classified once where they enter our code (nats.js `errors.ts`): every
 * store, watcher and request that calls the NATS client passes what it caught through
 * `natsError`, and from then on only the closed set of errors.ts travels, with its `retryable`
 * mark:
 *
 * | from nats.js                                         | becomes                 | retried? |
 * | ---------------------------------------------------- | ----------------------- | -------- |
 * | AuthorizationError, UserAuthenticationExpiredError   | PermissionDeniedError   | no: the credentials are refused; say so |
 * | AuthorizationError "Authentication Timeout"          | UnavailableError        | yes, with backoff (see below)          |
 * | PermissionViolationError                             | PermissionDeniedError   | no: terminal for that subject          |
 * | JetStreamNotEnabled, StreamNotFound (a missing bucket) | FailedPreconditionError | no: provisioning is missing          |
 * | JetStreamNotEnabled made by nats.js from "no responders" | UnavailableError      | yes: see below                         |
 * | JetStream API "wrong last sequence"                  | ConflictError           | by the caller's compare-and-set loop   |
 * | JetStream API errors retrying cannot fix (`jsRefusals`): what we sent can never be stored as it is (too large, bad request) | InvalidArgumentError | no |
 * | ... or the stream or account must change first (its configuration, a sealed stream, per-subject or account limits) | FailedPreconditionError | no: a person must act |
 * | TimeoutError, NoResponders, ConnectionError, ClosedConnection, Draining, RequestError, ProtocolError, other JetStream errors | UnavailableError | yes, with backoff |
 * | nats.js refusing a payload over the server's max_payload before sending it | InvalidArgumentError | no |
 * | anything else that is not a Launchfleet error        | InternalError           | no: a bug                              |
 *
 * nats.js turns "no responders" on a JetStream publish or API request into JetStreamNotEnabled
 * ("jetstream is not enabled"). On a cluster that has lost its quorum that is what a write gets:
 * the stream has no leader to answer, and a retry once the servers are back succeeds. An account
 * without JetStream says so in a JetStream API error (code 10039), which stays a precondition.
 * (Found by test/src/integration/fault-cluster.test.ts; docs/fault-suite.md.)
 *
 * nats.js also makes an AuthorizationError of the server's "Authentication Timeout": the client
 * did not finish its handshake (CONNECT with the nonce's signature) within the server's
 * authorization window (2 s by default). Nothing was refused: a client or a server too busy at
 * that moment (a fleet reconnecting after a broker restart) gets it, and the next attempt
 * usually succeeds. Read as a refusal it made agents say "a person must act" and wait long
 * between attempts in the middle of a reconnect wave (found by the 10,000-agent benchmark,
 * test/bench/FLEET-RESULTS.md).
 *
 * Classified by the errors' `name` along the `cause` chain, so this module needs no NATS
 * dependency and works across copies of the client library.
 */
import {
  ConflictError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  LaunchfleetError,
  PermissionDeniedError,
  UnavailableError,
  messageOf,
} from './errors.ts';

/** nats.js's "503 no responders" (its class NoRespondersError sets the name `NoResponders`): either name. */
const noRespondersNames: ReadonlySet<string> = new Set(['NoResponders', 'NoRespondersError']);

const unavailable = new Set([
  'TimeoutError',
  ...noRespondersNames,
  'ConnectionError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'RequestError',
  'ProtocolError',
  'JetStreamError',
  'JetStreamStatusError',
  'JetStreamApiError',
  'ConsumerNotFoundError',
]);

/**
 * JetStream API errors that retrying cannot fix, by their `err_code` (nats-server's
 * server/errors.json): `argument`, what we sent can never be stored as it is; `precondition`,
 * the stream or the account must change first (a person acts). Every other JetStream API
 * error stays Unavailable (retried with backoff): most are a cluster busy or without a leader.
 */
const jsRefusals: ReadonlyMap<number, { readonly why: string; readonly as: 'argument' | 'precondition' }> =
  new Map([
    [10054, { why: 'the message is larger than the stream allows (its max_msg_size)', as: 'argument' }],
    [10097, { why: 'the headers are larger than JetStream allows (64 KiB)', as: 'argument' }],
    [10003, { why: 'JetStream calls the request bad', as: 'argument' }],
    [10025, { why: 'JetStream could not parse the request', as: 'argument' }],
    [10056, { why: 'the stream name in the subject does not match the request', as: 'argument' }],
    [10060, { why: 'the stream is not the one the request expected', as: 'precondition' }],
    [10058, { why: 'a stream of that name exists with another configuration', as: 'precondition' }],
    [10052, { why: 'the stream configuration is not valid', as: 'precondition' }],
    [10109, { why: 'the stream is sealed', as: 'precondition' }],
    [10002, { why: "the account's JetStream resource limits are used up", as: 'precondition' }],
    [10027, { why: 'the account has as many streams as it may', as: 'precondition' }],
    [10113, { why: 'the account requires every stream to set max bytes', as: 'precondition' }],
    [10122, { why: "the stream's max bytes is over the account's limit", as: 'precondition' }],
  ]);

/** The generic "storing failed" code (10077): one of its messages is a limit no retry passes. */
const jsStoreFailed = 10077;

/**
 * The refusal `c` (a JetStream API error) stands for, if retrying cannot fix it. A store failure
 * for a subject's message limit (a stream that discards new messages per subject) is one: the
 * subject must be cleared first.
 */
function jsRefusal(
  c: Error & { code?: unknown },
): { why: string; as: 'argument' | 'precondition' } | undefined {
  if (typeof c.code !== 'number') return undefined;
  if (c.code === jsStoreFailed && /maximum messages per subject exceeded/i.test(c.message))
    return { why: 'the subject holds as many messages as the stream allows', as: 'precondition' };
  return jsRefusals.get(c.code);
}

/** The NATS error of interest along the cause chain (the most specific first), if any. */
function natsCause(e: unknown): (Error & { code?: unknown }) | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    if (c.name === 'AuthorizationError' || c.name === 'UserAuthenticationExpiredError') return c;
    if (c.name === 'PermissionViolationError') return c;
  }
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++)
    if (c.name === 'JetStreamNotEnabled' || c.name === 'StreamNotFoundError' || unavailable.has(c.name))
      return c;
  return undefined;
}

/** The server closed the handshake for taking too long, which nats.js reports as an AuthorizationError. */
function authenticationTimeout(c: Error): boolean {
  return /authentication timeout/i.test(c.message);
}

/** nats.js refused to send a payload over the server's max_payload (its own InvalidArgumentError). */
function payloadTooLarge(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++)
    if (c.name === 'InvalidArgumentError' && /max_payload/i.test(c.message)) return true;
  return false;
}

/** True when nats.js made `e` out of a request nobody answered (503 no responders). */
function noResponders(e: Error): boolean {
  return causedBy(e.cause, noRespondersNames);
}

/**
 * What `e`, caught while `doing` something over NATS ("storing the rollout"), means for us.
 * A Launchfleet error passes through unchanged.
 */
export function natsError(e: unknown, doing: string): LaunchfleetError {
  if (e instanceof LaunchfleetError) return e;
  const c = natsCause(e);
  const what = `${doing}: ${messageOf(c ?? e)}`;
  // Before the table: the one AuthorizationError that is not a refusal (see the header).
  if (c?.name === 'AuthorizationError' && authenticationTimeout(c))
    return new UnavailableError(
      `${doing}: the server's authentication window closed before our handshake finished ` +
        `(${messageOf(c)}): a busy client or server, not refused credentials; retry`,
      { cause: e },
    );
  switch (c?.name) {
    case 'AuthorizationError':
    case 'UserAuthenticationExpiredError':
      return new PermissionDeniedError(`${doing}: NATS refused our credentials (${messageOf(c)})`, {
        cause: e,
      });
    case 'PermissionViolationError':
      return new PermissionDeniedError(`${doing}: NATS permissions forbid it (${messageOf(c)})`, {
        cause: e,
      });
    case 'JetStreamNotEnabled':
      if (noResponders(c))
        return new UnavailableError(
          `${doing}: no JetStream server answered (the stream has no leader: a cluster without its quorum, ` +
            `or servers restarting; or the bucket is not provisioned): the request reached no stream; retry`,
          { cause: e },
        );
      return new FailedPreconditionError(`${what} (is the bucket or stream provisioned?)`, { cause: e });
    case 'StreamNotFoundError':
      return new FailedPreconditionError(`${what} (is the bucket or stream provisioned?)`, { cause: e });
    case undefined:
      break;
    default: {
      if (/wrong last sequence/i.test(messageOf(c))) return new ConflictError(what, { cause: e });
      const refused = c === undefined ? undefined : jsRefusal(c);
      if (refused?.as === 'argument')
        return new InvalidArgumentError(`${what} (${refused.why}; retrying cannot help)`, undefined, {
          cause: e,
        });
      if (refused)
        return new FailedPreconditionError(`${what} (${refused.why}; a person must act)`, { cause: e });
      return new UnavailableError(what, { cause: e });
    }
  }
  if (payloadTooLarge(e))
    return new InvalidArgumentError(
      `${what} (larger than the server's max_payload; retrying cannot help)`,
      undefined,
      { cause: e },
    );
  return new InternalError(what, { cause: e });
}

/**
 * What a caller does about an error classified by `natsError`: the three cases every edge that
 * talks to NATS acts on (the agent's link loop and enrolment, the controller's reconcile loops).
 *
 * - `authorization`: NATS refused the credentials, or a permission (`PermissionDeniedError`).
 *   A person must act (re-enrol the node, fix the account or its permissions): retrying at once
 *   cannot help, so the caller says so and waits long between attempts.
 * - `unavailable`: the mark says a retry can help (a timeout, no responders, a lost connection):
 *   retry with backoff.
 * - `terminal`: anything else (a bad request, a missing bucket, a bug): not a connection problem;
 *   retrying the same thing does not help.
 */
export type NatsFailureKind = 'authorization' | 'unavailable' | 'terminal';

export function natsFailureKind(e: LaunchfleetError): NatsFailureKind {
  if (e instanceof PermissionDeniedError) return 'authorization';
  return e.retryable ? 'unavailable' : 'terminal';
}

/** True when a cause along `e`'s chain has one of these names. */
function causedBy(e: unknown, names: ReadonlySet<string>): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++)
    if (names.has(c.name)) return true;
  return false;
}

const missingStream = new Set(['StreamNotFoundError', 'JetStreamNotEnabled']);
const noAnswer = new Set(['TimeoutError', 'Timeout', ...noRespondersNames]);

/**
 * The stream or bucket a request needs is not there (a `FailedPreconditionError` that
 * `natsError` made of StreamNotFound, or of an account without JetStream). For an agent that is
 * the controller's to provision: it waits and tries again; it cannot fix it by itself.
 */
export function natsStreamMissing(e: LaunchfleetError): boolean {
  return e instanceof FailedPreconditionError && causedBy(e, missingStream);
}

/**
 * Nobody answered (a timeout, or no responders: a stream without a leader, or a JetStream API
 * queue that was full, whose server drops the request without a reply): unlike a refusal, the
 * same request may well be taken later.
 */
export function natsNoAnswer(e: unknown): boolean {
  return causedBy(e, noAnswer);
}

/**
 * NATS answered that nobody took the request (503 no responders; nats.js makes that
 * JetStreamNotEnabled on a JetStream publish): a write it reports on reached no stream and was
 * not stored. Unlike a timeout, whose write may have been stored before the answer was lost.
 */
export function natsNotStored(e: unknown): boolean {
  return causedBy(e, noRespondersNames);
}

/**
 * `e` marked as having changed nothing (`UnavailableError.changedNothing`), for a caller that
 * knows its operation wrote nothing before `e` (a read before the first write, a first write
 * not sent or not stored). Other errors pass through unchanged: only an outage is worded by it.
 */
export function changedNothing(e: LaunchfleetError): LaunchfleetError {
  if (!(e instanceof UnavailableError) || e.changedNothing) return e;
  return new UnavailableError(e.message, { cause: e.cause ?? e, changedNothing: true });
}
