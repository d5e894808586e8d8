/**
 * What the controller side sees, watched from the benchmark process with the controller's own
 * NATS identity: enrolments (`lf_registry` puts) and node status snapshots (`lf_nodes`
 * `<nodeId>.status`), each stamped with the time this process received it. "Running
 * everywhere" is measured here: a node counts when its snapshot says the label runs at the
 * applied version, i.e. the whole path apply -> KV -> agent watch -> verify -> reconcile ->
 * supervisor -> status put -> KV -> reader.
 */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { type KV, Kvm, type KvWatchEntry } from '@nats-io/kv';
import { buckets, decodeNodeStatus, type NodeStatus } from '@launchfleet/shared/messages';

export class FleetObserver {
  readonly #nc: NatsConnection;
  /** nodeId -> wall ms of its registry record (enrolment). */
  readonly enrolled = new Map<string, number>();
  /** nodeId -> wall ms of its first status snapshot. */
  readonly firstStatus = new Map<string, number>();
  /** nodeId -> its latest status snapshot. */
  readonly latest = new Map<string, NodeStatus>();
  /** `<label>@<version>` -> nodeId -> wall ms when its snapshot first showed that running. */
  readonly #running = new Map<string, Map<string, number>>();
  readonly #stops: (() => void)[] = [];
  #nodes: KV | undefined;
  undecodable = 0;
  /**
   * Nodes first seen running a version by a direct read (`pollStatus`), not by the watch: the
   * watch had stalled or missed them. Reported by the benchmark; 0 in a healthy run.
   */
  polledReaches = 0;
  /** Times the status watch ended and was started again. */
  watchRestarts = 0;

  private constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  static async start(urls: readonly string[], creds: Uint8Array): Promise<FleetObserver> {
    const nc = await connect({
      servers: [...urls],
      authenticator: credsAuthenticator(creds),
      name: 'bench-observer',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const o = new FleetObserver(nc);
    const kvm = new Kvm(nc);
    const registry = await kvm.open(buckets.registry);
    const nodes = await kvm.open(buckets.nodes);
    o.#nodes = nodes;
    const rw = await registry.watch({ key: '>' });
    o.#stops.push(() => rw.stop());
    void (async () => {
      for await (const e of rw)
        if (e.operation === 'PUT' && !o.enrolled.has(e.key)) o.enrolled.set(e.key, Date.now());
    })().catch(() => undefined);
    // The status watch is started again if it ever ends (it is the benchmark's instrument: a
    // silent end would read as nodes that never got there).
    let stopped = false;
    let current: { stop(): void } | undefined;
    o.#stops.push(() => {
      stopped = true;
      current?.stop();
    });
    void (async () => {
      while (!stopped) {
        try {
          const nw = await nodes.watch({ key: '*.status' });
          current = nw;
          for await (const e of nw) o.#onStatus(e);
        } catch {
          // started again below
        }
        if (stopped) break;
        o.watchRestarts++;
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    return o;
  }

  /**
   * Reads the status of these nodes directly and records what it shows, as the watch would have.
   * The benchmark calls it when no node got there for a while: it tells a stalled watch (the
   * nodes were there; counted in `polledReaches`) from nodes that really are late (still not).
   */
  async pollStatus(nodeIds: readonly string[]): Promise<void> {
    const kv = this.#nodes;
    if (!kv) return;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(32, nodeIds.length) }, async () => {
        while (next < nodeIds.length) {
          const id = nodeIds[next++] ?? '';
          const e = await kv.get(`${id}.status`).catch(() => null);
          if (e) this.polledReaches += this.#onStatus(e);
        }
      }),
    );
  }

  /**
   * nodeId -> when its snapshot first showed `label` running at `version`. Every snapshot is
   * recorded this way as it arrives, so nodes that got there before the apply call returned
   * (a large apply writes for seconds) are timed correctly too.
   */
  reached(label: string, version: string | number): ReadonlyMap<string, number> {
    return this.#running.get(`${label}@${String(version)}`) ?? new Map<string, number>();
  }

  async close(): Promise<void> {
    for (const s of this.#stops) s();
    await this.#nc.close().catch(() => undefined);
  }

  /** Records one status entry (from the watch or a direct read); returns the new reaches. */
  #onStatus(e: Pick<KvWatchEntry, 'operation' | 'value'>): number {
    if (e.operation !== 'PUT') return 0;
    const now = Date.now();
    const d = decodeNodeStatus(e.value);
    if (!d.ok) {
      this.undecodable++;
      return 0;
    }
    const s = d.value;
    if (!this.firstStatus.has(s.nodeId)) this.firstStatus.set(s.nodeId, now);
    this.latest.set(s.nodeId, s);
    return this.#check(s, now);
  }

  /** Notes every label the snapshot shows running at its version; returns how many were new. */
  #check(s: NodeStatus, now: number): number {
    let added = 0;
    for (const [label, state] of Object.entries(s.jobs)) {
      if (state.subState !== 'running') continue;
      const k = `${label}@${s.versions[label] ?? ''}`;
      let m = this.#running.get(k);
      if (!m) this.#running.set(k, (m = new Map<string, number>()));
      if (!m.has(s.nodeId)) {
        m.set(s.nodeId, now);
        added++;
      }
    }
    return added;
  }
}
