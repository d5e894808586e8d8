/**
 * The one place domain errors become gRPC status codes (STYLE.md). Handlers throw the shared
 * error classes; the server wrapper calls `toServiceError` and nothing else picks a code.
 *
 * | error                 | gRPC status        | why                                              |
 * | --------------------- | ------------------ | ------------------------------------------------ |
 * | InvalidArgumentError  | INVALID_ARGUMENT   | bad plist, target, selector, label               |
 * | NotFoundError         | NOT_FOUND          | unknown job / node / token                       |
 * | ConflictError         | ABORTED            | a compare-and-set lost repeatedly: retry the call |
 * | PermissionDeniedError | PERMISSION_DENIED  | the role does not allow the method               |
 * | UnauthenticatedError  | UNAUTHENTICATED    | no token, or an unknown one                      |
 * | UnavailableError      | UNAVAILABLE        | NATS/JetStream not reachable                     |
 * | TimeoutError          | DEADLINE_EXCEEDED  |                                                  |
 * | InternalError, other  | INTERNAL           | message replaced: internals never leak           |
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  TimeoutError,
  UnavailableError,
} from '@launchfleet/shared';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';

/** The gRPC code for an error thrown by a handler. */
export function statusOf(e: unknown): status {
  if (e instanceof InvalidArgumentError) return status.INVALID_ARGUMENT;
  if (e instanceof NotFoundError) return status.NOT_FOUND;
  if (e instanceof ConflictError) return status.ABORTED;
  if (e instanceof PermissionDeniedError) return status.PERMISSION_DENIED;
  if (e instanceof UnauthenticatedError) return status.UNAUTHENTICATED;
  if (e instanceof UnavailableError) return status.UNAVAILABLE;
  if (e instanceof TimeoutError) return status.DEADLINE_EXCEEDED;
  if (e instanceof InternalError) return status.INTERNAL;
  return status.INTERNAL;
}

/** The error a handler reports to grpc-js. Unknown errors get a generic message. */
export function toServiceError(e: unknown): ServiceError {
  const code = statusOf(e);
  const known = code !== status.INTERNAL || e instanceof InternalError;
  const details = known && e instanceof Error ? e.message : 'internal error; see the controller log';
  const err = new Error(details) as ServiceError;
  err.code = code;
  err.details = details;
  err.metadata = new Metadata();
  return err;
}

/** `OK`, `PERMISSION_DENIED`, ...: the name used in audit entries and metric labels. */
export function statusName(code: status): string {
  return status[code] ?? String(code);
}
