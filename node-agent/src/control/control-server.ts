/**
 * The local control API's gRPC servers over Unix sockets.
 *
 * Authorization design: the kernel is the authenticator. Connecting to a Unix socket needs write
 * permission on the socket file, so each socket's owner and mode decide who can call through it,
 * and the socket a call arrives on fixes its Scope (authorization.ts):
 *
 *   <runDir>/               0755, owned by the agent (root)
 *     system.sock           0600, the agent's user    scope owner: every verb, every domain
 *     public.sock           0666                      scope public: read-only verbs on `system`
 *     user/                 0755, owned by the agent
 *       <uid>.sock          0600, owned by <uid>      scope user: that uid's gui/user domains
 *                                                     (every verb) + read-only verbs on `system`
 *     .bind/                0700  sockets are bound here under a temporary name, given their
 *                                 mode and owner, and only then renamed into place, so no socket
 *                                 is ever reachable with the wrong permissions.
 *
 * A user's socket exists while that user has a gui or user domain (a login session, or
 * `lfctl bootstrap user/<uid>` by root) and is removed with the last of them. lfctl picks the
 * socket from its own uid: system.sock when it can open it (root, or the owner of an
 * unprivileged development agent), else its user socket, else public.sock. Requests naming
 * another user's domain are refused with EPERM (1) by the scope check, and a user cannot even
 * connect to another user's socket. An unprivileged agent creates no user sockets (it cannot
 * give them away, and it runs jobs only as itself).
 *
 * The run directory must be owned by the agent's user and not writable by group or others,
 * or the agent refuses to start (someone else could replace the sockets). At start the agent
 * refuses to run if another agent answers on system.sock, and removes stale sockets otherwise.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { chmod, chown, lstat, mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '@launchfleet/shared/errors';
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import type { Scope } from './authorization.ts';
import type { GrpcEndpoint } from './control-grpc.ts';
import type { ControlService } from './control-service.ts';

export interface ControlServerOptions {
  readonly runDir: string;
  readonly agentUid: number;
  readonly service: ControlService;
  readonly log: SupervisorLog;
}

/**
 * One control socket: a plain listener, and the gRPC endpoint its connections are handed to,
 * created at the first connection (control-grpc.ts is loaded then: an agent nobody calls never
 * loads gRPC).
 */
interface Bound {
  readonly listener: Server;
  readonly path: string;
  readonly scope: Scope;
  endpoint?: Promise<GrpcEndpoint>;
  readonly open: Set<Socket>;
}

/** Temporary socket names under .bind/ (0700, the agent's own: no one else can guess into it). */
let bindSerial = 0;

/** The socket paths of a run directory. */
export function socketPaths(runDir: string): { system: string; public: string; userDir: string } {
  return {
    system: join(runDir, 'system.sock'),
    public: join(runDir, 'public.sock'),
    userDir: join(runDir, 'user'),
  };
}

export class ControlServer {
  private readonly o: ControlServerOptions;
  private readonly fixed: Bound[] = [];
  private readonly users = new Map<number, Bound>();
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(o: ControlServerOptions) {
    this.o = o;
  }

  /**
   * Checks the run directory (created if missing) and that no other agent serves it. Throws
   * with a message for people otherwise. Called before the agent touches any process.
   */
  async ensureAlone(): Promise<void> {
    const { runDir } = this.o;
    const p = socketPaths(runDir);
    await mkdir(runDir, { recursive: true, mode: 0o755 });
    await this.checkOwnDir(runDir);
    if (await answers(p.system))
      throw new Error(`another launchfleet-agent is serving ${p.system}; refusing to start a second one`);
  }

  /** Serves system.sock and public.sock (after ensureAlone). Throws if it cannot. */
  async start(): Promise<void> {
    const { runDir, agentUid } = this.o;
    const p = socketPaths(runDir);
    await this.ensureAlone();
    await mkdir(p.userDir, { recursive: true, mode: 0o755 });
    await this.checkOwnDir(p.userDir);
    // Stale sockets of a previous run (it crashed, or was killed).
    for (const f of [p.system, p.public]) await unlink(f).catch(() => undefined);
    for (const name of await readdir(p.userDir).catch(() => [] as string[]))
      if (name.endsWith('.sock')) await unlink(join(p.userDir, name)).catch(() => undefined);
    await rm(join(runDir, '.bind'), { recursive: true, force: true });
    await mkdir(join(runDir, '.bind'), { mode: 0o700 });
    await chmod(join(runDir, '.bind'), 0o700);
    this.fixed.push(await this.serve({ kind: 'owner', uid: agentUid }, p.system, 0o600, agentUid));
    this.fixed.push(await this.serve({ kind: 'public' }, p.public, 0o666, agentUid));
    this.o.log('info', 'control', `serving ${p.system} (owner), ${p.public} (read-only)`);
  }

