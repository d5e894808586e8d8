/**
 * Follows this node's desired state in `lf_desired` without a JetStream consumer.
 *
 * Why: nats-server 2.9 makes a consumer filtered to one node's keys walk the stream past every
 * other node's messages to find its next one and recount its pending messages (profiled:
 * `consumer.loopAndGatherMsgs` 66 % of the broker's CPU during a 5,000-node apply,
 * test/bench/FLEET-RESULTS.md). With one such consumer per node an apply costs the broker N x N.
 * A core subscription to the node's own subjects is matched through the broker's subscription
 * index instead, and a direct get reads one subject's last message without a scan.
 *
 * How:
 * - subscribe to `$KV.lf_desired.<node>.>` first, so nothing stored after the catch-up read can
 *   be missed; then read the node's keys as stored (kv-catch-up.ts: one short-lived consumer that
 *   the broker drops seconds later);
 * - a live message is a hint, not the truth: the follower reads the key back and delivers what
 *   the stream stored (with its revision), retrying for up to ~10 s while the stream has not
 *   stored it yet (a newer stored value is taken at once). A write the stream refused (a lost
 *   compare-and-set) is therefore never applied. A read-back that fails ends the follower, so
 *   the link starts a new session whose catch-up reads everything again: nothing is lost;
 * - one queue: catch-up and live entries are delivered one at a time, in order;
 * - core messages sent while the connection is down are lost: the fleet link starts a new session
 *   (and so a new catch-up) on every connection, and its level checks remove labels whose keys
 *   vanished meanwhile.
 * A node whose credentials predate the subscription permission gets `refused` from start(); the
 * caller then falls back to a consumer watch.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { messageOf } from '@launchfleet/shared/errors';
import type { Scheduler } from '@launchfleet/shared/time/clock';
import { buckets, keys, kvStreamName, kvSubject, subjects } from '@launchfleet/shared/messages/index';
import { kvCatchUp } from './kv-catch-up.ts';

/** What the desired-state gate needs of a KV entry (KvEntry and KvWatchEntry both have it). */
export interface DesiredEntry {
  readonly key: string;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  readonly revision: number;
  readonly value: Uint8Array;
  string(): string;
}

export interface DesiredFollowerOptions {
  readonly nc: NatsConnection;
  readonly nodeId: string;
  readonly scheduler: Scheduler;
  /** Called for every entry, one at a time, in order. Must not throw (the caller guards). */
  readonly onEntry: (e: DesiredEntry) => void;
  readonly log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

/**
 * Read-back attempts of a live message (about 10 s in all) before the stored value is taken as
 * it is: a broker under load may store a message well after it reached the subscribers.
 */
const readBackDelaysMs = [0, 10, 30, 100, 300, 1000, 3000, 5000] as const;
const kvOperationHdr = 'KV-Operation';

export class DesiredFollower {
  readonly #o: DesiredFollowerOptions;
  #kv: KV | undefined;
  #sub: Subscription | undefined;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  /** What was last delivered per key (operation and bytes). */
  readonly #delivered = new Map<string, string>();
  readonly #ended: Promise<void>;
  #end: () => void = () => undefined;

