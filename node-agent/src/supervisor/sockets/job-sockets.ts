/**
 * The sockets the agent holds for one loaded job (docs/launchd-semantics.md §4): created and bound at load,
 * watched while the job is idle, handed to the job at spawn, closed at unload.
 *
 *   open ──▶ held ──arm──▶ watching ──readable──▶ (runner: kickstart; machine disarms) ──▶ active
 *              ▲               │ disarm (spawn, throttle, disable)                          │
 *              └───────────────┴──────────────────── arm again after the exit ◀─────────────┘
 *   close (unload) from any state: every fd closed; a unix path stays in place (842).
 *
 * Invariants:
 * - The agent never accepts or reads on a socket of a non-inetd job: a watch only reports
 *   readability, so the connection that caused it is still in the backlog for the job.
 * - A watch is armed only between `arm` and its disposal, and never on a closed fd.
 * - inetd Wait=false stream sockets are the exception: the agent accepts (at most
 *   `maxInstances` connections being served at once; the rest wait in the kernel's backlog).
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { Disposable } from '../../ports/file-system.ts';
import type { StdioTarget } from '../../ports/process-spawner.ts';
import type { SocketPort, SocketWatch } from '../../ports/socket-port.ts';
import type { SocketHandoff, SocketJobContext } from './socket-activation-hook.ts';
import type { SupervisorLog } from '../supervisor-log.ts';
import { planSockets, type PlannedSocket } from './socket-plan.ts';
import type { JobSocketsStatus, SocketStatus } from './socket-status.ts';

/** One held socket. */
interface Held {
  readonly planned: PlannedSocket;
  readonly fd: number;
  readonly address?: string;
  readonly port?: number;
  readonly path?: string;
  /** This socket is accepted on by the agent (inetd Wait=false, stream/seqpacket). */
  readonly agentAccepts: boolean;
  watch: SocketWatch | undefined;
  activations: number;
}

export interface JobSocketsOptions {
  readonly port: SocketPort;
  readonly log: SupervisorLog;
  /** inetd Wait=false: connections served at once; more wait in the backlog. */
  readonly maxInetdInstances: number;
}

export type OpenResult =
  | { readonly ok: true; readonly sockets: JobSockets; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly message: string };

export class JobSockets {
  private readonly spec: JobSpec;
  private readonly o: JobSocketsOptions;
  private readonly ctx: SocketJobContext;
  private readonly held: readonly Held[];
  private readonly env: Readonly<Record<string, string>>;
  private armedFor: (() => void) | undefined;
  private closed = false;
  /** Handed to a process that is (as far as we know) running: the sockets are the job's. */
  private handedOut = false;
  /** The socket whose readability started the job (inetd: which one goes on stdio). */
  private lastReadable: Held | undefined;
  private instances = 0;
  private accepted = 0;
  private retry: NodeJS.Timeout | undefined;

  private constructor(
    spec: JobSpec,
    o: JobSocketsOptions,
    ctx: SocketJobContext,
    held: Held[],
    env: Readonly<Record<string, string>>,
  ) {
    this.spec = spec;
    this.o = o;
    this.ctx = ctx;
    this.held = held;
    this.env = env;
  }

