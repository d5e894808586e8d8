/**
 * Which nodes to ask for an early credential renewal after the account's signing key changed
 * (controller/src/identity/README.md, "Key rotation"): every registered, unrevoked node whose
 * current credentials were signed by another key than the one signing now and can still be
 * renewed (they expire, so they carry the `lf.renew.<id>` permission, and not yet: an expired
 * node is refused by every server and comes back by re-enrolment).
 */

/** What the decision reads of a node (the fleet index's NodeView has these). */
export interface NudgeCandidate {
  readonly nodeId: string;
  readonly registered: boolean;
  readonly revokedAt: number | undefined;
  readonly credentials:
    { readonly expiresAt: number | undefined; readonly issuer: string | undefined } | undefined;
}

/** Node ids whose credentials another key signed than `signer`, renewable at `now`; sorted. */
export function nodesToRenewForSigner(
  nodes: Iterable<NudgeCandidate>,
  signer: string,
  now: number,
): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    const c = n.credentials;
    if (!n.registered || n.revokedAt !== undefined || !c) continue;
    if (c.issuer === undefined || c.issuer === signer) continue;
    if (c.expiresAt === undefined || c.expiresAt <= now) continue;
    out.push(n.nodeId);
  }
  return out.sort();
}

/**
 * Registered, unrevoked nodes whose credentials another key than `signer` signed: `renewable`
 * (the nudge reaches them), `expired`, or `unrenewable` (credentials made before they expired,
 * without the renewal permission); the last two come back by re-enrolment only. The gauge
 * `launchfleet_nodes_credentials_other_signer` exports it, so a rotation's step 3 ("wait until
 * no node holds credentials from the old key") is one query.
 */
export function countOtherSigner(
  nodes: Iterable<NudgeCandidate>,
  signer: string,
  now: number,
): { renewable: number; expired: number; unrenewable: number } {
  const out = { renewable: 0, expired: 0, unrenewable: 0 };
  for (const n of nodes) {
    const c = n.credentials;
    if (!n.registered || n.revokedAt !== undefined || !c) continue;
    if (c.issuer === undefined || c.issuer === signer) continue;
    if (c.expiresAt === undefined) out.unrenewable++;
    else if (c.expiresAt <= now) out.expired++;
    else out.renewable++;
  }
  return out;
}

/** The nudge's body (node-agent/src/link/credential-renewal.ts reads `withinMs`). */
export function nudgeBody(withinMs: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ withinMs: Math.max(0, Math.round(withinMs)) }));
}