  constructor(o: DesiredFollowerOptions) {
    this.#o = o;
    this.#ended = new Promise<void>((resolve) => {
      this.#end = resolve;
    });
  }

  /** Subscribes and catches up. `refused`: the broker refused the subscription (nothing else started). */
  async start(): Promise<'following' | 'refused'> {
    const nc = this.#o.nc;
    this.#kv = await new Kvm(nc).open(buckets.desired, { allow_direct: true });
    const sub = nc.subscribe(kvSubject(buckets.desired, keys.desiredOf(this.#o.nodeId)), {
      callback: (err, m) => {
        if (!err) this.#enqueue(() => this.#onLive(m)).catch(() => undefined);
      },
    });
    this.#sub = sub;
    let refused = false;
    void sub.closed.then((err) => {
      if (err) refused = true;
      this.#end();
    });
    // The server answers a refused SUB with an error before the flush's PONG.
    await nc.flush();
    await Promise.resolve();
    if (refused || sub.isClosed()) return 'refused';
    void nc.closed().then(() => this.#end());
    await this.#enqueue(() => this.#catchUp());
    return 'following';
  }

  /** Resolves when following stopped: the subscription or the connection closed, or stop(). */
  ended(): Promise<void> {
    return this.#ended;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    try {
      this.#sub?.unsubscribe();
    } catch {
      // The connection is closed already.
    }
    this.#end();
    await this.#queue.catch(() => undefined);
  }

  /** Runs `task` after every earlier one; the returned promise fails with it, the queue goes on. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => (this.#stopped ? undefined : task()));
    this.#queue = run.catch((e: unknown) =>
      this.#o.log?.('debug', `desired state read failed: ${messageOf(e)}`),
    );
    return run;
  }

  /**
   * Every key of this node as stored now, delete markers included, through a short-lived
   * consumer that the broker drops seconds after the read (kv-catch-up.ts). A failure fails
   * start(), and the session is tried again.
   */
  async #catchUp(): Promise<void> {
    const entries = await kvCatchUp({
      nc: this.#o.nc,
      stream: kvStreamName(buckets.desired),
      keyPrefix: `$KV.${buckets.desired}.`,
      filterSubject: kvSubject(buckets.desired, keys.desiredOf(this.#o.nodeId)),
      inboxPrefix: subjects.nodeInboxPrefix(this.#o.nodeId),
      scheduler: this.#o.scheduler,
    });
    for (const e of entries) {
      if (this.#stopped) return;
      this.#deliver(e);
    }
  }

  /** Delivers `e` and remembers what was delivered for its key (to tell a newer stored value). */
  #deliver(e: DesiredEntry): void {
    this.#delivered.set(e.key, fingerprint(e));
    this.#o.onEntry(e);
  }

  async #onLive(m: Msg): Promise<void> {
    const kv = this.#kv;
    if (!kv) return;
    const prefix = `$KV.${buckets.desired}.`;
    if (!m.subject.startsWith(prefix)) return;
    const key = m.subject.slice(prefix.length);
    const op = m.headers?.get(kvOperationHdr) || 'PUT';
    let stored: KvEntry | null = null;
    try {
      for (const delay of readBackDelaysMs) {
        if (delay > 0) await new Promise<void>((r) => this.#o.scheduler.after(delay, r));
        if (this.#stopped) return;
        stored = await kv.get(key);
        if (matches(stored, op, m.data)) break;
        // Superseded already (the stream holds a value this follower has not delivered): take it.
        if (stored && fingerprint(stored) !== this.#delivered.get(key)) break;
        // Otherwise the stream has not stored it yet, or refused it (a lost compare-and-set): wait.
      }
    } catch (e) {
      // The read failed: this update would be lost until the next connection. End, so that the
      // link starts a new session, whose catch-up reads everything again.
      this.#o.log?.('warn', `desired state read-back of ${key} failed (${messageOf(e)}): starting over`);
      this.#end();
      return;
    }
    if (stored) this.#deliver(stored);
    else if (op !== 'PUT')
      // Deleted and gone (no marker kept): a removal all the same.
      this.#deliver({
        key,
        operation: op === 'PURGE' ? 'PURGE' : 'DEL',
        revision: 0,
        value: new Uint8Array(0),
        string: () => '',
      });
  }
}

function fingerprint(e: DesiredEntry): string {
  return `${e.operation}:${Buffer.from(e.value).toString('base64')}`;
}

/** Does the stored entry show this live message (the same operation and, for a put, the same bytes)? */
function matches(e: KvEntry | null, op: string, data: Uint8Array): boolean {
  if (op !== 'PUT') return e === null || e.operation !== 'PUT';
  return e !== null && e.operation === 'PUT' && Buffer.from(e.value).equals(Buffer.from(data));
}
