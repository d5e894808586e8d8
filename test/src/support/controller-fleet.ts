/**
 * A controller (or several) over a real nats-server in operator mode, with enrolled node
 * identities that act as nodes would: they read their own desired state with their own
 * credentials and write status snapshots, inventory and heartbeats in the node-messages format.
 * Also: throwaway TLS files made with openssl, API tokens per role, and a raw gRPC client.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  Metadata,
  type ServiceError,
  type Client,
  type ClientReadableStream,
} from '@grpc/grpc-js';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type NodeInventory,
  type NodeStatus,
  encodeHeartbeat,
  encodeNodeInventory,
  encodeEnvelope,
  encodeNodeStatus,
  keys,
  kvSubject,
  buckets,
  nodeKinds,
  subjects,
} from '@launchfleet/shared/messages';
import { KeyStore, NatsIdentity } from '@launchfleet/controller/identity';
import {
  addApiToken,
  parseControllerConfig,
  type ControllerConfig,
  type RunningController,
  startController,
  loadFleetProto,
} from '@launchfleet/controller';
import { type NodeIdentity, connectAsNode, enroll } from '@launchfleet/node-agent/link';
import { type NatsServer, startCluster, startServer } from './nats-server.ts';

export interface TlsFiles {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl). */
export function makeTlsFiles(dir: string): TlsFiles {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=lf-test-ca',
  ]);
  run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > '${f('san.ext')}'`]);
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
  ]);
  return { caCert: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

export interface FleetOptions {
  readonly tls?: boolean;
  /** A 3-server cluster (JetStream replicas 3) instead of one server. */
  readonly cluster?: boolean;
  readonly offlineAfterSeconds?: number;
  /** More nats-server configuration for every server (e.g. a small `max_payload`). */
  readonly serverConfig?: string;
}

export class ControllerFleet {
  readonly dir: string;
  /** The first server (the only one unless `cluster`). */
  readonly server: NatsServer;
  readonly servers: readonly NatsServer[];
  readonly tls: TlsFiles | undefined;
  /** API tokens by role. */
  readonly tokens: { viewer: string; operator: string; admin: string };
  readonly #o: FleetOptions;
  readonly #controllers: RunningController[] = [];
  readonly #nodeConns = new Map<string, NatsConnection>();
  readonly identity: NatsIdentity;

  private constructor(
    dir: string,
    servers: readonly NatsServer[],
    tls: TlsFiles | undefined,
    tokens: ControllerFleet['tokens'],
    identity: NatsIdentity,
    o: FleetOptions,
  ) {
    this.dir = dir;
    this.server = servers[0] as NatsServer;
    this.servers = servers;
    this.tls = tls;
    this.tokens = tokens;
    this.identity = identity;
    this.#o = o;
  }

  static async start(o: FleetOptions = {}): Promise<ControllerFleet> {
    const dir = await mkdtemp(join(tmpdir(), 'lf-ctl-'));
    try {
      const ks = await KeyStore.open(join(dir, 'keys'));
      const identity = new NatsIdentity(ks.natsKeys());
      const extraConfig = `${await identity.serverAuthConfig()}\n${o.serverConfig ?? ''}`;
      const servers = o.cluster
        ? await startCluster(3, { extraConfig })
        : [await startServer({ extraConfig })];
      const tokensFile = join(dir, 'api-tokens.json');
      const tokens = {
        viewer: await addApiToken(tokensFile, 'vera', 'viewer'),
        operator: await addApiToken(tokensFile, 'otto', 'operator'),
        admin: await addApiToken(tokensFile, 'ada', 'admin'),
      };
      let tls: TlsFiles | undefined;
      if (o.tls) {
        await mkdir(join(dir, 'tls'));
        tls = makeTlsFiles(join(dir, 'tls'));
      }
      return new ControllerFleet(dir, servers, tls, tokens, identity, o);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * A controller config over this fleet's NATS and keys. Its gRPC and metrics servers listen on
   * port 0 (the kernel's pick, read back from `RunningController.grpcPort`/`metricsPort`): a port
   * probed free and bound later can be taken in between by any outgoing connection's ephemeral
   * port (CI saw EADDRINUSE). A caller that starts the controller as a process passes its own.
   */
  async config(
    over: Record<string, unknown> = {},
  ): Promise<{ cfg: ControllerConfig; file: string; json: object }> {
    const json = {
      natsUrls: this.servers.map((x) => x.url),
      ...(this.#o.cluster && { jetstreamReplicas: 3 }),
      keyStoreDir: join(this.dir, 'keys'),
      apiTokensFile: join(this.dir, 'api-tokens.json'),
      grpcListen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      offlineAfterSeconds: this.#o.offlineAfterSeconds ?? 90,
      // The nodes these tests play beat when a test says so: a short threshold needs a short period.
      heartbeatSeconds: Math.max(1, Math.floor((this.#o.offlineAfterSeconds ?? 90) / 3)),
      ...(this.tls ? { tls: { certFile: this.tls.cert, keyFile: this.tls.key } } : { insecure: true }),
      ...over,
    };
    const file = join(this.dir, `controller-${this.#controllers.length}-${Date.now()}.json`);
    await writeFile(file, JSON.stringify(json));
    return { cfg: parseControllerConfig(JSON.stringify(json), file), file, json };
  }

  /** Starts a controller in this process. */
  async startController(
    name = `ctl-${this.#controllers.length}`,
    over: Partial<ControllerConfig> = {},
  ): Promise<RunningController> {
    const { cfg } = await this.config();
    const c = await startController({ ...cfg, ...over }, { name, log: () => undefined });
    this.#controllers.push(c);
    return c;
  }

  /** Enrols `n` nodes (in parallel) with the given inventory per index. */
  async enrollNodes(
    c: RunningController,
    n: number,
    inventory: (i: number) => Record<string, string> = () => ({}),
  ): Promise<NodeIdentity[]> {
    // One token per node: many enrolments racing for the uses of one token would be refused
    // (by design: each use is a compare-and-set with a bounded number of retries).
    const tokens = await Promise.all(
      Array.from({ length: n }, async () => (await c.app.enrollment.createToken({ ttlMs: 60_000 })).token),
    );
    const creds = await this.identity.enrollCreds();
    const out = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const r = await enroll({
          servers: [this.server.url],
          enrollCreds: creds,
          token: tokens[i] ?? '',
          stateDir: join(this.dir, 'nodes', `n${i}-${Math.random().toString(36).slice(2, 8)}`),
          hostname: `host-${i}`,
          inventory: inventory(i),
          timeoutMs: 10_000,
        });
        if (!r.ok) throw new Error(`enrolment ${i} failed: ${JSON.stringify(r.error)}`);
        return r.value;
      }),
    );
    return out;
  }

  /** The node's own NATS connection (cached). */
  async nodeConn(id: NodeIdentity): Promise<NatsConnection> {
    let nc = this.#nodeConns.get(id.nodeId);
    if (!nc) {
      nc = await connectAsNode(id, { servers: [this.server.url], maxReconnectAttempts: 0 });
      this.#nodeConns.set(id.nodeId, nc);
    }
    return nc;
  }

  /** Writes the node's status snapshot as the node would (own credentials, KV subject). */
  async putStatus(id: NodeIdentity, s: Omit<NodeStatus, 'nodeId'>): Promise<void> {
    const nc = await this.nodeConn(id);
    await jetstream(nc).publish(
      kvSubject(buckets.nodes, keys.nodeStatus(id.nodeId)),
      encodeNodeStatus({ nodeId: id.nodeId, ...s }, Date.now()),
    );
  }

  /** Puts a status body as given, e.g. in the shape of an older agent (`jobs` as coarse strings). */
  async putRawStatus(id: NodeIdentity, body: Record<string, unknown>): Promise<void> {
    const nc = await this.nodeConn(id);
    await jetstream(nc).publish(
      kvSubject(buckets.nodes, keys.nodeStatus(id.nodeId)),
      encodeEnvelope(nodeKinds.status, Date.now(), { nodeId: id.nodeId, ...body }),
    );
  }

  async putInventory(id: NodeIdentity, inv: Omit<NodeInventory, 'nodeId'>): Promise<void> {
    const nc = await this.nodeConn(id);
    await jetstream(nc).publish(
      kvSubject(buckets.nodes, keys.nodeInventory(id.nodeId)),
      encodeNodeInventory({ nodeId: id.nodeId, ...inv }, Date.now()),
    );
  }

  async heartbeat(id: NodeIdentity, seq: number, intervalMs?: number): Promise<void> {
    const nc = await this.nodeConn(id);
    nc.publish(
      subjects.heartbeat(id.nodeId),
      encodeHeartbeat(
        { nodeId: id.nodeId, seq, health: 'ok', ...(intervalMs !== undefined && { intervalMs }) },
        Date.now(),
      ),
    );
    await nc.flush();
  }

  async close(): Promise<void> {
    for (const nc of this.#nodeConns.values()) await nc.close().catch(() => undefined);
    for (const c of this.#controllers) await c.stop().catch(() => undefined);
    for (const x of this.servers) await x.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

type Obj = Record<string, unknown>;

/** A raw FleetService client that keeps gRPC status codes (for asserting them). */
export class RawApi {
  readonly #client: Client & Record<string, unknown>;

  constructor(port: number, tls: TlsFiles | undefined) {
    const { Client: C } = loadFleetProto();
    const creds = tls
      ? credentials.createSsl(Buffer.from(execFileSync('cat', [tls.caCert])))
      : credentials.createInsecure();
    this.#client = new C(`127.0.0.1:${port}`, creds);
  }

  call(method: string, req: Obj, token?: string): Promise<Obj> {
    const md = new Metadata();
    if (token !== undefined) md.set('authorization', `Bearer ${token}`);
    const fn = this.#client[method] as (
      r: Obj,
      m: Metadata,
      cb: (e: ServiceError | null, res?: Obj) => void,
    ) => void;
    return new Promise((resolve, reject) =>
      fn.call(this.#client, req, md, (e, res) => (e ? reject(e) : resolve(res ?? {}))),
    );
  }

  /** A server stream (WatchEvents). */
  stream(method: string, req: Obj, token?: string): ClientReadableStream<Obj> {
    const md = new Metadata();
    if (token !== undefined) md.set('authorization', `Bearer ${token}`);
    const fn = this.#client[method] as (r: Obj, m: Metadata) => ClientReadableStream<Obj>;
    const call = fn.call(this.#client, req, md);
    // A cancelled stream ends with CANCELLED; callers that cancel do not care.
    call.on('error', () => undefined);
    return call;
  }

  close(): void {
    this.#client.close();
  }
}

/** A small KeepAlive job plist. */
export function jobPlist(label: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>Label</key><string>${label}</string>
<key>ProgramArguments</key><array><string>/bin/sleep</string><string>600</string></array>
<key>KeepAlive</key><true/>${extra}
</dict></plist>
`;
}
