/**
 * The controller's side of the per-node desired-state index (`<nodeId>._index` in `lf_desired`,
 * shared/src/messages/desired-index.ts), and every write of a node's desired key.
 *
 * Agents catch up by reading their index and then each key it lists, with direct gets, so the
 * index must list every live key of the node: index ⊇ live keys. Several controllers may write at
 * once, so the index is changed only by compare-and-set, and the rules are:
 *
 * ```
 *  create a key (none live):  create key ──▶ touch(L)     touch = write the index, listing L, even
 *                                                          when it is listed already
 *  update a live key:         update key                   (live ⇒ listed: no index write)
 *  delete a key:              delete key ──▶ drop(L): read index (rev r), read key;
 *                                            key live ⇒ stop; else write without L if rev is still r
 * ```
 *
 * Why this holds against a concurrent create of the same key by another controller: the creator's
 * `touch` comes after its create and always writes. If it is ordered after the drop's write, it
 * lists L again; if before, the drop's compare-and-set (at r) fails and the drop re-reads the key,
 * which is live by then. Stale reads (a direct get from a follower of an R3 stream) only cost a
 * retry, because every decision is committed by a compare-and-set on the leader. So a creation
 * costs one index write, once per node and label; every later version is a plain key update.
 *
 * Between a create and its touch the key is live but may be unlisted. Agents connected then get
 * the key's own message; an agent catching up in that instant gets the index's message right
 * after. If the controller dies in between, or a touch fails (it is not retried by the caller,
 * which would write the key twice), or a key is written by hand, `repair()` lists it: it runs when
 * a controller starts and every few minutes, and looks at nodes whose touch failed first.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { ConflictError, messageOf } from '@launchfleet/shared';
import {
  decodeDesiredIndex,
  desiredIndexSegment,
  encodeDesiredIndex,
  encodeLabelToken,
  isNodeId,
  keys,
  maxIndexedLabels,
} from '@launchfleet/shared/messages';
import { isWrongRevision } from '../rollout/kv-cas.ts';
import { forEachBounded } from './bounded-pool.ts';

const casAttempts = 8;

/** What a repair found and did. */
export interface IndexRepairResult {
  readonly nodes: number;
  readonly created: number;
  readonly listed: number;
  readonly failures: number;
}

export class DesiredIndex {
  readonly #kv: KV;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  /** Nodes whose touch failed: the next repair looks at them. */
  readonly suspects = new Set<string>();

  constructor(kv: KV, now: () => number, log: (line: string) => void = () => undefined) {
    this.#kv = kv;
    this.#now = now;
    this.#log = log;
  }

  // ---- writes of desired keys ------------------------------------------------------------------

