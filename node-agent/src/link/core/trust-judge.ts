/**
 * What the agent does with a trust store candidate it did not get from a consumer (pure).
 *
 * The agent follows `lf_trust`/`store` by a core subscription (live puts, newest write first
 * on the wire, but no KV revision) and by direct gets (a KV revision, but possibly stale). Only
 * `acceptTrustStore` decides whether a store may be adopted; this table decides what to *say*
 * about a store it refused, so that a get racing a live update, a lagging replica or a store
 * not stored yet when it was read never shows up as a refusal, while a store really rolled
 * back in the bucket still does.
 *
 * | origin  | acceptTrustStore      | condition                                           | decision  |
 * |---------|-----------------------|-----------------------------------------------------|-----------|
 * | any     | newer                 |                                                     | apply     |
 * | any     | same store            |                                                     | keep      |
 * | live    | refused               |                                                     | report    |
 * | read    | refused               | a live message arrived while the read was in flight | stale     |
 * | read    | refused               | revision below the held store's known revision      | stale     |
 * | read    | refused               | held revision unknown, first read                   | confirm   |
 * | read    | refused               | the same bytes were reported last                   | reported  |
 * | read    | refused               | otherwise                                           | report    |
 *
 * Invariants: `apply` only for a store `acceptTrustStore` accepted as newer; a live refusal is
 * always reported; a read refusal is reported at most once per distinct value in a row.
 */

/** What the follower remembers between candidates. */
export interface TrustFollowState {
  /** KV revision of the held store, when known (undefined: it came from a live message or the state dir). */
  readonly heldRevision: number | undefined;
  /** Live messages received so far (any operation). */
  readonly liveSeq: number;
  /** Digest of the refused value reported last. */
  readonly reported: string | undefined;
}

/** The state before anything was seen. */
export const initialTrustFollowState: TrustFollowState = {
  heldRevision: undefined,
  liveSeq: 0,
  reported: undefined,
};

/** Where a candidate came from. */
export type TrustCandidateOrigin =
  /** A put seen by the core subscription (the newest write on the subject). */
  | { readonly kind: 'live' }
  /**
   * A direct get: the entry's KV `revision`, `liveSeq` as it was when the get was sent, and
   * whether it is the confirming re-read of an earlier refused read.
   */
  | {
      readonly kind: 'read';
      readonly revision: number;
      readonly liveSeq: number;
      readonly confirming: boolean;
    };

/** `acceptTrustStore`'s verdict on the candidate, reduced to what the judge needs. */
export type TrustCheck =
  { readonly ok: true; readonly unchanged: boolean } | { readonly ok: false; readonly digest: string };

/** What to do with the candidate. */
export type TrustDecision =
  /** Adopt the store (acceptTrustStore accepted it as newer). */
  | 'apply'
  /** It is the store held: nothing to do. */
  | 'keep'
  /** Report the refusal. */
  | 'report'
  /** A read that may predate what is held: say nothing. */
  | 'stale'
  /** Read again after a delay before saying anything (the bucket may not have caught up). */
  | 'confirm'
  /** Refused, but these bytes were reported already (a periodic re-read): say nothing again. */
  | 'reported';

/** Judges one candidate; returns the decision and the state after it. */
export function judgeTrustCandidate(
  s: TrustFollowState,
  check: TrustCheck,
  origin: TrustCandidateOrigin,
): { readonly decision: TrustDecision; readonly state: TrustFollowState } {
  if (check.ok) {
    // A read tells the held store's revision; a live update replaces the store by one whose
    // revision is not known until the next read.
    const heldRevision =
      origin.kind === 'read' ? origin.revision : check.unchanged ? s.heldRevision : undefined;
    return { decision: check.unchanged ? 'keep' : 'apply', state: { ...s, heldRevision } };
  }
  if (origin.kind === 'live') return { decision: 'report', state: { ...s, reported: check.digest } };
  const overtaken = origin.liveSeq !== s.liveSeq;
  const behind = s.heldRevision !== undefined && origin.revision < s.heldRevision;
  if (overtaken || behind) return { decision: 'stale', state: s };
  if (s.heldRevision === undefined && !origin.confirming) return { decision: 'confirm', state: s };
  if (check.digest === s.reported) return { decision: 'reported', state: s };
  return { decision: 'report', state: { ...s, reported: check.digest } };
}