  /**
   * Resolves, creates and binds every socket of the job. On any failure, the sockets already
   * opened are closed and the message names the socket (`Sockets.<group>[i] (tcp 127.0.0.1:80): ...`).
   */
  static async open(spec: JobSpec, o: JobSocketsOptions, ctx: SocketJobContext): Promise<OpenResult> {
    const plan = await planSockets(spec, o.port);
    if (!plan.ok) return { ok: false, message: plan.message };
    const warnings = [...plan.warnings];
    const inetd = spec.inetdCompatibility;
    if (inetd && !inetd.wait && plan.sockets.some((p) => p.bind.type === 'dgram'))
      warnings.push(
        'inetdCompatibility Wait=false means nothing for datagram sockets (there is no connection to accept): they are handed over as with Wait=true',
      );
    if (inetd && plan.sockets.length > 1)
      warnings.push(
        'inetdCompatibility with several sockets: the one that became readable is put on stdin/stdout/stderr',
      );
    const held: Held[] = [];
    const abandon = (message: string): OpenResult => {
      for (const h of held) o.port.close(h.fd);
      return { ok: false, message };
    };
    for (const p of plan.sockets) {
      const r = o.port.bind(p.bind);
      if (!r.ok) {
        if (p.optional && (r.code === 'EAFNOSUPPORT' || r.code === 'EADDRNOTAVAIL')) {
          warnings.push(`${p.where} (${describe(p)}): no IPv6 on this host (${r.code}); IPv4 only`);
          continue;
        }
        return abandon(`${p.where} (${describe(p)}): ${explain(r.code, r.message, p)}`);
      }
      const s = r.socket;
      held.push({
        planned: p,
        fd: s.fd,
        ...(s.address !== undefined ? { address: s.address } : {}),
        ...(s.port !== undefined ? { port: s.port } : {}),
        ...(s.path !== undefined ? { path: s.path } : {}),
        agentAccepts: inetd !== undefined && !inetd.wait && p.bind.type !== 'dgram',
        watch: undefined,
        activations: 0,
      });
      if (p.multicastGroup !== undefined) {
        // The socket still receives unicast datagrams; a host without a multicast route (ENODEV)
        // is a warning, not a reason to refuse the job.
        const j = o.port.joinMulticast(s.fd, p.multicastGroup, p.bind.family === 'ipv6');
        if (!j.ok)
          warnings.push(
            `${p.where} (${describe(p)}): MulticastGroup ${p.multicastGroup} not joined: ${j.message}`,
          );
      }
    }
    if (held.length === 0) warnings.push('Sockets: no socket was created for this job');
    return { ok: true, sockets: new JobSockets(spec, o, ctx, held, plan.env), warnings };
  }

  /** Watches every socket while the job is idle; `onReadable` starts it. */
  arm(onReadable: () => void): Disposable {
    if (this.closed) return { dispose: () => undefined };
    this.armedFor = onReadable;
    this.handedOut = false;
    for (const h of this.held) {
      if (h.agentAccepts) this.pump(h);
      else this.watch(h);
    }
    const armed = onReadable;
    return {
      dispose: () => {
        if (this.armedFor === armed) this.disarm();
      },
    };
  }

  /** What the next spawn of the job receives (called by the runner right before it spawns). */
  handoff(): SocketHandoff {
    this.handedOut = true;
    const env = Object.keys(this.env).length > 0 ? { env: this.env } : {};
    const inetd = this.spec.inetdCompatibility;
    if (inetd === undefined) {
      const live = this.closed ? [] : this.held;
      return {
        passFds: live.map((h) => h.fd),
        listenFdNames: live.map((h) => h.planned.fdName),
        ...env,
      };
    }
    // inetd (docs/launchd-semantics.md §4.3): the readable socket on 0, 1, 2 (1 and 2 only without their
    // paths). Wait=false started by something else than a connection (kickstart, RunAtLoad) gets none.
    const chosen = this.lastReadable ?? (inetd.wait ? this.held.find((h) => !h.agentAccepts) : undefined);
    this.lastReadable = undefined;
    if (!chosen || this.closed) return { passFds: [], listenFdNames: [], ...env };
    const t: StdioTarget = { kind: 'fd', fd: chosen.fd };
    return {
      passFds: [],
      listenFdNames: [],
      stdio: {
        stdin: t,
        ...(this.spec.standardOutPath === undefined ? { stdout: t } : {}),
        ...(this.spec.standardErrorPath === undefined ? { stderr: t } : {}),
      },
      ...env,
    };
  }

  /** Closes every socket (unload). Unix socket paths are left in place, as 842 does. */
  close(): void {
    if (this.closed) return;
    this.disarm();
    this.closed = true;
    for (const h of this.held) this.o.port.close(h.fd);
  }

  status(): JobSocketsStatus {
    const inetd = this.spec.inetdCompatibility;
    const sockets = this.held.map((h): SocketStatus => {
      const b = h.planned.bind;
      return {
        group: h.planned.group,
        type: b.type,
        family: b.family,
        ...(h.address !== undefined ? { address: h.address } : {}),
        ...(h.port !== undefined ? { port: h.port } : {}),
        ...(h.path !== undefined ? { path: h.path } : {}),
        state: this.stateOf(h),
        activations: h.activations,
      };
    });
    return {
      sockets,
      ...(inetd
        ? {
            inetd: {
              wait: inetd.wait,
              instances: this.instances,
              maxInstances: this.o.maxInetdInstances,
              accepted: this.accepted,
            },
          }
        : {}),
    };
  }

