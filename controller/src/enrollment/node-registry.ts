/**
 * Enrolled nodes in KV `lf_registry` (key = node id) plus one `revocations` key holding the
 * map the fleet account JWT carries (user public key -> unix seconds). Keeping the map in one
 * key means a restarted controller rebuilds the account JWT with one read, at any fleet size.
 */
import type { KV } from '@nats-io/kv';
import { NotFoundError, ConflictError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages/index';
import type { Inventory } from '@launchfleet/shared/messages/index';
import type { Revocations } from '../identity/nats-identity.ts';

/** One enrolled node. */
export interface NodeRecord {
  readonly v: 1;
  readonly nodeId: string;
  /** The node's NATS user public key (its identity). */
  readonly publicKey: string;
  readonly hostname: string;
  readonly inventory: Inventory;
  readonly tokenId: string;
  readonly enrolledAt: number;
  /** Set when the node was revoked (ms since the epoch). */
  readonly revokedAt?: number;
}

const revocationsKey = 'revocations';

export class NodeRegistry {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Adds a new node; fails if the id is taken. */
  async add(rec: NodeRecord): Promise<void> {
    try {
      await this.#kv.create(keys.registry(rec.nodeId), JSON.stringify(rec));
    } catch (e) {
      throw new ConflictError(`node ${rec.nodeId} already exists`, { cause: e });
    }
  }

  async get(nodeId: string): Promise<NodeRecord | undefined> {
    const e = await this.#kv.get(keys.registry(nodeId));
    if (!e || e.operation !== 'PUT') return undefined;
    return JSON.parse(e.string()) as NodeRecord;
  }

  /**
   * Marks a node revoked and adds its key to the revocations map; returns the new map and the
   * node's key.
   */
  async revoke(nodeId: string, now: number): Promise<{ revocations: Revocations; publicKey: string }> {
    const rec = await this.get(nodeId);
    if (!rec) throw new NotFoundError('node', nodeId);
    if (rec.revokedAt === undefined)
      await this.#kv.put(keys.registry(nodeId), JSON.stringify({ ...rec, revokedAt: now }));
    // Ceil: a JWT issued in the same second as the revocation is covered too.
    const at = Math.ceil(now / 1000);
    for (let attempt = 0; attempt < 10; attempt++) {
      const e = await this.#kv.get(revocationsKey);
      const current = e && e.operation === 'PUT' ? (JSON.parse(e.string()) as Record<string, number>) : {};
      const next = { ...current, [rec.publicKey]: current[rec.publicKey] ?? at };
      try {
        if (e) await this.#kv.update(revocationsKey, JSON.stringify(next), e.revision);
        else await this.#kv.create(revocationsKey, JSON.stringify(next));
        return { revocations: next, publicKey: rec.publicKey };
      } catch {
        // concurrent revocation: retry
      }
    }
    throw new ConflictError('revocations changed concurrently; retry');
  }

  /** The current revocations map. */
  async revocations(): Promise<Revocations> {
    const e = await this.#kv.get(revocationsKey);
    return e && e.operation === 'PUT' ? (JSON.parse(e.string()) as Record<string, number>) : {};
  }
}