  /**
   * Writes `value` as the node's bundle for `label`. `prev` is the entry read before (null when
   * the key never existed): a live one is updated at its revision, otherwise the key is created
   * and the index touched (see the header). A lost compare-and-set on the key throws as nats.js
   * does (the caller's retry loop reads again); a failed touch does not (the key is written; the
   * node becomes a repair suspect).
   */
  async writeKey(nodeId: string, label: string, value: string, prev: KvEntry | null): Promise<number> {
    const key = keys.desired(nodeId, label);
    if (prev !== null && prev.operation === 'PUT') return this.#kv.update(key, value, prev.revision);
    const token = encodeLabelToken(label);
    const revision =
      prev === null ? await this.#kv.create(key, value) : await this.#kv.update(key, value, prev.revision);
    await this.touch(nodeId, token).catch((e: unknown) => {
      this.suspects.add(nodeId);
      this.#log(
        `desired index of ${nodeId}: touch after creating ${label} failed (${messageOf(e)}); repair will check it`,
      );
    });
    return revision;
  }

  /** Deletes the node's key for `label` at `prev`'s revision, then drops it from the index. */
  async deleteKey(nodeId: string, label: string, prev: KvEntry): Promise<void> {
    await this.#kv.delete(keys.desired(nodeId, label), { previousSeq: prev.revision });
    await this.drop(nodeId, encodeLabelToken(label)).catch((e: unknown) =>
      // A token left listed is harmless (the agent finds the key deleted): log only.
      this.#log(`desired index of ${nodeId}: dropping ${label} failed: ${messageOf(e)}`),
    );
  }

  // ---- the index itself --------------------------------------------------------------------------

  /** Makes sure the node has an index (an empty one for a new node). */
  async ensureExists(nodeId: string): Promise<void> {
    const e = await this.#kv.get(keys.desiredIndex(nodeId));
    if (e !== null && e.operation === 'PUT') return;
    await this.#change(
      nodeId,
      () => true,
      (tokens) => tokens,
    );
  }

  /** Writes the index again, listing `token` (always a write: see the header). */
  async touch(nodeId: string, token: string): Promise<void> {
    await this.#change(
      nodeId,
      () => true,
      (tokens) => (tokens.includes(token) ? tokens : [...tokens, token]),
    );
  }

  /** Drops `token` unless the node's key for it is live (read after the index, before the write). */
  async drop(nodeId: string, token: string): Promise<void> {
    await this.#change(
      nodeId,
      (tokens) => tokens.includes(token),
      (tokens) => tokens.filter((t) => t !== token),
      async () => {
        const k = await this.#kv.get(`${nodeId}.${token}`);
        return k === null || k.operation !== 'PUT';
      },
    );
  }

  /** The tokens the node's index lists; undefined when it has none (or it is unreadable). */
  async read(nodeId: string): Promise<readonly string[] | undefined> {
    const e = await this.#kv.get(keys.desiredIndex(nodeId));
    if (e === null || e.operation !== 'PUT') return undefined;
    const d = decodeDesiredIndex(e.value);
    return d.ok ? d.value.tokens : undefined;
  }

  /**
   * Lists every live key in its node's index and gives every node in `nodeIds` an index. Reads
   * the bucket's key list once (a consumer of the controller's, gone after the listing).
   */
  async repair(nodeIds: Iterable<string>): Promise<IndexRepairResult> {
    const live = new Map<string, Set<string>>();
    for await (const k of await this.#kv.keys()) {
      const dot = k.indexOf('.');
      const nodeId = k.slice(0, dot);
      const token = k.slice(dot + 1);
      if (dot < 0 || !isNodeId(nodeId) || token === desiredIndexSegment) continue;
      const set = live.get(nodeId) ?? new Set<string>();
      set.add(token);
      live.set(nodeId, set);
    }
    const all = new Set<string>([...this.suspects, ...live.keys(), ...nodeIds]);
    this.suspects.clear();
    let created = 0;
    let listed = 0;
    let failures = 0;
    await forEachBounded([...all], 64, async (nodeId) => {
      try {
        const want = live.get(nodeId) ?? new Set<string>();
        const have = await this.read(nodeId);
        if (have === undefined) created++;
        const missing = [...want].filter((t) => !(have ?? []).includes(t));
        if (have !== undefined && missing.length === 0) return;
        listed += missing.length;
        await this.#change(
          nodeId,
          () => true,
          (tokens) => [...new Set([...tokens, ...missing])],
        );
      } catch (e) {
        failures++;
        this.suspects.add(nodeId);
        this.#log(`desired index of ${nodeId}: repair failed: ${messageOf(e)}`);
      }
    });
    return { nodes: all.size, created, listed, failures };
  }

  /**
   * One compare-and-set change of the node's index: read it, ask `wanted` whether to write,
   * `check` (if any) whether the write may still happen, then write `next(tokens)` at the read
   * revision (or create it). A lost race starts over.
   */
  async #change(
    nodeId: string,
    wanted: (tokens: readonly string[]) => boolean,
    next: (tokens: readonly string[]) => readonly string[],
    check?: () => Promise<boolean>,
  ): Promise<void> {
    const key = keys.desiredIndex(nodeId);
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const e = await this.#kv.get(key);
      const live = e !== null && e.operation === 'PUT';
      let tokens: readonly string[] = [];
      if (live) {
        const d = decodeDesiredIndex(e.value);
        // An unreadable index is rewritten from what we know; repair lists what it missed.
        if (d.ok) tokens = d.value.tokens;
        else this.#log(`desired index of ${nodeId} unreadable (${d.error.detail}): rewriting it`);
      }
      if (!wanted(tokens)) return;
      if (check && !(await check())) return;
      const out = next(tokens);
      if (out.length > maxIndexedLabels)
        throw new ConflictError(`node ${nodeId} would have more than ${maxIndexedLabels} desired labels`);
      const value = encodeDesiredIndex({ tokens: out }, this.#now());
      try {
        if (live) await this.#kv.update(key, value, e.revision);
        else if (e !== null) await this.#kv.update(key, value, e.revision);
        else await this.#kv.create(key, value);
        return;
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
      }
    }
    throw new ConflictError(`desired index of ${nodeId} is being changed concurrently`);
  }
}