  // ---- internals -------------------------------------------------------------------------------

  private stateOf(h: Held): SocketStatus['state'] {
    if (this.closed) return 'closed';
    if (h.agentAccepts) {
      if (this.armedFor === undefined) return this.handedOut ? 'active' : 'paused';
      return h.watch !== undefined ? 'watching' : 'active';
    }
    if (h.watch !== undefined) return 'watching';
    return this.handedOut ? 'active' : 'paused';
  }

  private disarm(): void {
    this.armedFor = undefined;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    for (const h of this.held) {
      h.watch?.stop();
      h.watch = undefined;
    }
  }

  private watch(h: Held): void {
    if (h.watch || this.closed) return;
    h.watch = this.o.port.watchReadable(h.fd, (err) => {
      h.watch = undefined;
      const onReadable = this.armedFor;
      if (onReadable === undefined || this.closed) return;
      // A poll error (rare: the socket is broken) still starts the job, which will see the error
      // itself; re-arming here instead could spin.
      if (err) this.o.log('warn', this.spec.label, `${h.planned.where}: watch error: ${err.message}`);
      h.activations += 1;
      this.lastReadable = h;
      onReadable();
    });
  }

  /** inetd Wait=false: accept while under the cap, one process per connection. */
  private pump(h: Held): void {
    if (this.armedFor === undefined || this.closed) return;
    h.watch?.stop();
    h.watch = undefined;
    while (this.instances < this.o.maxInetdInstances) {
      const r = this.o.port.accept(h.fd);
      if (!r.ok) {
        // EMFILE/ENFILE/ENOBUFS: the connection stays in the backlog; try again shortly rather
        // than spinning on a listener that stays readable.
        this.o.log('warn', this.spec.label, `${h.planned.where}: accept: ${r.message}; retrying in 1 s`);
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          this.pumpAll();
        }, 1000);
        this.retry.unref();
        return;
      }
      if (r.fd === null) break;
      h.activations += 1;
      this.accepted += 1;
      this.instances += 1;
      this.serve(h, r.fd);
    }
    if (this.instances < this.o.maxInetdInstances)
      h.watch = this.o.port.watchReadable(h.fd, () => {
        h.watch = undefined;
        this.pump(h);
      });
  }

  private pumpAll(): void {
    for (const h of this.held) if (h.agentAccepts && h.watch === undefined) this.pump(h);
  }

  private serve(h: Held, connFd: number): void {
    const done = (): void => {
      this.instances -= 1;
      this.pumpAll();
    };
    this.ctx.spawnConnection(connFd).then(
      (r) => {
        this.o.port.close(connFd);
        if (!r.ok) {
          this.o.log('warn', this.spec.label, `${h.planned.where}: inetd instance not started: ${r.message}`);
          done();
          return;
        }
        this.o.log('debug', this.spec.label, `${h.planned.where}: inetd instance ${r.pid} for a connection`);
        void r.exited.then(done);
      },
      (err: unknown) => {
        this.o.port.close(connFd);
        this.o.log('warn', this.spec.label, `${h.planned.where}: inetd instance not started: ${String(err)}`);
        done();
      },
    );
  }
}

/** `tcp 127.0.0.1:8080`, `udp [::]:53`, `unix /var/run/x.sock`. */
function describe(p: PlannedSocket): string {
  const b = p.bind;
  if (b.family === 'unix') return `unix ${b.type} ${b.path}`;
  const proto = b.type === 'dgram' ? 'udp' : 'tcp';
  const addr = b.address ?? (b.family === 'ipv6' ? '::' : '0.0.0.0');
  return `${proto} ${addr.includes(':') ? `[${addr}]` : addr}:${b.port}`;
}

/** The OS error with what it means for this socket. */
function explain(code: string, message: string, p: PlannedSocket): string {
  const unix = p.bind.family === 'unix';
  switch (code) {
    case 'EADDRINUSE':
      return `address already in use (${message})`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return unix
        ? `cannot create the socket file: the directory is not writable (${message})`
        : `permission denied: binding this port needs privileges (${message})`;
    case 'ENOENT':
    case 'ENOTDIR':
      return unix ? `the socket's directory does not exist (${message})` : message;
    case 'EADDRNOTAVAIL':
      return `the host has no such address (${message})`;
    case 'EEXIST':
      return `the path exists and is not a socket (${message})`;
    default:
      return message;
  }
}
