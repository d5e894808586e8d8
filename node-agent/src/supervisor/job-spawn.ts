/**
 * The spawn effect of one job: the request built from its spec, its domain and the socket
 * handoff, given to the spawner, and the machine's answers (spawned or spawn-failed, then the
 * exit). The runner (job-runner.ts) owns the machine; this owns one start.
 *
 * When the account database has the answers at hand (a cache hit, spawn-request.ts
 * `spawnRequestNow`), the spawner is called inside this call: the fork happens in the turn of the
 * event loop that decided the start, before the status work the same machine step queued (the
 * "spawning" status, the agent's log line, the state store). On the activation path that work ran
 * in front of the fork (0.2–0.5 ms in a CPU profile of the real agent; test/bench/RESULTS.md,
 * issue 19). Otherwise the request is built after the lookups, as before.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import { messageOf } from '@launchfleet/shared/errors';
import type { ProcessExit, ProcessSpawner, SpawnResult } from '../ports/process-spawner.ts';
import type { JobEvent } from './core/job-events.ts';
import type { MachineConfig } from './core/machine-config.ts';
import type { RunnerDomain, RuntimePorts } from './runner-ports.ts';
import { withHandoff } from './sockets/socket-activation-hook.ts';
import { buildSpawnRequest, spawnRequestNow, type SpawnDomain } from './spawn-request.ts';
import type { SupervisorLog } from './supervisor-log.ts';

export interface JobStart {
  readonly spec: JobSpec;
  /** The request's domain, and the socket hook that hands the job its sockets. */
  readonly domain: SpawnDomain & Pick<RunnerDomain, 'sockets'>;
  readonly ports: Pick<RuntimePorts, 'spawner' | 'users' | 'clock'>;
  readonly config: MachineConfig;
  readonly log: SupervisorLog;
  /** Feeds the job's machine ('spawned', 'spawn-failed'). */
  send(event: JobEvent): void;
  /** The process runs (before the machine hears it): for observers. */
  spawned(latencyMs: number): void;
  /** The process was reaped; always after `spawned`. */
  exited(exit: ProcessExit): void;
}

/** Starts one process of the job (the machine's 'spawn' effect). */
export function startJobProcess(job: JobStart): void {
  const { spec, domain, ports, config } = job;
  const handoff = domain.sockets?.fds(spec);
  const extras = handoff ? { passFds: handoff.passFds, listenFdNames: handoff.listenFdNames } : {};
  let reaped: ProcessExit | undefined;
  let started = false;
  const decidedAt = ports.clock.monotonicMs();
  const onExit = (exit: ProcessExit): void => {
    // The spawner promises onExit after ok; buffer it anyway if it overtakes the promise.
    if (!started) reaped = exit;
    else job.exited(exit);
  };
  const run = async (): Promise<void> => {
    // No await before the spawner's call when the answers are at hand (see the module comment).
    const plan =
      spawnRequestNow(spec, domain, ports.users, config, extras) ??
      (await buildSpawnRequest(spec, domain, ports.users, config, extras));
    if (!plan.ok) {
      job.send({ type: 'spawn-failed', ...plan.failure });
      return;
    }
    for (const w of plan.warnings) job.log('warn', spec.label, w);
    const r = await ports.spawner.spawn(withHandoff(plan.req, handoff), onExit);
    if (!r.ok) {
      job.send({ type: 'spawn-failed', ...r.failure });
      return;
    }
    for (const w of r.warnings ?? []) job.log('warn', spec.label, `${w.stage}: ${w.errno}: ${w.message}`);
    started = true;
    job.spawned(ports.clock.monotonicMs() - decidedAt);
    job.send({ type: 'spawned', pid: r.pid });
    if (reaped) job.exited(reaped);
  };
  run().catch((err: unknown) => {
    // A spawner that throws is a bug in an adapter; the job records it as a spawn failure.
    job.send({ type: 'spawn-failed', stage: 'spawn', errno: 'EIO', exitStatus: 78, message: messageOf(err) });
  });
}

/**
 * Prepares the first start of a job with on-demand sockets at its load, where its first
 * activation has a client waiting (the benchmark's "first activation after load"):
 *
 * - asks the account database now for what a start will need, so that the first start finds the
 *   answers at hand and forks in its turn; a found account stays at hand afterwards (RealUserDb
 *   serves it stale while it refreshes). Without `known*` there is no cache to warm.
 * - then runs the start once, dry (`dryStart`): `startJobProcess` itself, the request built from
 *   the answers at hand, and the spawner's own preparation of it (`warm`: its checks and
 *   arguments, no process), every effect inert and every result dropped, so that V8 compiles
 *   that code now and not in front of the first fork (issue 19, test/bench/RESULTS.md, tenth and
 *   eleventh sessions).
 */
export function warmJobStart(job: Pick<JobStart, 'spec' | 'domain' | 'ports' | 'config'>): void {
  const { spec, domain, ports, config } = job;
  if (!ports.users.knownUserById) return;
  void buildSpawnRequest(spec, domain, ports.users, config)
    .then(() => {
      if (firstWarmUp(startsWarmed, ports.spawner)) startJobProcess(dryStart(job));
    })
    .catch(() => undefined);
}

/**
 * V8 compiles a function once per process, so one warm-up per agent is enough: it is keyed by the
 * spawner (an agent has one; a test, its own). One dry start per socket job instead made an agent
 * with 1,000 idle socket jobs 4 MB larger (test/bench/RESULTS.md, issue 19 eleventh session).
 */
export function firstWarmUp(warmed: WeakSet<ProcessSpawner>, spawner: ProcessSpawner): boolean {
  if (warmed.has(spawner)) return false;
  warmed.add(spawner);
  return true;
}

const startsWarmed = new WeakSet<ProcessSpawner>();

/** What the dry start's spawner answers: no process. */
const DRY_RUN: SpawnResult = {
  ok: false,
  failure: { stage: 'spawn', errno: 'ECANCELED', exitStatus: 0, message: 'a warm-up starts nothing' },
};

/**
 * The job's start with nothing real in reach: no socket hook (its `fds` hands the sockets out),
 * a spawner that only warms (`ProcessSpawner.warm`) and answers DRY_RUN, and no machine, log or
 * observer to tell. The account database and the clock are the real ones, read only (the
 * answers were just looked up: nothing stale to refresh).
 */
function dryStart(job: Pick<JobStart, 'spec' | 'domain' | 'ports' | 'config'>): JobStart {
  const { kind, uid, agentUid, globalEnvironment } = job.domain;
  const { spawner } = job.ports;
  const nothing = (): void => undefined;
  return {
    spec: job.spec,
    domain: { kind, uid, agentUid, ...(globalEnvironment ? { globalEnvironment } : {}) },
    ports: {
      users: job.ports.users,
      clock: job.ports.clock,
      spawner: {
        spawn: (req) => {
          spawner.warm?.(req);
          return Promise.resolve(DRY_RUN);
        },
        signal: () => false,
        signalGroup: () => false,
      },
    },
    config: job.config,
    log: nothing,
    send: nothing,
    spawned: nothing,
    exited: nothing,
  };
}
