/**
 * A node's desired-state index: the KV entry `<nodeId>._index` of `lf_desired`, listing the label
 * tokens under which that node may have a bundle. It is what lets an agent catch up without a
 * JetStream consumer: one direct get of the index, then one direct get per listed key (and per
 * label it already runs, to notice removals). No scan of the stream's subjects, no consumer, no
 * JetStream API request: the cost of a session does not grow with the fleet.
 *
 * The index is a superset of the node's live keys. The controller keeps it so
 * (controller/src/desired/desired-index.ts): a label is added before its first bundle is created,
 * the index is written again after every create (so a concurrent removal's compare-and-set
 * fails), and a label is dropped only after its key was deleted, re-checked after the drop.
 * An agent treats an entry it cannot find as "nothing desired under it".
 *
 * `_index` can never be a label token: `encodeLabelToken` writes `_` only before two upper-case
 * hex digits.
 */
import { type Result, err, ok } from '../errors.ts';
import { type MessageError, decodeEnvelope, encodeEnvelope, isRecord } from './envelope.ts';
import { decodeLabelToken } from './tokens.ts';

export const desiredIndexKind = 'desired.index';

/** The last key segment of a node's index (`<nodeId>._index`). */
export const desiredIndexSegment = '_index';

/** Labels one node may have at once; keeps the index one small value. */
export const maxIndexedLabels = 2000;

/** What a node's index says. */
export interface DesiredIndex {
  /** Label tokens (`encodeLabelToken`), sorted, without repeats. */
  readonly tokens: readonly string[];
}

export function encodeDesiredIndex(i: DesiredIndex, ts: number): Uint8Array {
  return encodeEnvelope(desiredIndexKind, ts, { tokens: [...new Set(i.tokens)].sort() });
}

/** Decodes an index; every token must be a canonical label token. */
export function decodeDesiredIndex(data: Uint8Array | string): Result<DesiredIndex, MessageError> {
  // The bucket's own value limit (maxBundleBytes) bounds it too.
  const env = decodeEnvelope(data, desiredIndexKind, 512 * 1024);
  if (!env.ok) return env;
  const body = env.value.body;
  const tokens = isRecord(body) ? body['tokens'] : undefined;
  if (!Array.isArray(tokens)) return err({ code: 'invalid', detail: 'body.tokens must be an array' });
  if (tokens.length > maxIndexedLabels)
    return err({ code: 'invalid', detail: `body.tokens has more than ${maxIndexedLabels} entries` });
  const out = new Set<string>();
  for (const t of tokens) {
    if (typeof t !== 'string' || !decodeLabelToken(t).ok)
      return err({
        code: 'invalid',
        detail: `body.tokens has a bad label token ${JSON.stringify(t).slice(0, 80)}`,
      });
    out.add(t);
  }
  return ok({ tokens: [...out].sort() });
}
