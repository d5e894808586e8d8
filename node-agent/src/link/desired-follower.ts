/**
 * Follows this node's desired state in `lf_desired` without a JetStream consumer and without a
 * JetStream API request: what a session costs the broker does not grow with the fleet.
 *
 * Why: a consumer per agent made nats-server 2.9 walk the stream past every other node's messages
 * (N x N per apply, profiled in test/bench/FLEET-RESULTS.md), made a broker restart at 10,000
 * agents stall on consumer creation and reply bookkeeping, and does not fit current servers
 * (a 10,000-deep API queue since 2.10.21, 1,000 consumers per stream by default in 2.15). A core
 * subscription is matched through the broker's subscription index, and a direct get of one subject
 * is served by the stream itself, outside the JetStream API queue.
 *
 * How:
 * - subscribe to `$KV.lf_desired.<node>.>` first, so nothing stored after the catch-up read can
 *   be missed;
 * - catch up: one direct get of the node's index (`<node>._index`, the label tokens it may have,
 *   kept a superset of its live keys by the controller: shared/src/messages/desired-index.ts),
 *   then one direct get per listed key and per label this node already runs (so a removal made
 *   while it was away is seen): 2 + k direct gets for k labels, whatever the fleet size. A
 *   removal is a delete marker; a label it runs with nothing stored at all is a store that lost
 *   its data, reported and left running (onMissing), never a reason to stop a fleet's jobs. A node
 *   without an index (a controller older than the index) is caught up once through a short-lived
 *   consumer of its own keys (kv-catch-up.ts) and says so in its log;
 * - a live message is a hint, not the truth: the follower reads the key back and delivers what
 *   the stream stored (with its revision), looking again for up to ~10 s while the stream has not
 *   stored it yet (a newer stored value is taken at once). A write the stream refused (a lost
 *   compare-and-set, or garbage published on the subject) is therefore never applied. Those
 *   later looks wait on a timer per key, outside the queue: a message that never gets stored
 *   holds up neither other keys nor a newer message for its own key, which replaces its wait
 *   (before, each one held every later entry for ~10 s). A read-back that fails ends the
 *   follower, so the link starts a new session whose catch-up reads everything again: nothing is
 *   lost. A read-back (or an index read) NATS *denies* these credentials does not: a new
 *   session's catch-up would be denied too and wait long, while this one still brings every
 *   other change. The denial is said once (nats-edge.ts, the pacing kept across sessions), and
 *   the session reads everything again by the re-read below, brought forward to the pacing's
 *   wait (the sooner of it and the re-read period), until a read goes through;
 * - a live message on the index reads the keys it lists that this session has not delivered
 *   (a controller lists a label before creating its key and writes the index again after);
 * - one queue: catch-up and live entries are delivered one at a time, in order;
 * - core messages sent while the connection is down are lost: the fleet link starts a new session
 *   (and so a new catch-up) on every connection;
 * - core messages can also be lost while the connection stays up: a server cut from its cluster
 *   (its routes down, its clients connected) does not receive what the other servers store, and
 *   nothing replays it after the heal (test/src/integration/fault-cluster-split.test.ts). So every
 *   `recheckMs` (default 5 min, +/- 20 %) the follower reads its index and keys again, as a
 *   catch-up does, and delivers only what differs from what it delivered: 1 + k direct gets per
 *   node and period, which at 10,000 nodes with two jobs each is about 100 gets a second.
 * - in a cluster a read can also be answered from behind: nats-server serves direct gets from
 *   every replica, and a replica that is catching up (a server just restarted, or one slower than
 *   the two that committed the write) answers with what it has. The subscription does not cover
 *   that gap: the write's live message can leave the stream leader's server before this
 *   session's interest has reached it (interest crosses the cluster's routes on its own time),
 *   so a catch-up read from such a replica leaves the node one version behind until the re-read
 *   above. So, when the server is in a cluster, the follower reads everything again once
 *   `settleRecheckMs` (default 20 s, +/- 50 %) after each catch-up, and after a read-back whose
 *   last look still did not find its live message stored: one more 1 + k gets per session,
 *   instead of up to 6 minutes behind. And a read never takes a key back: an entry older (by
 *   its stream revision) than what the session delivered for that key is such a replica's, not
 *   a change, and is not delivered (monotonic reads within a session).
 *   (A candidate cause, not confirmed, of what a 20,000-agent rolling restart showed: 255 nodes
 *   had not run an apply made during the roll 300 s after it, test/bench/FLEET-RESULTS.md.)
 * A node whose credentials predate the subscription permission gets `refused` from start(); the
 * caller then falls back to a consumer watch.
 *
 * Over 400 lines (a fifth of them this header): the catch-up, the live read-backs, the index
 * messages and the re-read share one queue, one map of what was delivered and one pacing, and
 * "nothing is lost" holds only while they do. The seam if it grows: the re-read (#recheck,
 * #rereadNow, #readAgainAfter), which needs only the delivered map and the direct get.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { messageOf } from '@launchfleet/shared/errors';
import type { Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import {
  buckets,
  decodeDesiredIndex,
  keys,
  kvStreamName,
  kvSubject,
  subjects,
} from '@launchfleet/shared/messages';
import { kvCatchUp } from './kv-catch-up.ts';
import {
  type EdgeFailure,
  type EdgePacing,
  credentialName,
  defaultDeniedWaitMs,
  deniedLine,
  edgeFailure,
} from './nats-edge.ts';

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
  /** The `lf_desired` bucket, opened already (tests); default: opened on `nc` with direct gets. */
  readonly kv?: KV;
  readonly nodeId: string;
  readonly scheduler: Scheduler;
  /** Called for every entry, one at a time, in order. Must not throw (the caller guards). */
  readonly onEntry: (e: DesiredEntry) => void;
  /** Label tokens this node runs now (from its own state): read at catch-up to notice removals. */
  readonly known?: () => Iterable<string>;
  /**
   * A label this node runs whose key holds nothing at all at catch-up, not even a delete marker.
   * The controller removes a label by a delete marker and never purges, so this is a store that
   * lost its data (a wiped or re-created stream, a restored backup), not a removal: the job keeps
   * running and the caller reports it. Called once per key and session.
   */
  readonly onMissing?: (key: string) => void;
  readonly log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** How log lines name the node's NATS credential (nats-edge.ts `credentialName`). */
  readonly credential?: string;
  /**
   * What was said already, kept across this node's sessions (nats-edge.ts): a read NATS denies
   * these credentials is said once at error, naming the subject and the credential, until a
   * catch-up or a re-read succeeds; and how long a denied read waits (its `deniedWaitMs`). (The
   * pacing of a failed session is the link loop's: a denied catch-up waits long.)
   */
  readonly pacing?: EdgePacing;
  /** The period of the safety-net re-read (see the header); 0 turns it off. Default 5 min. */
  readonly recheckMs?: number;
  /**
   * In a cluster, the re-read soon after a catch-up and after a read-back that never saw its
   * message stored (see the header); 0 turns it off. Default 20 s (+/- 50 %).
   */
  readonly settleRecheckMs?: number;
  /** Randomness for the re-read's jitter. Default Math.random. */
  readonly random?: () => number;
}

