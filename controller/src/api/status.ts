/**
 * The one place domain errors become gRPC status codes (docs/engineering.md). Handlers throw the shared
 * error classes; the server wrapper calls `toServiceError` and nothing else picks a code.
 *
 * | error                 | gRPC status        | why                                              |
 * | --------------------- | ------------------ | ------------------------------------------------ |
 * | InvalidArgumentError  | INVALID_ARGUMENT   | bad plist, target, selector, label               |
 * | NotFoundError         | NOT_FOUND          | unknown job / node / token                       |
 * | ConflictError         | ABORTED            | a compare-and-set lost repeatedly: retry the call |
 * | PermissionDeniedError | PERMISSION_DENIED  | the role does not allow the method               |
 * | UnauthenticatedError  | UNAUTHENTICATED    | no token, or an unknown one                      |
 * | FailedPreconditionError | FAILED_PRECONDITION | a stored record a human must repair          |
 * | UnavailableError      | UNAVAILABLE        | NATS/JetStream not reachable                     |
 * | nats.js: no answer    | UNAVAILABLE        | the broker timed out, is gone or has no responder |
 * | TimeoutError          | DEADLINE_EXCEEDED  |                                                  |
 * | InternalError, other  | INTERNAL           | message replaced: internals never leak           |
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
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

/**
 * Errors nats.js raises when the broker does not answer (killed, partitioned, no JetStream
 * leader): a handler lets them through unclassified, and without this the caller saw "internal
 * error" while the controller only waited for the broker to come back (docs/fault-suite.md).
 */
const brokerUnavailableNames = new Set([
  'TimeoutError',
  'ClosedConnectionError',
  'ConnectionError',
  'DrainingConnectionError',
  'NoResponders',
  'RequestError',
]);

function brokerUnavailable(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  if (brokerUnavailableNames.has(e.name)) return true;
  // The same errors once classified (shared/src/nats-errors.ts wraps them in UnavailableError):
  // the caller must still hear that the controller answered and its broker did not. Other
  // UnavailableErrors (contention, a refused account update) keep their own words.
  if (!(e instanceof UnavailableError)) return false;
  for (let c: unknown = e.cause, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++)
    if (brokerUnavailableNames.has(c.name) || c.name === 'JetStreamNotEnabled') return true;
  return false;
}

/** Trailer set when the broker did not answer: the CLI tells it from an unreachable controller. */
export const brokerUnavailableKey = 'lf-broker-unavailable';

/** The gRPC code for an error thrown by a handler. */
export function statusOf(e: unknown): status {
  if (brokerUnavailable(e)) return status.UNAVAILABLE;
  if (e instanceof InvalidArgumentError) return status.INVALID_ARGUMENT;
  if (e instanceof NotFoundError) return status.NOT_FOUND;
  if (e instanceof ConflictError) return status.ABORTED;
  if (e instanceof PermissionDeniedError) return status.PERMISSION_DENIED;
  if (e instanceof UnauthenticatedError) return status.UNAUTHENTICATED;
  if (e instanceof FailedPreconditionError) return status.FAILED_PRECONDITION;
  if (e instanceof UnavailableError) return status.UNAVAILABLE;
  if (e instanceof TimeoutError) return status.DEADLINE_EXCEEDED;
  if (e instanceof InternalError) return status.INTERNAL;
  return status.INTERNAL;
}

/**
 * What a call the broker did not answer changed: nothing when it only reads (`reads`), or when the
 * service knows it wrote nothing (UnavailableError.changedNothing: not connected, not sent, not
 * stored, failed before its first write); otherwise not known, since a write may have been
 * stored before its answer was lost.
 */
function outcomeOf(e: Error, reads: boolean): string {
  if (reads) return 'this call only reads, nothing was changed: retry once the broker is back';
  if (e instanceof UnavailableError && e.changedNothing)
    return 'nothing was changed: retry once the broker is back';
  return 'the change may or may not take effect once it is back: check (jobs describe, rollout status) before you retry';
}

/**
 * The error a handler reports to grpc-js. Unknown errors get a generic message. `reads`: the call
 * only reads (its rule says so, auth/core/roles.ts); when the broker did not answer, the caller is
 * told what the call changed (outcomeOf).
 */
export function toServiceError(e: unknown, reads = false): ServiceError {
  const code = statusOf(e);
  const known = code !== status.INTERNAL || e instanceof InternalError;
  const details = brokerUnavailable(e)
    ? `the message broker (NATS) did not answer (${e.message}); ${outcomeOf(e, reads)}`
    : known && e instanceof Error
      ? e.message
      : 'internal error; see the controller log';
  const err = new Error(details) as ServiceError;
  err.code = code;
  err.details = details;
  err.metadata = new Metadata();
  if (brokerUnavailable(e)) err.metadata.set(brokerUnavailableKey, '1');
  return err;
}

/** `OK`, `PERMISSION_DENIED`, ...: the name used in audit entries and metric labels. */
export function statusName(code: status): string {
  return status[code] ?? String(code);
}
