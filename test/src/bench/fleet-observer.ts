/**
 * What the controller side sees, watched from the benchmark process with the controller's own
 * NATS identity: enrolments (`lf_registry` puts) and node status snapshots (`lf_nodes`
 * `<nodeId>.status`), each stamped with the time this process received it. "Running
 * everywhere" is measured here: a node counts when its snapshot says the label runs at the
 * applied version, i.e. the whole path apply -> KV -> agent watch -> verify -> reconcile ->
 * supervisor -> status put -> KV -> reader.
 */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KvWatchEntry } from '@nats-io/kv';
import { buckets, decodeNodeStatus, type NodeStatus } from '@launchfleet/shared/messages/index';

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
  undecodable = 0;

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
    const rw = await registry.watch({ key: '>' });
    const nw = await nodes.watch({ key: '*.status' });
    o.#stops.push(
      () => rw.stop(),
      () => nw.stop(),
    );
    void (async () => {
      for await (const e of rw)
        if (e.operation === 'PUT' && !o.enrolled.has(e.key)) o.enrolled.set(e.key, Date.now());
    })().catch(() => undefined);
    void (async () => {
      for await (const e of nw) o.#onStatus(e);
    })().catch(() => undefined);
    return o;
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

  #onStatus(e: KvWatchEntry): void {
    if (e.operation !== 'PUT') return;
    const now = Date.now();
    const d = decodeNodeStatus(e.value);
    if (!d.ok) {
      this.undecodable++;
      return;
    }
    const s = d.value;
    if (!this.firstStatus.has(s.nodeId)) this.firstStatus.set(s.nodeId, now);
    this.latest.set(s.nodeId, s);
    this.#check(s, now);
  }

  #check(s: NodeStatus, now: number): void {
    for (const [label, state] of Object.entries(s.jobs)) {
      if (state.subState !== 'running') continue;
      const k = `${label}@${s.versions[label] ?? ''}`;
      let m = this.#running.get(k);
      if (!m) this.#running.set(k, (m = new Map<string, number>()));
      if (!m.has(s.nodeId)) m.set(s.nodeId, now);
    }
  }
}