  /**
   * Makes the per-user sockets match `uids` (the users with a gui or user domain): creates the
   * missing ones and removes the others. Serialised; safe to call after every domain change.
   */
  syncUserSockets(uids: Iterable<number>): Promise<void> {
    const want = new Set(uids);
    const next = this.syncing.then(() => this.doSync(want));
    this.syncing = next.catch((e: unknown) =>
      this.o.log('error', 'control', `user sockets: ${messageOf(e)}`),
    );
    return this.syncing;
  }

  /** Stops serving (in-flight calls are cancelled) and removes every socket. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.syncing;
    const all = [...this.fixed, ...this.users.values()];
    this.fixed.length = 0;
    this.users.clear();
    for (const b of all) {
      await close(b);
      await unlink(b.path).catch(() => undefined);
    }
    await rm(join(this.o.runDir, '.bind'), { recursive: true, force: true }).catch(() => undefined);
  }

  private async doSync(want: Set<number>): Promise<void> {
    if (this.stopped || this.o.agentUid !== 0) return;
    const dir = socketPaths(this.o.runDir).userDir;
    for (const [uid, b] of [...this.users]) {
      if (want.has(uid)) continue;
      this.users.delete(uid);
      await close(b);
      await unlink(b.path).catch(() => undefined);
      this.o.log('info', 'control', `removed ${b.path}`);
    }
    for (const uid of want) {
      if (this.users.has(uid)) continue;
      const path = join(dir, `${uid}.sock`);
      this.users.set(uid, await this.serve({ kind: 'user', uid }, path, 0o600, uid));
      this.o.log('info', 'control', `serving ${path} (uid ${uid})`);
    }
  }

  private async checkOwnDir(dir: string): Promise<void> {
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
    if (st.uid !== this.o.agentUid)
      throw new Error(`${dir} is owned by uid ${st.uid}, not by the agent's uid ${this.o.agentUid}`);
    if ((st.mode & 0o022) !== 0)
      throw new Error(`${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`);
  }

  /** Binds under .bind/, sets mode and owner, then renames into place. */
  private async serve(scope: Scope, path: string, mode: number, owner: number): Promise<Bound> {
    // pauseOnConnect: nothing is read before the connection reaches the HTTP/2 server.
    const listener = createServer();
    const b: Bound = { listener, path, scope, open: new Set() };
    listener.on('connection', (socket: Socket) => this.accept(b, socket));
    const tmp = join(this.o.runDir, '.bind', `${process.pid}-${++bindSerial}.sock`);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(tmp, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (e) => this.o.log('error', 'control', `${path}: ${messageOf(e)}`));
    try {
      await chmod(tmp, mode);
      if (this.o.agentUid === 0) await chown(tmp, owner, 0);
      await rename(tmp, path);
    } catch (e) {
      listener.close();
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return b;
  }

  /** Hands a connection to the socket's gRPC endpoint, loading gRPC first if needed. */
  private accept(b: Bound, socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    b.open.add(socket);
    socket.once('close', () => b.open.delete(socket));
    socket.on('error', () => undefined); // a client that goes away mid-call is not the agent's problem
    b.endpoint ??= import('./control-grpc.ts').then((m) =>
      m.grpcEndpoint({ service: this.o.service, scope: b.scope, log: this.o.log }),
    );
    b.endpoint.then(
      (ep) => {
        if (socket.destroyed) return;
        if (this.stopped) socket.destroy();
        else ep.inject(socket);
      },
      (e: unknown) => {
        this.o.log('error', 'control', `cannot serve ${b.path}: ${messageOf(e)}`);
        socket.destroy();
      },
    );
  }
}

/** Stops listening, cancels in-flight calls and closes every connection. */
async function close(b: Bound): Promise<void> {
  // close() stops accepting at once; its callback waits for the open connections, ended below.
  const closed = new Promise<void>((resolve) => b.listener.close(() => resolve()));
  const ep = await b.endpoint?.catch(() => undefined);
  ep?.close();
  for (const socket of b.open) socket.destroy();
  b.open.clear();
  await closed;
}

/** Does something accept connections on this Unix socket? (bounded: 1 s) */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), 1000);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
