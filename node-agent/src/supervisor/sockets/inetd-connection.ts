/**
 * inetdCompatibility with Wait=false (docs/launchd-semantics.md "inetd-style jobs"): one process
 * per accepted connection, with the connection on stdin/stdout/stderr (stdout/stderr keep their
 * paths when set, as launchproxy does). The job machine never sees these processes: they are
 * not throttled and are not the job's pid.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { SpawnRequest, StdioTarget } from '../../ports/process-spawner.ts';
import type { MachineConfig } from '../core/machine-config.ts';
import type { RunnerDomain, RuntimePorts } from '../runner-ports.ts';
import { buildSpawnRequest, spawnRequestNow } from '../spawn-request.ts';
import type { SupervisorLog } from '../supervisor-log.ts';
import type { ConnectionSpawn } from './socket-activation-hook.ts';

export interface InetdJob {
  readonly spec: JobSpec;
  readonly domain: RunnerDomain;
  readonly ports: Pick<RuntimePorts, 'spawner' | 'users'>;
  readonly config: MachineConfig;
  readonly log: SupervisorLog;
}

/** Starts one instance of the job with `connFd` on its standard streams. */
export async function spawnInetdConnection(job: InetdJob, connFd: number): Promise<ConnectionSpawn> {
  const { spec } = job;
  // No await before the spawner's call when the accounts are cached: the fork happens in the turn
  // that accepted the connection (job-spawn.ts).
  const plan =
    spawnRequestNow(spec, job.domain, job.ports.users, job.config) ??
    (await buildSpawnRequest(spec, job.domain, job.ports.users, job.config));
  if (!plan.ok) return { ok: false, message: `${plan.failure.stage}: ${plan.failure.message}` };
  const conn: StdioTarget = { kind: 'fd', fd: connFd };
  const req: SpawnRequest = {
    ...plan.req,
    stdin: conn,
    stdout: spec.standardOutPath !== undefined ? plan.req.stdout : conn,
    stderr: spec.standardErrorPath !== undefined ? plan.req.stderr : conn,
    passFds: [],
    setListenPid: false,
  };
  let resolveExit: () => void = () => undefined;
  const exited = new Promise<void>((r) => (resolveExit = r));
  const r = await job.ports.spawner.spawn(req, (exit) => {
    job.log(
      'debug',
      spec.label,
      `inetd instance ${exit.pid} exited (${exit.signal ?? `status ${String(exit.code)}`})`,
    );
    resolveExit();
  });
  if (!r.ok) return { ok: false, message: `${r.failure.stage}: ${r.failure.errno}: ${r.failure.message}` };
  return { ok: true, pid: r.pid, exited };
}
