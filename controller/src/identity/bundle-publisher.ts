/**
 * Signs a job bundle for one node and stores it as that node's desired state, through the
 * node's desired-state index (desired/desired-index.ts). Tests and tools use it; `jobs apply`
 * and rollouts have their own compare-and-set loops over the same index.
 */
import type { KV } from '@nats-io/kv';
import type { DesiredIndex } from '../desired/desired-index.ts';
import { keys } from '@launchfleet/shared/messages';
import {
  type JobBundle,
  type SignedBundle,
  type SigningKey,
  encodeSignedBundle,
  signBundle,
} from '@launchfleet/shared/signing';

/** Signs `bundle` with `key` and puts it under `<nodeId>.<labelToken>`; returns the KV revision. */
export async function putSignedBundle(
  store: { readonly desired: KV; readonly desiredIndex: DesiredIndex },
  key: SigningKey,
  bundle: Omit<JobBundle, 'keyId'>,
): Promise<{ revision: number; signed: SignedBundle }> {
  const signed = signBundle({ ...bundle, keyId: key.keyId }, key);
  const prev = await store.desired.get(keys.desired(bundle.nodeId, bundle.label));
  const revision = await store.desiredIndex.writeKey(
    bundle.nodeId,
    bundle.label,
    encodeSignedBundle(signed),
    prev,
  );
  return { revision, signed };
}
