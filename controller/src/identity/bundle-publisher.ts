/**
 * Signs a job bundle for one node and stores it as that node's desired state. The rollout
 * engine (later) calls this per node; Ed25519 signing is ~50 µs, so 10,000 nodes cost about
 * half a second of CPU.
 */
import type { KV } from '@nats-io/kv';
import { keys } from '@launchfleet/shared/messages/index';
import {
  type JobBundle,
  type SignedBundle,
  type SigningKey,
  encodeSignedBundle,
  signBundle,
} from '@launchfleet/shared/signing/index';

/** Signs `bundle` with `key` and puts it under `<nodeId>.<labelToken>`; returns the KV revision. */
export async function putSignedBundle(
  desired: KV,
  key: SigningKey,
  bundle: Omit<JobBundle, 'keyId'>,
): Promise<{ revision: number; signed: SignedBundle }> {
  const signed = signBundle({ ...bundle, keyId: key.keyId }, key);
  const revision = await desired.put(keys.desired(bundle.nodeId, bundle.label), encodeSignedBundle(signed));
  return { revision, signed };
}