/** The safety-net re-read's default period (see the header). */
export const desiredRecheckDefaultMs = 300_000;
/** The settling re-read's default delay in a cluster (see the header). */
export const desiredSettleRecheckDefaultMs = 20_000;

/** What a follower asked of the broker (tests, the simulator's counts). */
export interface DesiredFollowerStats {
  /** Direct gets (index, keys, read-backs, re-reads). */
  directGets: number;
  /** Safety-net re-reads done, and entries they found changed (a live message that never came). */
  rechecks: number;
  recheckCaughtUp: number;
  /** Catch-ups through a short-lived consumer (no index: an older controller). */
  consumerCatchUps: number;
}

/**
 * The delays before each look at what the stream stored for a live message (about 10 s in all)
 * before the stored value is taken as it is: a broker under load may store a message well after
 * it reached the subscribers.
 */
const readBackDelaysMs = [0, 10, 30, 100, 300, 1000, 3000, 5000] as const;
const kvOperationHdr = 'KV-Operation';
/** Direct gets in flight at once during a catch-up. */
const catchUpBatch = 16;

export class DesiredFollower {
  readonly #o: DesiredFollowerOptions;
  #kv: KV | undefined;
  #sub: Subscription | undefined;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  /** What was last delivered per key (operation and bytes). */
  readonly #delivered = new Map<string, string>();
  /** The stream revision last delivered per key (monotonic reads: see #behind). */
  readonly #revisions = new Map<string, number>();
  /** Keys whose live message is not stored yet: the timer of the next look (the newest message's). */
  readonly #waiting = new Map<string, TimerHandle>();
  readonly #ended: Promise<void>;
  #end: () => void = () => undefined;
  readonly stats: DesiredFollowerStats = {
    directGets: 0,
    consumerCatchUps: 0,
    rechecks: 0,
    recheckCaughtUp: 0,
  };
  #recheckTimer: TimerHandle | undefined;
  /** The re-read after a denied read (see the header), while one is due. */
  #deniedRetry: TimerHandle | undefined;
  /** The settling re-read in a cluster (see the header), while one is due. */
  #settleTimer: TimerHandle | undefined;

