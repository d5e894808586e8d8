/**
 * Enrolled nodes in KV `lf_registry` (key = node id) plus one `revocations` key holding the
 * map the fleet account JWT carries (user public key -> unix seconds). Keeping the map in one
 * key means a restarted controller rebuilds the account JWT with one read, at any fleet size.
 * A second key, `revocations-until`, holds for each revoked key when the last credentials issued
 * to it expire (ms): past that (plus a grace for clocks), nothing the entry refuses can still
 * be presented, so `pruneRevocations` drops it and the account JWT stays small. It is a key of
 * its own so that `revocations` keeps the plain map older controllers read.
 *
 * A node record changes only by compare-and-set (enrolment, renewal, revocation), so a renewal
 * racing a revocation loses: the revocation's `until` covers every JWT ever issued to the node,
 * and no JWT is issued after it.
 */
import type { KV } from '@nats-io/kv';
import { NotFoundError, ConflictError } from '@launchfleet/shared';
import { keys, type Inventory } from '@launchfleet/shared/messages';
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
  /** When the credentials last issued to the node expire (ms). Absent: they never expire. */
  readonly credentialsExpireAt?: number;
  /**
   * Every JWT ever issued to the node's key expires by then (ms): the latest expiry issued.
   * Absent when one never expires (a node enrolled before credentials expired, or a JWT issued
   * without expiry): a revocation of the node is then never pruned.
   */
  readonly credentialsExpireBy?: number;
  /** When those credentials were issued (ms). */
  readonly credentialsIssuedAt?: number;
  /** The account key (the account or one of its signing keys) that signed them. */
  readonly credentialsIssuer?: string;
  /** `requestedAt` of the last renewal accepted (ms, the node's clock): only later ones pass. */
  readonly lastRenewalRequestAt?: number;
  /** Renewals accepted so far. */
  readonly renewals?: number;
}

/** What a record says about credentials just issued (see IssuedCredentials). */
export interface IssuedFacts {
  readonly issuedAt: number;
  readonly expiresAt: number | undefined;
  readonly issuer: string;
}

/**
 * The record after credentials were issued to the node: their issue time, expiry and issuer;
 * `credentialsExpireBy` only ever later, or absent for good once a JWT without expiry was
 * issued. `fresh`: a record made now (nothing issued before); otherwise a record without
 * `credentialsExpireBy` stands for a node enrolled before credentials expired.
 */
export function withCredentials(rec: NodeRecord, c: IssuedFacts, fresh = false): NodeRecord {
  const {
    credentialsIssuedAt: _i,
    credentialsExpireAt: _e,
    credentialsExpireBy: before,
    credentialsIssuer: _s,
    ...rest
  } = rec;
  const everyExpires = fresh || before !== undefined;
  const by = everyExpires && c.expiresAt !== undefined ? Math.max(before ?? 0, c.expiresAt) : undefined;
  return {
    ...rest,
    credentialsIssuedAt: c.issuedAt,
    ...(c.expiresAt !== undefined && { credentialsExpireAt: c.expiresAt }),
    ...(by !== undefined && { credentialsExpireBy: by }),
    credentialsIssuer: c.issuer,
  };
}

/** A record and the KV revision it was read at (for compare-and-set). */
export interface VersionedRecord {
  readonly record: NodeRecord;
  readonly revision: number;
}

