/**
 * Whether a node's credential renewal request is granted (pure; unit-tested beside this file).
 *
 * Checks, in order; the first that fails is the reason given (`RenewRefusal`):
 *
 * | check                                                         | refusal        |
 * |---------------------------------------------------------------|----------------|
 * | the subject's node id is the request's node id                | invalid-request|
 * | the node is registered                                        | unknown-node   |
 * | the request names the key the node enrolled with              | wrong-key      |
 * | the signature verifies with that key                          | bad-signature  |
 * | `requestedAt` within `maxSkewMs` of the controller's clock    | stale          |
 * | `requestedAt` later than the last renewal accepted            | replayed       |
 * | the node is not revoked                                       | revoked        |
 *
 * The key and signature come before the node's state, so a request that does not prove
 * possession of the node key learns nothing about the node. Invariants: a grant always names
 * the registered key; `requestedAt` of accepted renewals strictly increases per node (the caller
 * stores it with compare-and-set), so a captured request is good once at most.
 */
import type { RenewRefusal, RenewRequest } from '@launchfleet/shared/messages';

/** What the registry holds about the node, as far as the decision goes. */
export interface RenewalRecord {
  readonly publicKey: string;
  readonly revokedAt?: number;
  readonly lastRenewalRequestAt?: number;
}

export interface RenewalInput {
  readonly request: RenewRequest;
  /** The node id from the subject the request arrived on (`lf.renew.<nodeId>`). */
  readonly subjectNodeId: string | undefined;
  readonly record: RenewalRecord | undefined;
  /** Whether `request.signature` verifies with the *registered* key over the request. */
  readonly signatureValid: (publicKey: string) => boolean;
  readonly now: number;
  readonly maxSkewMs: number;
}

export type RenewalDecision =
  | { readonly grant: true }
  | { readonly grant: false; readonly refusal: RenewRefusal; readonly message: string };

const refuse = (refusal: RenewRefusal, message: string): RenewalDecision => ({
  grant: false,
  refusal,
  message,
});

export function decideRenewal(i: RenewalInput): RenewalDecision {
  const r = i.request;
  if (i.subjectNodeId !== r.nodeId)
    return refuse('invalid-request', 'the request names another node than its subject');
  if (!i.record) return refuse('unknown-node', `no node ${r.nodeId} is enrolled`);
  if (r.publicKey !== i.record.publicKey)
    return refuse('wrong-key', 'the request names another key than the node enrolled with');
  if (!i.signatureValid(i.record.publicKey))
    return refuse('bad-signature', "the signature does not verify with the node's key");
  if (Math.abs(i.now - r.requestedAt) > i.maxSkewMs)
    return refuse(
      'stale',
      `requestedAt is ${Math.round((r.requestedAt - i.now) / 1000)} s off the controller's clock`,
    );
  if (i.record.lastRenewalRequestAt !== undefined && r.requestedAt <= i.record.lastRenewalRequestAt)
    return refuse('replayed', 'a renewal at or after this request time was already accepted');
  if (i.record.revokedAt !== undefined) return refuse('revoked', 'the node was revoked');
  return { grant: true };
}