  constructor(o: DesiredFollowerOptions) {
    this.#o = o;
    this.#ended = new Promise<void>((resolve) => {
      this.#end = resolve;
    });
  }

  /** Subscribes and catches up. `refused`: the broker refused the subscription (nothing else started). */
  async start(): Promise<'following' | 'refused'> {
    const nc = this.#o.nc;
    this.#kv = this.#o.kv ?? (await new Kvm(nc).open(buckets.desired, { allow_direct: true }));
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
    try {
      await this.#enqueue(() => this.#catchUp());
    } catch (e) {
      // The session fails and the link retries (with backoff, or after a long wait when NATS
      // denied the read: link-failure.ts); nothing this node runs stops.
      const f = edgeFailure(e, `reading this node's desired state from ${kvStreamName(buckets.desired)}`);
      if (this.#denied(f) === undefined)
        this.#o.log?.(
          'warn',
          `cannot read this node's desired state from ${kvStreamName(buckets.desired)} (${messageOf(e)}): the stream may be missing or unavailable; jobs keep running, retrying`,
        );
      // As caught: the link loop classifies it the same way (natsError) and paces the session.
      throw e;
    }
    this.#o.pacing?.ok();
    this.#armRecheck();
    this.#settleSoon('the re-read after the catch-up');
    return 'following';
  }

  /**
   * In a cluster, reads everything again once, soon (see the header): what a replica behind the
   * others answered is then corrected in seconds rather than at the next periodic re-read.
   */
  #settleSoon(why: string): void {
    const delay = this.#o.settleRecheckMs ?? desiredSettleRecheckDefaultMs;
    if (this.#stopped || delay <= 0 || this.#settleTimer !== undefined || this.#o.nc.isClosed()) return;
    // A single server has no replica to be behind (the INFO of a clustered server names its cluster).
    if (this.#o.nc.info?.cluster === undefined) return;
    const ms = Math.round(delay * (0.5 + (this.#o.random ?? Math.random)()));
    this.#settleTimer = this.#o.scheduler.after(ms, () => {
      this.#settleTimer = undefined;
      void this.#rereadNow(why);
    });
  }

  #armRecheck(): void {
    const period = this.#o.recheckMs ?? desiredRecheckDefaultMs;
    // A closed connection ends this follower (the link starts a new session and a new catch-up).
    if (this.#stopped || period <= 0 || this.#o.nc.isClosed()) return;
    const ms = Math.round(period * (0.8 + 0.4 * (this.#o.random ?? Math.random)()));
    this.#recheckTimer = this.#o.scheduler.after(ms, () => {
      this.#recheckTimer = undefined;
      void this.#rereadNow('the periodic re-read').finally(() => this.#armRecheck());
    });
  }

  /**
   * Reads everything again now (#recheck, in the queue). A failure is not a reason to end the
   * session: a denial brings the next re-read forward to the pacing's wait (#readAgainAfter);
   * anything else waits for the next period (or a reconnect).
   */
  async #rereadNow(why: string): Promise<void> {
    try {
      await this.#enqueue(() => this.#recheck(why));
      this.#o.pacing?.ok();
    } catch (e) {
      const wait = this.#denied(edgeFailure(e, 'the desired state re-read'));
      if (wait !== undefined) this.#readAgainAfter(wait);
      else this.#o.log?.('warn', `desired state re-read failed (${messageOf(e)}): trying again later`);
    }
  }

  /**
   * A read this session needed was denied: the session stays (its subscription still brings
   * every other change; the jobs keep running) and everything is read again after `ms` (the
   * pacing's wait for a denial), or after the re-read period when that is sooner, until a read
   * goes through. The re-read delivers whatever differs from what was delivered, so the denied
   * change is taken then.
   */
  #readAgainAfter(ms: number): void {
    if (this.#stopped || this.#deniedRetry !== undefined || this.#o.nc.isClosed()) return;
    const period = this.#o.recheckMs ?? desiredRecheckDefaultMs;
    this.#deniedRetry = this.#o.scheduler.after(period > 0 ? Math.min(ms, period) : ms, () => {
      this.#deniedRetry = undefined;
      void this.#rereadNow('the re-read after a denied read');
    });
  }

  /**
   * The safety-net re-read: the index and every key it lists, this node runs or was delivered,
   * read as stored now; delivers only what differs from what this session delivered. A key with
   * nothing stored at all is left alone here (a catch-up reports it; see onMissing).
   */
  async #recheck(why: string): Promise<void> {
    const kv = this.#kv;
    if (!kv || this.#stopped) return;
    const node = this.#o.nodeId;
    this.stats.rechecks++;
    const idx = await this.#get(kv, keys.desiredIndex(node));
    const decoded = idx !== null && idx.operation === 'PUT' ? decodeDesiredIndex(idx.value) : undefined;
    const tokens = new Set<string>(decoded?.ok ? decoded.value.tokens : []);
    for (const t of this.#o.known?.() ?? []) tokens.add(t);
    for (const k of this.#delivered.keys())
      if (k.startsWith(`${node}.`)) tokens.add(k.slice(node.length + 1));
    const list = [...tokens];
    for (let i = 0; i < list.length; i += catchUpBatch) {
      const batch = list.slice(i, i + catchUpBatch);
      const got = await Promise.all(batch.map((t) => this.#get(kv, `${node}.${t}`)));
      for (const e of got) {
        if (this.#stopped) return;
        if (e === null || this.#delivered.get(e.key) === fingerprint(e) || this.#behind(e)) continue;
        // A live message still waiting for its read-back keeps waiting: it may be newer than this.
        this.stats.recheckCaughtUp++;
        this.#o.log?.(
          'info',
          `desired: ${e.key} changed with no message reaching this node, or one whose read failed (revision ${e.revision}): caught up by ${why}`,
        );
        this.#deliver(e);
      }
    }
  }

  /** Resolves when following stopped: the subscription or the connection closed, or stop(). */
  ended(): Promise<void> {
    return this.#ended;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#recheckTimer?.cancel();
    this.#recheckTimer = undefined;
    this.#deniedRetry?.cancel();
    this.#deniedRetry = undefined;
    this.#settleTimer?.cancel();
    this.#settleTimer = undefined;
    for (const t of this.#waiting.values()) t.cancel();
    this.#waiting.clear();
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

  /** Every key of this node as stored now, through its index (see the header). */
  async #catchUp(): Promise<void> {
    const kv = this.#kv;
    if (!kv) return;
    const node = this.#o.nodeId;
    const idx = await this.#get(kv, keys.desiredIndex(node));
    const decoded = idx !== null && idx.operation === 'PUT' ? decodeDesiredIndex(idx.value) : undefined;
    if (decoded !== undefined && !decoded.ok)
      this.#o.log?.(
        'warn',
        `desired-state index unreadable (${decoded.error.detail}): catching up by a consumer`,
      );
    const known = new Set(this.#o.known?.() ?? []);
    if (decoded === undefined || !decoded.ok) {
      if (decoded === undefined)
        this.#o.log?.('info', 'no desired-state index (an older controller): catching up by a consumer');
      this.stats.consumerCatchUps++;
      const entries = await kvCatchUp({
        nc: this.#o.nc,
        stream: kvStreamName(buckets.desired),
        keyPrefix: `$KV.${buckets.desired}.`,
        filterSubject: kvSubject(buckets.desired, keys.desiredOf(node)),
        inboxPrefix: subjects.nodeInboxPrefix(node),
        scheduler: this.#o.scheduler,
      });
      for (const e of entries) {
        if (this.#stopped) return;
        if (this.#isIndexKey(e.key)) continue;
        known.delete(e.key.slice(node.length + 1));
        this.#deliver(e);
      }
      // Labels this node runs with nothing stored at all: the store lost them (see onMissing).
      for (const token of known) if (!this.#stopped) this.#o.onMissing?.(`${node}.${token}`);
      return;
    }
    const tokens = [...new Set([...decoded.value.tokens, ...known])];
    this.#o.log?.('debug', `desired: catch-up of ${tokens.length} keys`);
    await this.#readKeys(kv, tokens, known);
  }

  /**
   * Reads the node's keys for `tokens` (a few at once) and delivers them in order. A removal is
   * a delete marker, delivered like any entry; a token with nothing stored at all is reported
   * missing when this node runs it (`known`: see onMissing) and is nothing otherwise.
   */
  async #readKeys(kv: KV, tokens: readonly string[], known: ReadonlySet<string>): Promise<void> {
    const node = this.#o.nodeId;
    for (let i = 0; i < tokens.length; i += catchUpBatch) {
      const batch = tokens.slice(i, i + catchUpBatch);
      const got = await Promise.all(batch.map((t) => this.#get(kv, `${node}.${t}`)));
      for (const [j, e] of got.entries()) {
        if (this.#stopped) return;
        const token = batch[j] ?? '';
        if (e !== null) this.#deliver(e);
        else if (known.has(token)) this.#o.onMissing?.(`${node}.${token}`);
      }
    }
  }

  /** The index changed: read the keys it lists that this session has not delivered yet. */
  async #onIndex(): Promise<void> {
    const kv = this.#kv;
    if (!kv) return;
    let idx: KvEntry | null;
    try {
      idx = await this.#get(kv, keys.desiredIndex(this.#o.nodeId));
    } catch (e) {
      this.#readFailed(e, 'reading the desired-state index', 'desired-state index read');
      return;
    }
    if (idx === null || idx.operation !== 'PUT') return;
    const d = decodeDesiredIndex(idx.value);
    if (!d.ok) return;
    const fresh = d.value.tokens.filter((t) => !this.#delivered.has(`${this.#o.nodeId}.${t}`));
    this.#o.log?.('debug', `desired: index lists ${d.value.tokens.length} keys, ${fresh.length} new`);
    try {
      await this.#readKeys(kv, fresh, new Set());
    } catch (e) {
      this.#readFailed(e, 'reading desired state', 'desired state read');
    }
  }

  /**
   * A read of the live path failed (an index read, a read-back): a denial keeps the session and
   * reads again later (#readAgainAfter); anything else ends the follower, so the link starts a
   * new session whose catch-up reads everything again.
   */
  #readFailed(e: unknown, doing: string, what: string): void {
    const wait = this.#denied(edgeFailure(e, doing));
    if (wait !== undefined) {
      this.#readAgainAfter(wait);
      return;
    }
    this.#o.log?.('warn', `${what} failed (${messageOf(e)}): starting over`);
    this.#end();
  }

  /**
   * A read NATS denied these credentials: said at error, naming the subject and the credential
   * (once, with `pacing`, until a catch-up or re-read succeeds). Returns how long to wait before
   * reading again, or undefined when `f` was not a denial.
   */
  #denied(f: EdgeFailure): number | undefined {
    if (f.kind !== 'denied') return undefined;
    const subject = `the direct gets of ${kvSubject(buckets.desired, keys.desiredOf(this.#o.nodeId))}`;
    const credential = this.#o.credential ?? credentialName(this.#o.nodeId);
    const log = (level: 'debug' | 'info' | 'warn' | 'error', _label: string, msg: string) =>
      this.#o.log?.(level, msg);
    const doing = "reading this node's desired state";
    if (this.#o.pacing) return this.#o.pacing.failed(f, { doing, subject, credential, log });
    log('error', 'link', deniedLine(doing, subject, credential, f.error));
    return defaultDeniedWaitMs;
  }

  #isIndexKey(key: string): boolean {
    return key === keys.desiredIndex(this.#o.nodeId);
  }

  async #get(kv: KV, key: string): Promise<KvEntry | null> {
    this.stats.directGets++;
    return kv.get(key);
  }

  /** A live delete whose key has nothing stored any more (the marker is gone already): a removal. */
  #deliverGone(key: string, op: 'DEL' | 'PURGE'): void {
    this.#deliver({ key, operation: op, revision: 0, value: new Uint8Array(0), string: () => '' });
  }

  /**
   * Is `e` older than what this session delivered for its key? A replica behind the others
   * answers a direct get with what it has (see the header); a key's revision (its stream
   * sequence) only grows, so an older one is that replica's, never a change: not delivered.
   */
  #behind(e: DesiredEntry): boolean {
    const r = this.#revisions.get(e.key);
    return r !== undefined && e.revision > 0 && e.revision < r;
  }

  /** Delivers `e` and remembers what was delivered for its key (to tell a newer stored value). */
  #deliver(e: DesiredEntry): void {
    this.#delivered.set(e.key, fingerprint(e));
    if (e.revision > 0) this.#revisions.set(e.key, e.revision);
    this.#o.onEntry(e);
  }

  async #onLive(m: Msg): Promise<void> {
    const prefix = `$KV.${buckets.desired}.`;
    if (!this.#kv || !m.subject.startsWith(prefix)) return;
    const key = m.subject.slice(prefix.length);
    this.#o.log?.('debug', `desired: live ${key} ${m.headers?.get(kvOperationHdr) || 'PUT'}`);
    if (this.#isIndexKey(key)) return this.#onIndex();
    // A newer message for the key replaces an older one's wait: its read-back sees the newest value.
    this.#waiting.get(key)?.cancel();
    this.#waiting.delete(key);
    await this.#readBack(key, m.headers?.get(kvOperationHdr) || 'PUT', m.data, 0);
  }

  /**
   * Look number `attempt` (see readBackDelaysMs) at what the stream stored for a live message.
   * Delivers it when stored, or a newer value; otherwise looks again after the next delay, on a
   * timer, so the queue goes on meanwhile. After the last look the stored value is taken as it is,
   * unless it is older than what this session delivered (#behind).
   */
  async #readBack(key: string, op: string, data: Uint8Array, attempt: number): Promise<void> {
    const kv = this.#kv;
    if (!kv || this.#stopped) return;
    let stored: KvEntry | null;
    try {
      stored = await this.#get(kv, key);
    } catch (e) {
      // The read failed: this update would be lost until the next connection. End, so that the
      // link starts a new session, whose catch-up reads everything again; or, when NATS denied
      // it, keep the session and read again later (#readFailed).
      this.#readFailed(e, `the desired state read-back of ${key}`, `desired state read-back of ${key}`);
      return;
    }
    if (this.#stopped) return;
    const next = readBackDelaysMs[attempt + 1];
    // Stored as sent, or superseded already (the stream holds a value this follower has not
    // delivered): take it. Otherwise the stream has not stored it yet, or refused it: look again.
    // (What the message says, stored, is taken whatever its revision: a stream recreated since
    // numbers its writes from 1 again.)
    const shows = matches(stored, op, data);
    const settled =
      shows || (stored && !this.#behind(stored) && fingerprint(stored) !== this.#delivered.get(key));
    this.#o.log?.(
      'debug',
      `desired: read-back ${key} look ${attempt} ${settled ? 'settled' : 'not stored yet'}`,
    );
    if (!settled && next !== undefined) {
      const timer = this.#o.scheduler.after(next, () => {
        if (this.#waiting.get(key) !== timer) return;
        this.#waiting.delete(key);
        this.#enqueue(() => this.#readBack(key, op, data, attempt + 1)).catch(() => undefined);
      });
      this.#waiting.set(key, timer);
      return;
    }
    // Never seen stored: the stream refused the write, or the replica that answered is behind.
    if (!settled) this.#settleSoon('the re-read after a live change not seen stored');
    if (stored && (shows || !this.#behind(stored))) this.#deliver(stored);
    // Deleted and gone (no marker kept): a removal all the same.
    else if (op !== 'PUT') this.#deliverGone(key, op === 'PURGE' ? 'PURGE' : 'DEL');
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
