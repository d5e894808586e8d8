/**
 * One read of every key under a KV key filter as stored now (delete markers included), through a
 * consumer of our own making instead of nats.js's KV watch.
 *
 * Why not `kv.watch()` and stop it: nats.js 3.4 creates its watch consumers with a fixed
 * five-minute inactive threshold, so a stopped watch leaves its consumer on the broker for five
 * minutes. Every agent catches up on every connection; after a broker restart, 10,000 agents
 * left 10,000 idle consumers behind (test/bench/FLEET-RESULTS.md). This consumer is the same
 * kind (push, last value per subject, no acks) but in memory, and the broker drops it
 * `idleMs` after the read unsubscribed. A node needs no extra permission: it may create a
 * consumer filtered to its own keys (identity/permissions.ts) and receive on its inbox prefix.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { createInbox, nuid } from '@nats-io/transport-node';
import { jsApi } from '@launchfleet/shared/messages';
import type { Scheduler } from '@launchfleet/shared/clock';
import type { DesiredEntry } from './desired-follower.ts';

export interface KvCatchUpOptions {
  readonly nc: NatsConnection;
  /** The bucket's stream, e.g. `KV_lf_desired`. */
  readonly stream: string;
  /** The subject prefix of the bucket's keys, e.g. `$KV.lf_desired.` (with the dot). */
  readonly keyPrefix: string;
  /** The key filter as a subject, e.g. `$KV.lf_desired.<node>.>`. */
  readonly filterSubject: string;
  /** The connection's inbox prefix (a node may only receive below its own). */
  readonly inboxPrefix: string;
  readonly scheduler: Scheduler;
  /** How long the broker keeps the consumer once nobody listens (default 5 s). */
  readonly idleMs?: number;
  /** The whole read, creation included, must finish within this (default 10 s). */
  readonly timeoutMs?: number;
}

const kvOperationHdr = 'KV-Operation';

/** The entries under the filter, one per key, in stream order. Throws when the read fails or times out. */
export async function kvCatchUp(o: KvCatchUpOptions): Promise<DesiredEntry[]> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deliver = createInbox(o.inboxPrefix);
  const name = `lfcu_${nuid.next()}`;
  const entries: DesiredEntry[] = [];
  let expected = -1;
  let fail: (e: Error) => void = () => undefined;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  // It may fail (the timer, a subscription error) while the create request is still out, before
  // anything awaits it: an unhandled rejection would end the process. It is awaited below.
  finished.catch(() => undefined);
  const timer = o.scheduler.after(timeoutMs, () =>
    fail(new Error(`catch-up of ${o.filterSubject} incomplete after ${timeoutMs} ms`)),
  );
  // Subscribe first: the broker starts delivering as soon as the consumer exists.
  const sub = o.nc.subscribe(deliver, {
    callback: (err, m) => {
      if (err) return fail(err);
      try {
        const e = entryOf(m, o.keyPrefix);
        if (e) entries.push(e);
      } catch (x) {
        return fail(x instanceof Error ? x : new Error(String(x)));
      }
      if (expected >= 0 && entries.length >= expected) done();
    },
  });
  try {
    // Whichever comes first: the reply, or the read's deadline (the request's own timeout is
    // the same length but started later).
    const reply = await Promise.race([
      finished.then((): never => {
        throw new Error('catch-up ended before its consumer was created');
      }),
      o.nc.request(
        `${jsApi}.CONSUMER.CREATE.${o.stream}.${name}.${o.filterSubject}`,
        JSON.stringify({
          stream_name: o.stream,
          config: {
            name,
            deliver_subject: deliver,
            filter_subject: o.filterSubject,
            deliver_policy: 'last_per_subject',
            ack_policy: 'none',
            max_deliver: 1,
            mem_storage: true,
            num_replicas: 1,
            inactive_threshold: (o.idleMs ?? 5000) * 1_000_000,
          },
        }),
        { timeout: timeoutMs },
      ),
    ]);
    const created = JSON.parse(reply.string()) as {
      error?: { description?: string; code?: number };
      num_pending?: number;
    };
    if (created.error)
      throw new Error(
        `consumer for ${o.filterSubject} refused: ${created.error.description ?? 'unknown error'}`,
      );
    if (typeof created.num_pending !== 'number') throw new Error('consumer created without num_pending');
    expected = created.num_pending;
    if (entries.length >= expected) done();
    await finished;
    // Entries beyond the count were stored after the consumer was made; the live subscription
    // delivers those (and read-back makes a second delivery harmless).
    return entries.slice(0, expected);
  } finally {
    timer.cancel();
    sub.unsubscribe();
  }
}

/** A delivered KV message as an entry; undefined for anything that is not one (flow control). */
function entryOf(m: Msg, keyPrefix: string): DesiredEntry | undefined {
  if (!m.subject.startsWith(keyPrefix)) return undefined;
  const op = m.headers?.get(kvOperationHdr) || 'PUT';
  const data = m.data;
  return {
    key: m.subject.slice(keyPrefix.length),
    operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
    revision: streamSequence(m.reply ?? ''),
    value: data,
    string: () => Buffer.from(data).toString('utf8'),
  };
}

/**
 * The stream sequence from a JetStream delivery's reply subject: the 2.9 form
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ms>.<pending>` or the domain form
 * `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ms>.<pending>[.<token>]`.
 */
export function streamSequence(reply: string): number {
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') throw new Error(`not a JetStream delivery: ${reply || '(no reply)'}`);
  const seq = Number(t.length === 9 ? t[5] : t.length >= 11 ? t[7] : NaN);
  if (!Number.isSafeInteger(seq) || seq <= 0) throw new Error(`no stream sequence in ${reply}`);
  return seq;
}
