/**
 * Why a pass of the link loop (an enrolment or a session) failed, classified once where the loop
 * catches it (shared nats-errors.ts `natsError`, `natsFailureKind`), and what the loop does:
 *
 * | kind          | e.g.                                              | the loop                         |
 * | ------------- | ------------------------------------------------- | -------------------------------- |
 * | authorization | NATS refused the node's (or the enrol) credentials: revoked, forged, an account the servers do not know | says a person must act (error log, status), waits long (core/link-loop.ts `refused`) |
 * | unavailable   | connection refused, a timeout, no responders, a set-up that took too long, a controller that did not answer | retries with backoff, quietly (info) |
 * | terminal      | a refused bootstrap token, no token file, a bad reply, a bug | retries with backoff (a person may fix the input meanwhile), and says it is not a connection problem (warn) |
 *
 * Before, every failure was "no session (...); retrying with backoff" at info, so credentials NATS
 * refused read like a broker that was down, and were retried as fast.
 */
import {
  FailedPreconditionError,
  InternalError,
  type LaunchfleetError,
  PermissionDeniedError,
  UnavailableError,
} from '@launchfleet/shared/errors';
import { type NatsFailureKind, natsError, natsFailureKind } from '@launchfleet/shared/nats-errors';
import { type EnrollFailure, natsAuthorization } from './enroll.ts';

export interface LinkFailure {
  readonly kind: NatsFailureKind;
  readonly error: LaunchfleetError;
}

/** Classifies what a pass of the link loop threw. */
export function linkFailure(e: unknown): LinkFailure {
  const error = natsError(e, 'no session');
  return { kind: natsFailureKind(error), error };
}

/** The error an enrolment that failed stands for (enroll.ts says why as a value). */
export function enrolmentError(f: EnrollFailure, message: string): LaunchfleetError {
  switch (f.kind) {
    case 'unreachable':
      return new UnavailableError(message);
    case 'refused':
      if (f.reason === natsAuthorization) return new PermissionDeniedError(message);
      // A controller too busy to answer (a fleet enrolling at once) is not a refusal of the token.
      if (f.reason === 'internal' && f.detail.startsWith('busy')) return new UnavailableError(message);
      return new FailedPreconditionError(message);
    case 'bad-reply':
      return new InternalError(message);
    default: {
      const never: never = f.kind;
      throw new TypeError(`unknown enrolment failure ${String(never)}`);
    }
  }
}

/** What the loop logs for a failure: level and line. */
export function linkFailureLine(
  f: LinkFailure,
  message: string,
  refusedWaitMs: number,
): { level: 'info' | 'warn' | 'error'; line: string } {
  switch (f.kind) {
    case 'authorization':
      return {
        level: 'error',
        line:
          `no session: NATS refused this node's credentials (${message}): a person must act ` +
          `(a revoked node re-enrols with a new bootstrap token; check that the servers know the ` +
          `account and its signing key); not retried for ${Math.round(refusedWaitMs / 1000)} s`,
      };
    case 'unavailable':
      return { level: 'info', line: `no session (${message}); retrying with backoff` };
    case 'terminal':
      return {
        level: 'warn',
        line: `no session (${message}); not a connection problem, so retrying alone will not fix it; retrying with backoff`,
      };
    default: {
      const never: never = f.kind;
      throw new TypeError(`unknown failure kind ${String(never)}`);
    }
  }
}