const revocationsKey = 'revocations';
const untilKey = 'revocations-until';

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
    return (await this.getVersioned(nodeId))?.record;
  }

  /** A record with its revision, for `update`. */
  async getVersioned(nodeId: string): Promise<VersionedRecord | undefined> {
    const e = await this.#kv.get(keys.registry(nodeId));
    if (!e || e.operation !== 'PUT') return undefined;
    return { record: JSON.parse(e.string()) as NodeRecord, revision: e.revision };
  }

  /** Replaces a record read at `revision`; ConflictError when it changed since. */
  async update(rec: NodeRecord, revision: number): Promise<void> {
    try {
      await this.#kv.update(keys.registry(rec.nodeId), JSON.stringify(rec), revision);
    } catch (e) {
      throw new ConflictError(`node ${rec.nodeId} changed concurrently`, { cause: e });
    }
  }

  /**
   * Marks a node revoked and adds its key to the revocations map; returns the new map and the
   * node's key.
   */
  async revoke(nodeId: string, now: number): Promise<{ revocations: Revocations; publicKey: string }> {
    let rec: NodeRecord | undefined;
    for (let attempt = 0; ; attempt++) {
      const v = await this.getVersioned(nodeId);
      if (!v) throw new NotFoundError('node', nodeId);
      rec = v.record;
      if (rec.revokedAt !== undefined) break;
      try {
        await this.update({ ...rec, revokedAt: now }, v.revision);
        break;
      } catch (e) {
        // a renewal or a second revocation in between: read again
        if (attempt >= 9) throw e;
      }
    }
    // Ceil: a JWT issued in the same second as the revocation is covered too.
    const at = Math.ceil(now / 1000);
    // Until first: a crash between the two writes leaves an unused `until`, never an entry
    // without one that could be pruned too early (an entry without `until` is never pruned).
    const until = rec.credentialsExpireBy;
    if (until !== undefined)
      await this.#casMap(untilKey, (m) => ({
        ...m,
        [rec.publicKey]: Math.max(m[rec.publicKey] ?? 0, until),
      }));
    const next = await this.#casMap(revocationsKey, (m) => ({
      ...m,
      [rec.publicKey]: m[rec.publicKey] ?? at,
    }));
    return { revocations: next, publicKey: rec.publicKey };
  }

  /** The current revocations map. */
  async revocations(): Promise<Revocations> {
    return (await this.#readMap(revocationsKey)).map;
  }

  /**
   * Drops the revocations whose credentials have all expired (`until` + `graceMs` before `now`);
   * returns the keys dropped and the map now stored (unchanged: the same object read).
   */
  async pruneRevocations(
    now: number,
    graceMs: number,
  ): Promise<{ pruned: string[]; revocations: Revocations }> {
    const until = (await this.#readMap(untilKey)).map;
    const current = await this.revocations();
    // A JWT is accepted through the whole second of its `exp` (nats-server's jwt: expired when
    // exp < now in Unix seconds), so it expires 1 s after `until`.
    const due = Object.keys(current).filter(
      (k) => until[k] !== undefined && (until[k] ?? 0) + 1000 + graceMs <= now,
    );
    if (due.length === 0) return { pruned: [], revocations: current };
    const dropped = new Set(due);
    const next = await this.#casMap(revocationsKey, (m) =>
      Object.fromEntries(Object.entries(m).filter(([k]) => !dropped.has(k))),
    );
    await this.#casMap(untilKey, (m) =>
      Object.fromEntries(Object.entries(m).filter(([k]) => !dropped.has(k) && next[k] !== undefined)),
    );
    return { pruned: due, revocations: next };
  }

  async #readMap(key: string): Promise<{ map: Record<string, number>; revision: number | undefined }> {
    const e = await this.#kv.get(key);
    if (!e || e.operation !== 'PUT') return { map: {}, revision: e?.revision };
    return { map: JSON.parse(e.string()) as Record<string, number>, revision: e.revision };
  }

  /** Read-modify-write of a map key by compare-and-set, retried on concurrent changes. */
  async #casMap(
    key: string,
    change: (m: Record<string, number>) => Record<string, number>,
  ): Promise<Record<string, number>> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { map, revision } = await this.#readMap(key);
      const next = change(map);
      try {
        if (revision !== undefined) await this.#kv.update(key, JSON.stringify(next), revision);
        else await this.#kv.create(key, JSON.stringify(next));
        return next;
      } catch {
        // concurrent change: retry
      }
    }
    throw new ConflictError(`${key} changed concurrently; retry`);
  }
}
