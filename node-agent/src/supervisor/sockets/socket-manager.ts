/**
 * The agent's SocketActivationHook (docs/launchd-semantics.md §4): it holds every loaded job's sockets, one
 * JobSockets per job (keyed by the job's JobSpec object, which is unique per loaded job even
 * when two domains load the same label). Domains call `open` at load and the runners call
 * `close` at removal, `arm` while the job is idle and `fds` at spawn.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { Disposable } from '../../ports/file-system.ts';
import type { SocketPort } from '../../ports/socket-port.ts';
import type { SocketActivationHook, SocketHandoff, SocketJobContext } from './socket-activation-hook.ts';
import type { SupervisorLog } from '../supervisor-log.ts';
import { JobSockets } from './job-sockets.ts';
import type { JobSocketsStatus } from './socket-status.ts';

export interface SocketManagerOptions {
  readonly port: SocketPort;
  readonly log: SupervisorLog;
  /**
   * inetdCompatibility Wait=false: per-connection processes of one job running at once; further
   * connections wait in the listen backlog (not refused). Default 64.
   */
  readonly maxInetdInstances?: number;
}

/** Default cap of concurrent inetd Wait=false instances per job. */
export const DEFAULT_MAX_INETD_INSTANCES = 64;

export class SocketManager implements SocketActivationHook {
  private readonly o: SocketManagerOptions;
  private readonly jobs = new Map<JobSpec, JobSockets>();

  constructor(o: SocketManagerOptions) {
    this.o = o;
  }

  async open(
    spec: JobSpec,
    ctx: SocketJobContext,
  ): Promise<{ readonly ok: true } | { readonly ok: false; readonly message: string }> {
    if (this.jobs.has(spec)) return { ok: true };
    const r = await JobSockets.open(
      spec,
      {
        port: this.o.port,
        log: this.o.log,
        maxInetdInstances: Math.max(1, this.o.maxInetdInstances ?? DEFAULT_MAX_INETD_INSTANCES),
      },
      ctx,
    );
    if (!r.ok) {
      this.o.log('error', spec.label, `sockets not created, the job is not loaded: ${r.message}`);
      return { ok: false, message: `${spec.label}: ${r.message}` };
    }
    for (const w of r.warnings) this.o.log('warn', spec.label, w);
    this.jobs.set(spec, r.sockets);
    return { ok: true };
  }

  close(spec: JobSpec): void {
    this.jobs.get(spec)?.close();
    this.jobs.delete(spec);
  }

  arm(spec: JobSpec, onReadable: () => void): Disposable {
    return this.jobs.get(spec)?.arm(onReadable) ?? { dispose: () => undefined };
  }

  fds(spec: JobSpec): SocketHandoff {
    return this.jobs.get(spec)?.handoff() ?? { passFds: [], listenFdNames: [] };
  }

  status(spec: JobSpec): JobSocketsStatus | undefined {
    return this.jobs.get(spec)?.status();
  }

  /** Closes every job's sockets (agent shutdown). */
  closeAll(): void {
    for (const s of this.jobs.values()) s.close();
    this.jobs.clear();
  }
}
