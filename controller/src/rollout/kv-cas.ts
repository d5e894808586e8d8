/**
 * JetStream KV compare-and-set helpers for the rollout runtime.
 */
import { messageOf } from '@launchfleet/shared';

/** True for JetStream's "wrong last sequence" (a compare-and-set lost). */
export function isWrongRevision(e: unknown): boolean {
  const code = (e as { code?: unknown; api_error?: { err_code?: unknown } } | null)?.api_error?.err_code;
  return code === 10071 || /wrong last sequence/i.test(messageOf(e));
}
