/**
 * The closed set of error classes Launchfleet raises across package boundaries.
 *
 * Expected outcomes (plist validation issues, a refused bundle) are values, not exceptions;
 * these classes are for operations that could not be carried out. Each sets `name`, chains
 * `cause`, carries structured fields, and says whether retrying can help (`retryable`), in the
 * manner of nats.js `errors.ts` and Temporal's `nonRetryable`. The mark is read where a retry
 * is decided: the controller's reconcile loops (controller/src/reconcile/reconcile-result.ts
 * `isTerminal`) back a retryable failure off and stop at a terminal one; the agent's link loop
 * (node-agent/src/link/link-failure.ts, through nats-errors.ts `natsFailureKind`) backs off an
 * unavailable broker and waits long on credentials NATS refuses. Errors from NATS are
 * classified into these once, where they enter (nats-errors.ts). gRPC status mapping happens in
 * exactly one place (controller/src/api/status.ts), never here.
 */

/** Base class: every Launchfleet error is one of the subclasses below. */
export abstract class LaunchfleetError extends Error {
  /** True when the same operation may succeed later without a change of input. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The input is wrong (a malformed plist, a bad target, an unknown label). Never retryable. */
export class InvalidArgumentError extends LaunchfleetError {
  override readonly name = 'InvalidArgument';
  readonly retryable = false;
  readonly field: string | undefined;
  constructor(message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** The named thing does not exist (a job, a node, a domain). */
export class NotFoundError extends LaunchfleetError {
  override readonly name = 'NotFound';
  readonly retryable = false;
  readonly what: string;
  readonly id: string;
  constructor(what: string, id: string, options?: ErrorOptions) {
    super(`${what} not found: ${id}`, options);
    this.what = what;
    this.id = id;
  }
}

/** The thing already exists or the state does not allow the operation now (already loaded, revision moved on). */
export class ConflictError extends LaunchfleetError {
  override readonly name = 'Conflict';
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The caller may not do this (wrong uid for a domain, missing role, bad signature). */
export class PermissionDeniedError extends LaunchfleetError {
  override readonly name = 'PermissionDenied';
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * The system is not in a state the operation can work from, and waiting will not change that: a
 * stored record a human must repair, a bucket that was never provisioned. Never retryable.
 */
export class FailedPreconditionError extends LaunchfleetError {
  override readonly name = 'FailedPrecondition';
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A dependency is not reachable right now (NATS down, disk full). Retry with backoff. */
export class UnavailableError extends LaunchfleetError {
  override readonly name = 'Unavailable';
  readonly retryable = true;
  /**
   * True only where the raiser knows that the operation the error ends changed nothing: it failed
   * before its first write, or that write was not sent (no connection) or reached no stream (no
   * responders). The API then tells the caller that nothing was changed and to retry, not that
   * the change may or may not take effect (controller/src/api/status.ts). False when not known:
   * a write whose answer was lost may have been stored all the same.
   */
  readonly changedNothing: boolean;
  constructor(message: string, options?: ErrorOptions & { readonly changedNothing?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.changedNothing = options?.changedNothing ?? false;
  }
}

/** An operation did not finish in time. */
export class TimeoutError extends LaunchfleetError {
  override readonly name = 'Timeout';
  readonly retryable = true;
  readonly afterMs: number;
  constructor(message: string, afterMs: number, options?: ErrorOptions) {
    super(message, options);
    this.afterMs = afterMs;
  }
}

/** A bug: an invariant did not hold. Logged loudly; never retried. */
export class InternalError extends LaunchfleetError {
  override readonly name = 'Internal';
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export const errors = {
  InvalidArgumentError,
  NotFoundError,
  ConflictError,
  PermissionDeniedError,
  FailedPreconditionError,
  UnavailableError,
  TimeoutError,
  InternalError,
} as const;

/** A tagged result for expected outcomes, like nats.js `Result<T>`. */
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** Renders any thrown value as a one-line message (for logs and status fields). */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
