/**
 * The agent process's parts, put together: real adapters, the DomainManager with the system
 * domain loaded from the daemon directories (and the socket manager holding jobs' sockets),
 * login sessions as gui domains, the local control API, the /metrics endpoint, the state file
 * (last status, job processes), the reaping of a crashed predecessor's processes and the
 * adoption of those a detaching predecessor left running (docs/upgrades.md). `startAgent`
 * returns once the control sockets accept calls; `stop` stops every job (SIGTERM, SIGKILL after
 * ExitTimeOut) and resolves when all are gone; `detach` leaves the jobs that can be adopted
 * running, records them and stops the rest.
 */
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { messageOf } from '@launchfleet/shared/errors';
import { systemClock, systemScheduler } from '@launchfleet/shared/clock';
import { machineClock } from '../adapters/boot-clock.ts';
import { RealFileSystem } from '../adapters/file-system.ts';
import { NativeSocketPort } from '../adapters/socket-port.ts';
import { createProcessSpawner } from '../adapters/spawner-choice.ts';
import { RealUserDb } from '../adapters/user-db.ts';
import type { AgentConfig } from '../config/agent-config.ts';
import { ControlServer, socketPaths } from '../control/control-server.ts';
import { ControlService } from '../control/control-service.ts';
import { createAgentMetrics } from '../metrics/agent-metrics.ts';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.ts';
import { machineConfig } from '../supervisor/core/machine-config.ts';
import { DomainManager } from '../supervisor/domains/domain-manager.ts';
import { modelPlistLoader } from '../supervisor/domains/model-plist-loader.ts';
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import { SocketManager } from '../supervisor/sockets/socket-manager.ts';
// Type-only: the link (NATS client, JetStream, nkeys) is loaded only when a controller is configured.
import type { FleetLink } from '../link/fleet-link.ts';
import { startMemoryTrim } from './memory-trim.ts';
import { definitionVersion, notAdoptable } from './adoption-rules.ts';
import { reapOrphans } from './orphan-reaper.ts';
import { AdoptionBook } from './process-adoption.ts';
import { bootId, procStat } from './proc-stat.ts';
import { SessionSource } from './session-source.ts';
import { StateStore } from './state-store.ts';

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly version: string;
  readonly log: SupervisorLog;
  /** The agent's uid; default: the process's. */
  readonly uid?: number;
}

export interface RunningAgent {
  readonly manager: DomainManager;
  /** Stops every job honouring ExitTimeOut, removes the sockets, writes the state file. */
  stop(): Promise<void>;
  /**
   * The upgrade stop (docs/upgrades.md): jobs that can be adopted keep running and are recorded
   * for the next agent; the others (sockets, inetd) are stopped as by `stop`.
   */
  detach(): Promise<void>;
}

/** The file whose presence turns the next SIGTERM into a detach (written by the package's upgrade). */
export function detachRequestPath(runDir: string): string {
  return join(runDir, 'detach-on-stop');
}

/**
 * Is a detach requested? Only by a regular file (not a link) owned by root or the agent's
 * user; consumed either way, so one request serves one stop.
 */
