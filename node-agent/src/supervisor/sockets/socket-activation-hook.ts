/**
 * The seam between a job and the sockets the agent holds for it (on-demand sockets,
 * docs/launchd-semantics.md "Sockets"): the domain opens a job's sockets at load (a failure
 * refuses the load) and closes them at removal; the job's demand sources arm a watch while the
 * job is idle (`onReadable` is a kickstart-type demand), and its spawn asks `fds` what to hand
 * over. Implemented by socket-manager.ts.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { Disposable } from '../../ports/file-system.ts';
import type { SpawnRequest, StdioTarget } from '../../ports/process-spawner.ts';
import type { JobSocketsStatus } from './socket-status.ts';

export interface SocketActivationHook {
  arm(spec: JobSpec, onReadable: () => void): Disposable;
  fds(spec: JobSpec): SocketHandoff;
  /** Creates and binds the job's sockets; called once by the domain before the job loads. */
  open?(
    spec: JobSpec,
    ctx: SocketJobContext,
  ): Promise<{ readonly ok: true } | { readonly ok: false; readonly message: string }>;
  /** Closes the job's sockets (unload); idempotent. */
  close?(spec: JobSpec): void;
  /** The job's sockets for status/print. */
  status?(spec: JobSpec): JobSocketsStatus | undefined;
}

/** What a job receives at spawn from its sockets. */
export interface SocketHandoff {
  /** Fds at 3..n (systemd protocol), with their LISTEN_FDNAMES (the group name per fd). */
  readonly passFds: readonly number[];
  readonly listenFdNames: readonly string[];
  /** inetdCompatibility: the socket on the standard streams instead of their paths or /dev/null. */
  readonly stdio?: {
    readonly stdin?: StdioTarget;
    readonly stdout?: StdioTarget;
    readonly stderr?: StdioTarget;
  };
  /** Variables added to the job's environment (SecureSocketWithKey). */
  readonly env?: Readonly<Record<string, string>>;
}

/** What the socket manager may ask of the runner of a job whose sockets it holds. */
export interface SocketJobContext {
  /** 'system', 'gui/501': for messages. */
  readonly target: string;
  /**
   * inetd Wait=false: starts one process of the job with `connFd` on its standard streams. The
   * caller closes its copy of `connFd` once this settles. Not throttled, not tracked by the job
   * machine (AbandonProcessGroup is forced).
   */
  spawnConnection(connFd: number): Promise<ConnectionSpawn>;
}

/** The outcome of spawnConnection. */
export type ConnectionSpawn =
  | { readonly ok: true; readonly pid: number; readonly exited: Promise<void> }
  | { readonly ok: false; readonly message: string };

/** The request with a socket handoff's standard streams and environment applied. */
export function withHandoff(req: SpawnRequest, h: SocketHandoff | undefined): SpawnRequest {
  if (!h || (h.stdio === undefined && h.env === undefined)) return req;
  return {
    ...req,
    ...(h.stdio?.stdin ? { stdin: h.stdio.stdin } : {}),
    ...(h.stdio?.stdout ? { stdout: h.stdio.stdout } : {}),
    ...(h.stdio?.stderr ? { stderr: h.stdio.stderr } : {}),
    ...(h.env ? { env: { ...req.env, ...h.env } } : {}),
  };
}
