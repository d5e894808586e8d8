/**
 * The NATS requests the agent makes again and again — an event publish, a status or inventory
 * put, a desired-state read, a credential renewal — failed: classified once, here at the edge
 * (shared nats-errors.ts `natsError`; the error's `retryable` mark decides between a retry and
 * none), and what every such edge does about it. (A pass of the link loop has its own table:
 * link-failure.ts.)
 *
 * | kind     | e.g.                                                    | the edge                                |
 * | -------- | ------------------------------------------------------- | --------------------------------------- |
 * | denied   | `Permissions Violation for Publish to "<subject>"`, credentials refused (`PermissionDeniedError`) | a person must act (the node's permissions, or a re-enrolment): one error line naming the subject and the credential, said once; no hot retry (`deniedWaitMs`, or what cannot be sent is dropped) |
 * | missing  | the stream or bucket is not there (StreamNotFound: `natsStreamMissing`) | the controller provisions it: wait and try again with backoff; said once |
 * | retry    | `retryable`: a timeout, no responders (a stream without a leader; a full JetStream API queue, whose server drops the request unanswered), a lost connection | backoff, quietly |
 * | terminal | not retryable and none of the above: a JetStream refusal retrying cannot fix (natsError's table: too large, the stream configured otherwise, a per-subject or account limit), an answer we refuse, a bug | the edge's own rule: the outbox drops the event at once (warn); the puts and reads back off |
 *
 * "Said once": until the edge succeeds again (`EdgePacing.ok`), a second failure of the same kind
 * on the same subject is logged at debug only.
 */
import { type LaunchfleetError, messageOf } from '@launchfleet/shared/errors';
import { natsError, natsFailureKind, natsStreamMissing } from '@launchfleet/shared/nats-errors';
import { type BackoffPolicy, backoffCeiling } from '@launchfleet/shared/reconcile';
import type { SupervisorLog } from '../supervisor/job-runner.ts';

export type EdgeKind = 'denied' | 'missing' | 'retry' | 'terminal';

export interface EdgeFailure {
  readonly kind: EdgeKind;
  readonly error: LaunchfleetError;
}

/** Classifies what a NATS request made while `doing` something ("putting the status") threw. */
export function edgeFailure(e: unknown, doing: string): EdgeFailure {
  const error = natsError(e, doing);
  if (natsFailureKind(error) === 'authorization') return { kind: 'denied', error };
  if (natsStreamMissing(error)) return { kind: 'missing', error };
  return { kind: error.retryable ? 'retry' : 'terminal', error };
}

/** How long an edge NATS denied waits before it tries again. Default 5 min. */
export const defaultDeniedWaitMs = 5 * 60_000;

/** The default backoff of an edge: 1 s, doubling, at most 30 s. */
export const edgeBackoff: BackoffPolicy = { baseMs: 1000, capMs: 30_000 };

/** The error line of a denial: what, on which subject, with which credential, and what to do. */
export function deniedLine(
  doing: string,
  subject: string,
  credential: string,
  error: LaunchfleetError,
): string {
  return (
    `NATS denied ${doing} on ${subject} to ${credential} (${messageOf(error)}): a person must act ` +
    `(grant the node that subject, or re-enrol it so that it gets the current permissions); ` +
    `jobs keep running; not retried at once`
  );
}

/** The warn line of a missing stream (said once). */
export function missingLine(doing: string, subject: string, error: LaunchfleetError): string {
  return (
    `${doing} on ${subject}: the stream is not there (${messageOf(error)}); waiting for the ` +
    `controller to provision it, retrying with backoff (said once)`
  );
}

/**
 * One edge's pacing: consecutive failures (the backoff), the denial's long wait, and what was
 * said already. Owned by the module that makes the requests.
 *
 * What was said is kept per subject; the failure count (the backoff) is one per edge, on
 * purpose: an edge's requests go one at a time over one connection to one stream or bucket
 * (the outbox drains its queue in order, the follower reads one node's keys, the status and the
 * inventory have a pacing each), so a success on any subject says the path works again and the
 * next failure starts from the first step. A subject that stays refused while others go is not
 * a backoff case: a denial waits `deniedWaitMs` whatever the count, and the outbox drops what
 * is denied or keeps being refused.
 */
export class EdgePacing {
  readonly #said = new Set<string>();
  #failures = 0;
  readonly #deniedWaitMs: number;
  readonly #backoff: BackoffPolicy;

  constructor(o: { deniedWaitMs?: number; backoff?: BackoffPolicy } = {}) {
    this.#deniedWaitMs = o.deniedWaitMs ?? defaultDeniedWaitMs;
    this.#backoff = o.backoff ?? edgeBackoff;
  }

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * A failure: logs it (`denied` at error and `missing` at warn, once per subject until a
   * success; the rest at `quietLevel`) and returns how long to wait before trying again.
   */
  failed(
    f: EdgeFailure,
    o: {
      readonly doing: string;
      readonly subject: string;
      readonly credential: string;
      readonly log: SupervisorLog;
      readonly quietLevel?: 'debug' | 'info' | 'warn';
    },
  ): number {
    this.#failures++;
    const first = !this.#said.has(`${f.kind} ${o.subject}`);
    this.#said.add(`${f.kind} ${o.subject}`);
    const quiet = o.quietLevel ?? 'debug';
    switch (f.kind) {
      case 'denied':
        o.log(first ? 'error' : 'debug', 'link', deniedLine(o.doing, o.subject, o.credential, f.error));
        return this.#deniedWaitMs;
      case 'missing':
        o.log(first ? 'warn' : 'debug', 'link', missingLine(o.doing, o.subject, f.error));
        return backoffCeiling(this.#failures - 1, this.#backoff);
      case 'retry':
      case 'terminal':
        o.log(quiet, 'link', `${o.doing} failed (${messageOf(f.error)}); retrying with backoff`);
        return backoffCeiling(this.#failures - 1, this.#backoff);
      default: {
        const never: never = f.kind;
        throw new TypeError(`unknown edge failure ${String(never)}`);
      }
    }
  }

  /**
   * A success (on `subject`, or on all): the backoff starts over (one count per edge, see the
   * class), and a later failure on that subject (or on any) is said again.
   */
  ok(subject?: string): void {
    this.#failures = 0;
    if (subject === undefined) this.#said.clear();
    else for (const k of ['denied', 'missing', 'retry', 'terminal']) this.#said.delete(`${k} ${subject}`);
  }
}

/** How the log names the node's credential: the node and its credentials file. */
export function credentialName(nodeId: string, credsPath?: string): string {
  return `node ${nodeId || '(not enrolled)'}'s credentials${credsPath ? ` (${credsPath})` : ''}`;
}
