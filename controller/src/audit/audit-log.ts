/**
 * The audit stream `LF_AUDIT`: one message per change made (or refused) through the API, on
 * `lf.audit.<method>`, JSON `{ v:1, at, who, role, method, target, outcome, detail }`.
 * Several controllers write to the same stream; JetStream orders the entries. Reading is
 * bounded: at most `scanWindow` of the newest messages are looked at for one listing.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { boundedDetail, auditStream, isRecord } from '@launchfleet/shared/messages';
import { ensureStream } from '../identity/stream-limits.ts';

/** One audit entry. */
export interface AuditEntry {
  readonly seq: number;
  readonly at: number;
  /** The API token's name (`anonymous` when none was presented). */
  readonly who: string;
  readonly role: string;
  readonly method: string;
  /** A label, node id or token id; may be empty. */
  readonly target: string;
  /** `OK` or a gRPC status name. */
  readonly outcome: string;
  readonly detail: string;
}

export type AuditRecord = Omit<AuditEntry, 'seq'>;

/** Creates (or updates) the audit stream. */
export async function provisionAuditStream(nc: NatsConnection, replicas: number): Promise<void> {
  const config = {
    name: auditStream.name,
    subjects: [...auditStream.subjects],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: auditStream.maxAgeMs * 1_000_000,
    max_bytes: auditStream.maxBytes,
    max_msg_size: auditStream.maxMsgSize,
    num_replicas: replicas,
    storage: StorageType.File,
  };
  await ensureStream(nc, config);
}

export class AuditLog {
  readonly #nc: NatsConnection;
  readonly #scanWindow: number;

  constructor(nc: NatsConnection, scanWindow = 20_000) {
    this.#nc = nc;
    this.#scanWindow = scanWindow;
  }

  /** Appends an entry and waits for the stream's acknowledgement. */
  async record(r: AuditRecord): Promise<void> {
    const body = {
      v: 1,
      ...r,
      target: boundedDetail(r.target, 512),
      detail: boundedDetail(r.detail, 2048),
    };
    await jetstream(this.#nc).publish(auditStream.subject(r.method), JSON.stringify(body));
  }

  /** The newest entries first, at most `limit`, optionally of one method. */
  async list(limit: number, method?: string): Promise<AuditEntry[]> {
    const jsm = await jetstreamManager(this.#nc);
    const info = await jsm.streams.info(auditStream.name);
    const last = info.state.last_seq;
    if (info.state.messages === 0) return [];
    const start = Math.max(info.state.first_seq, last - this.#scanWindow + 1);
    const js = jetstream(this.#nc);
    const consumer = await js.consumers.get(auditStream.name, {
      filter_subjects: method ? auditStream.subject(method) : auditStream.subjects[0],
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
    });
    const ring: AuditEntry[] = [];
    try {
      for (;;) {
        const m = await consumer.next({ expires: 1000 });
        if (!m) break;
        const e = parseEntry(m.seq, m.data);
        if (e) {
          ring.push(e);
          if (ring.length > limit) ring.shift();
        }
        if (m.info.pending === 0 || m.seq >= last) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    return ring.reverse();
  }
}

function parseEntry(seq: number, data: Uint8Array): AuditEntry | undefined {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (!isRecord(o)) return undefined;
  const s = (k: string) => (typeof o[k] === 'string' ? o[k] : '');
  return {
    seq,
    at: typeof o['at'] === 'number' ? o['at'] : 0,
    who: s('who'),
    role: s('role'),
    method: s('method'),
    target: s('target'),
    outcome: s('outcome'),
    detail: s('detail'),
  };
}