export async function takeDetachRequest(runDir: string, agentUid: number): Promise<boolean> {
  const path = detachRequestPath(runDir);
  const st = await lstat(path).catch(() => undefined);
  if (!st) return false;
  await rm(path, { force: true });
  return st.isFile() && (st.uid === 0 || st.uid === agentUid);
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const { config, log } = o;
  const agentUid = o.uid ?? process.getuid?.() ?? 0;
  const machine = machineConfig(config.launchd.flavor, {
    defaultExitTimeOutSec: config.launchd.exitTimeOutSeconds,
    defaultThrottleIntervalSec: config.launchd.throttleIntervalSeconds,
  });
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  await chmod(config.stateDir, 0o700);
  // The override databases (disabled.plist's equivalent) live here; the store only writes files.
  await mkdir(join(config.stateDir, 'overrides'), { recursive: true, mode: 0o700 });

  const fs = new RealFileSystem();
  const users = new RealUserDb();
  const loader = modelPlistLoader();
  const state = new StateStore(fs, join(config.stateDir, 'agent-state.json'), await bootId(), log);
  const lastSub = new Map<string, string>();
  // Read before the manager exists: its runners claim the detached processes as they load.
  await state.load();
  const leftovers = state.leftovers();
  // LAUNCHFLEET_ADOPT_WATCH=proc: watch adopted processes by polling /proc even where pidfds work
  // (both paths are tested).
  const adoption = new AdoptionBook(
    leftovers.filter((l) => l.definition !== undefined),
    log,
    { pidfd: process.env['LAUNCHFLEET_ADOPT_WATCH'] !== 'proc' },
  );
  /** The fleet link, when a controller is configured (started after the system domain). */
  let link: FleetLink | undefined;
  const onStatus = (s: JobStatus): void => {
    state.onStatus(s);
    link?.onJobStatus(s);
    const key = `${s.domain}/${s.label}`;
    const before = lastSub.get(key);
    if (before !== s.subState) {
      const why = s.history[s.history.length - 1]?.detail ?? '';
      log(
        'info',
        key,
        `${before ?? 'unloaded'} -> ${s.subState}${s.pid !== undefined ? ` (pid ${s.pid})` : ''}${why ? `: ${why}` : ''}`,
      );
      if (s.subState === 'removed') lastSub.delete(key);
      else lastSub.set(key, s.subState);
    }
  };

  const service = (m: DomainManager): ControlService =>
    new ControlService({
      manager: m,
      agentUid,
      version: o.version,
      loader,
      fs,
      users,
      previous: (d, l) => state.previous(d, l),
      onDomainsChanged: () => void syncSockets(),
      retrying: () => link?.retrying() ?? [],
      log,
    });
  const syncSockets = (): Promise<void> => {
    const uids = manager
      .domains()
      .filter((d) => d.kind !== 'system')
      .map((d) => d.uid);
    return server.syncUserSockets(uids);
  };

  const manager: DomainManager = new DomainManager({
    ports: {
      // The job's own process, set up in the lfnative addon (one exec); LAUNCHFLEET_SPAWNER=posix|node
      // selects a spawner of the lf-exec shim (spawner-choice.ts).
      spawner: createProcessSpawner({ stdioOpenFailure: machine.stdioOpenFailure }),
      fs,
      users,
      // With the boot clock: a wall-clock step is told from sleep (clock-jump-detector.ts).
      clock: machineClock(),
      scheduler: systemScheduler,
      adoption,
    },
    config: machine,
    stateDir: config.stateDir,
    daemonDirectories: config.daemonDirectories,
    agentDirectories: config.agentDirectories,
    loadHomeAgents: config.loadHomeAgents,
    agentUid,
    loader,
    log,
    onStatus,
    // docs/launchd-semantics.md §4: launchd holds the jobs' sockets from load to bootout.
    sockets: new SocketManager({ port: new NativeSocketPort(), log }),
  });
  const metrics = createAgentMetrics({
    domainManager: manager,
    info: { hostname: hostname(), version: o.version },
  });
  const server: ControlServer = new ControlServer({
    runDir: config.runDir,
    agentUid,
    service: service(manager),
    log,
  });

  // 1. Refuse to run beside another agent (checked before touching any process: its jobs are
  //    not orphans).
  await server.ensureAlone();
  // A request left from before this start must not turn a later plain stop into a detach.
  await rm(detachRequestPath(config.runDir), { force: true });
  // 2. What a crashed predecessor left behind (a detaching one's processes are adopted below).
  const reaped = await reapOrphans(
    leftovers.filter((l) => l.definition === undefined),
    log,
  );
  if (reaped.killed.length > 0)
    log('info', 'orphans', `stopped ${reaped.killed.length} process groups left by the previous agent`);
  if (adoption.unclaimed > 0)
    log(
      'info',
      'agent',
      `${adoption.unclaimed} job processes left running by the previous agent's detach: adopting them as their jobs load`,
    );
  // 3. The system domain (a bad plist is reported; the rest loads), then the control sockets.
  metrics.recordBootstrapReport('system', await manager.start());
  try {
    await server.start();
  } catch (e) {
    await manager.stop();
    throw e;
  }
  // The local /metrics endpoint: a failure to bind is reported, the jobs run anyway.
  let metricsServer: MetricsServer | undefined;
  if (config.metricsListen) {
    try {
      metricsServer = await startMetricsServer(config.metricsListen, metrics.registry);
      log('info', 'metrics', `serving http://${metricsServer.host}:${metricsServer.port}/metrics`);
    } catch (e) {
      log('error', 'metrics', `cannot serve /metrics: ${messageOf(e)}`);
    }
  }
  const sessions = new SessionSource({
    kind: config.sessions.source,
    fs,
    users,
    ...(config.sessions.utmpPath !== undefined ? { utmpPath: config.sessions.utmpPath } : {}),
  });
  let sessionsBusy: Promise<void> = Promise.resolve();
  let stopping = false;
  /** gui domains this source opened (one root asked for with `lfctl bootstrap gui/<uid>` is left alone). */
  const opened = new Set<number>();
  const syncSessions = (): void => {
    sessionsBusy = sessionsBusy
      .then(async () => {
        if (stopping) return;
        const want = await sessions.current();
        if (agentUid !== 0) for (const u of [...want]) if (u !== agentUid) want.delete(u);
        let changed = false;
        for (const uid of want) {
          if (manager.domain(`gui/${uid}`).ok) continue;
          const r = await manager.openSession(uid, 'gui');
          if (r.ok) opened.add(uid);
          else log('warn', `gui/${uid}`, `login seen, but no domain: ${r.error.message}`);
          changed = true;
        }
        for (const uid of [...opened]) {
          if (want.has(uid)) continue;
          opened.delete(uid);
          await manager.closeSession(uid, 'gui');
          changed = true;
        }
        if (changed) await syncSockets();
      })
      .catch((e: unknown) => log('error', 'sessions', messageOf(e)));
  };
  syncSessions();
  sessions.start(syncSessions);
  await sessionsBusy;
  // The fleet link: enrols on first start, then runs the last verified desired state (even
  // with NATS down) and reconciles to the controller's. Jobs never depend on it.
  if (config.controller) {
    try {
      const { startFleetLink } = await import('../link/fleet-link.ts');
      const l = await startFleetLink({
        config,
        stateDir: config.stateDir,
        domainManager: manager,
        fs,
        clock: systemClock,
        log,
        users,
        loader,
        settings: {
          agentVersion: o.version,
          labels: config.controller.labels ?? {},
          ...(config.controller.heartbeatSeconds !== undefined && {
            heartbeatMs: config.controller.heartbeatSeconds * 1000,
          }),
        },
      });
      link = l;
      metrics.setLink({
        connected: () => l.status().connected,
        desiredRevision: () => l.status().desiredRevision,
        refusals: () => l.status().refusals,
        drift: () => l.status().drift,
        sessionChanges: () => l.status().sessionChanges,
        nodeId: () => l.status().nodeId,
        credentials: () => {
          const c = l.status().credentials;
          return c && { expiresAt: c.expiresAt, expired: c.state === 'expired', renewals: c.renewals };
        },
      });
    } catch (e) {
      log('error', 'link', `fleet link not started, running standalone: ${messageOf(e)}`);
    }
  }
  // Detached processes no job claimed are stopped. The controller's jobs load from the link's
  // first reconcile pass, which does not wait for the broker: give it a while.
  const adoptionDeadline = config.controller
    ? setTimeout(() => void adoption.finish(), 30_000).unref()
    : undefined;
  if (!adoptionDeadline) await adoption.finish();
  // Stopping within those 30 s: what nobody claimed is still ours to stop, not to forget.
  const finishAdoption = (): Promise<void> => {
    clearTimeout(adoptionDeadline);
    return adoption.finish();
  };
  log('info', 'agent', `ready (uid ${agentUid}, control ${socketPaths(config.runDir).system})`);
  const trim = startMemoryTrim();
  /** What stop and detach do first: no new control calls, link or metrics; adoption settled. */
  const quiesce = async (): Promise<void> => {
    stopping = true;
    trim.stop();
    sessions.stop();
    await sessionsBusy;
    await server.stop();
    await link?.stop();
    await metricsServer?.close();
    state.markShutdown();
    await finishAdoption();
  };

  return {
    manager,
    stop: async () => {
      await quiesce();
      log('info', 'agent', 'stopping every job');
      await manager.stop();
      await state.flush();
      metrics.close();
      log('info', 'agent', 'stopped');
    },
    detach: async () => {
      await quiesce();
      log('info', 'agent', 'detaching: jobs that can be adopted keep running for the next agent');
      const left = await manager.detach((spec) => {
        const why = notAdoptable(spec);
        if (why) log('info', spec.label, `stopped for the agent's restart, not left running: ${why}`);
        return why === undefined;
      });
      let recorded = 0;
      for (const j of left) {
        const key = `${j.domain}/${j.spec.label}`;
        const st = await procStat(j.pid);
        if (!st || st.state === 'Z' || st.pgrp !== j.pid) {
          log('info', key, `pid ${j.pid} ended during the detach: the next agent starts the job as usual`);
          continue;
        }
        state.recordDetached(key, { pid: j.pid, startTicks: st.startTicks }, definitionVersion(j.spec));
        recorded++;
      }
      await state.flush();
      metrics.close();
      log('info', 'agent', `detached: ${recorded} job processes left running for the next agent`);
    },
  };
}
