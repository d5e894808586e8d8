/**
 * In-memory stand-ins for the desired-state service's buckets (`lf_jobs`, `lf_desired`) and its
 * per-node index, for the service's unit tests (fakes only in unit tests; the real buckets are the
 * integration tier's). They keep what the service relies on: revisions, compare-and-set (a create
 * of a live key, an update or delete at another revision lose as JetStream's "wrong last
 * sequence"), deletes that leave a `DEL` entry. `failWith` makes a call fail the way the broker
 * does when it does not answer, before the call changes anything; `loseAnswer` after it did (a
 * write stored whose answer was lost). Also the signed bundles to fill them with.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { errors as natsErrors } from '@nats-io/nats-core';
import { keys } from '@launchfleet/shared/messages';
import { type SigningKey, encodeSignedBundle, signBundle } from '@launchfleet/shared/signing';
import type { Clock } from '@launchfleet/shared';
import type { DesiredIndex } from '../desired-index.ts';
import { type DesiredStateDeps, DesiredStateService } from '../desired-state-service.ts';
import type { JobRecord } from '../job-record.ts';

export type KvCall = 'get' | 'create' | 'update' | 'delete';

interface Stored {
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL';
  readonly value: string;
}

function wrongRevision(key: string): Error {
  return Object.assign(new Error(`wrong last sequence: ${key}`), { api_error: { err_code: 10071 } });
}

export class FakeKv {
  readonly #entries = new Map<string, Stored>();
  #revision = 0;
  /** Every call made, in order: `get n1.x`, `update n1.x`. */
  readonly calls: string[] = [];
  /** Asked before each call: an error it returns is thrown instead, and nothing changes. */
  failWith: (call: KvCall, key: string) => Error | undefined = () => undefined;
  /** Asked after each call that changed something: an error it returns is thrown all the same. */
  loseAnswer: (call: KvCall, key: string) => Error | undefined = () => undefined;
  /**
   * The server's max_payload: a longer value is refused before it is sent, as nats.js does
   * (its InvalidArgumentError). Default: no limit.
   */
  maxValueBytes = Infinity;
  /** Asked before each listing of keys: an error it returns is thrown instead. */
  failKeys: () => Error | undefined = () => undefined;

  /** The live value under `key`, if any. */
  value(key: string): string | undefined {
    const s = this.#entries.get(key);
    return s?.operation === 'PUT' ? s.value : undefined;
  }

  /** Stores `value` under `key` without a call (the state a test starts from). */
  seed(key: string, value: string): void {
    this.#entries.set(key, { revision: ++this.#revision, operation: 'PUT', value });
  }

  get kv(): KV {
    return this as unknown as KV;
  }

  #call(call: KvCall, key: string): void {
    this.calls.push(`${call} ${key}`);
    const e = this.failWith(call, key);
    if (e) throw e;
  }

  #set(call: KvCall, key: string, operation: 'PUT' | 'DEL', value: string): number {
    this.#entries.set(key, { revision: ++this.#revision, operation, value });
    const lost = this.loseAnswer(call, key);
    if (lost) throw lost;
    return this.#revision;
  }

  get(key: string): Promise<KvEntry | null> {
    return Promise.resolve().then(() => {
      this.#call('get', key);
      const s = this.#entries.get(key);
      if (!s) return null;
      const bytes = new TextEncoder().encode(s.value);
      return {
        key,
        revision: s.revision,
        operation: s.operation,
        value: bytes,
        string: () => s.value,
      } as unknown as KvEntry;
    });
  }

  #fits(value: string): void {
    if (Buffer.byteLength(value) > this.maxValueBytes)
      throw natsErrors.InvalidArgumentError.format('payload', 'max_payload size exceeded');
  }

  create(key: string, value: string): Promise<number> {
    return Promise.resolve().then(() => {
      this.#fits(value);
      this.#call('create', key);
      if (this.#entries.get(key)?.operation === 'PUT') throw wrongRevision(key);
      return this.#set('create', key, 'PUT', value);
    });
  }

  update(key: string, value: string, revision: number): Promise<number> {
    return Promise.resolve().then(() => {
      this.#fits(value);
      this.#call('update', key);
      if (this.#entries.get(key)?.revision !== revision) throw wrongRevision(key);
      return this.#set('update', key, 'PUT', value);
    });
  }

  delete(key: string, opts?: { previousSeq?: number }): Promise<void> {
    return Promise.resolve().then(() => {
      this.#call('delete', key);
      if (opts?.previousSeq !== undefined && this.#entries.get(key)?.revision !== opts.previousSeq)
        throw wrongRevision(key);
      this.#set('delete', key, 'DEL', '');
    });
  }

  /** The live keys; a filter `*<suffix>` (what the service asks for) keeps those ending so. */
  keys(filter = '>'): Promise<Iterable<string>> {
    const failed = this.failKeys();
    if (failed) return Promise.reject(failed);
    const live = [...this.#entries].filter(([, s]) => s.operation === 'PUT').map(([k]) => k);
    const suffix = filter.startsWith('*') ? filter.slice(1) : '';
    const out =
      filter === '>'
        ? live
        : live.filter((k) => k.endsWith(suffix) && !k.slice(0, -suffix.length).includes('.'));
    return Promise.resolve(out);
  }
}

/**
 * The index's two key writes over a fake `lf_desired`, without the index itself (its own rules
 * are desired-index.ts's and the integration tier's): a live key is updated at its revision,
 * another created (or updated at its tombstone's revision); a delete is at the key's revision.
 */
export function fakeIndex(desired: FakeKv): DesiredIndex {
  return {
    writeKey: (nodeId: string, label: string, value: string, prev: KvEntry | null) =>
      prev === null
        ? desired.create(keys.desired(nodeId, label), value)
        : desired.update(keys.desired(nodeId, label), value, prev.revision),
    deleteKey: (nodeId: string, label: string, prev: KvEntry) =>
      desired.delete(keys.desired(nodeId, label), { previousSeq: prev.revision }),
  } as unknown as DesiredIndex;
}

/** A job record: version 3 of `label`, target all, applied by `op`. */
export function jobRecord(
  o: Pick<JobRecord, 'label' | 'plist' | 'nodeIds' | 'updatedAt'> & Partial<JobRecord>,
): JobRecord {
  return {
    v: 1,
    domain: 'system',
    version: 3,
    target: { kind: 'all' },
    updatedBy: 'op',
    deleted: false,
    ...o,
  };
}

/** `jobRecord(o)` as `lf_jobs` holds it. */
export function jobRecordJson(
  o: Pick<JobRecord, 'label' | 'plist' | 'nodeIds' | 'updatedAt'> & Partial<JobRecord>,
): string {
  return JSON.stringify(jobRecord(o));
}

/** The bundle an apply issued at `issuedAt` (30 days' validity) writes for `nodeId`, signed by `key`. */
export function bundleFor(o: {
  label: string;
  plist: string;
  version: number;
  nodeId: string;
  issuedAt: number;
  key: SigningKey;
}): string {
  return encodeSignedBundle(
    signBundle(
      {
        label: o.label,
        domain: 'system',
        plist: o.plist,
        version: o.version,
        issuedAt: o.issuedAt,
        expiresAt: o.issuedAt + 30 * 24 * 3600_000,
        keyId: o.key.keyId,
        nodeId: o.nodeId,
      },
      o.key,
    ),
  );
}

/**
 * The desired-state service over these fakes: it targets `nodes` (all registered) and signs with
 * `key`; `more` adds or overrides dependencies (a broker connection, the concurrency).
 */
export function serviceOverFakes(
  o: { jobs: FakeKv; desired: FakeKv; nodes: readonly string[]; key: SigningKey; clock: Clock },
  more: Partial<DesiredStateDeps> = {},
): DesiredStateService {
  return new DesiredStateService({
    desired: o.desired.kv,
    index: fakeIndex(o.desired),
    jobs: o.jobs.kv,
    signingKey: () => o.key,
    candidates: () =>
      o.nodes.map((nodeId) => ({ nodeId, hostname: nodeId, labels: {}, registered: true, revoked: false })),
    clock: o.clock,
    ...more,
  });
}
