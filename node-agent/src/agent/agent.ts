/**
 * The agent process's parts, put together: real adapters, the DomainManager with the system
 * domain loaded from the daemon directories (and the socket manager holding jobs' sockets),
 * login sessions as gui domains, the local control API, the /metrics endpoint, the state file
 * (last status, job processes) and the reaping of a crashed predecessor's processes. `startAgent` returns once the control sockets accept calls; `stop` stops every job
 * (SIGTERM, SIGKILL after ExitTimeOut) and resolves when all are gone.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { messageOf } from '@launchfleet/shared/errors';
import { systemClock, systemScheduler } from '@launchfleet/shared/time/clock';
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
import { reapOrphans } from './orphan-reaper.ts';
import { bootId } from './proc-stat.ts';
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
      clock: systemClock,
      scheduler: systemScheduler,
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
  // 2. What a crashed predecessor left behind.
  await state.load();
  const reaped = await reapOrphans(state.leftovers(), log);
  if (reaped.killed.length > 0)
    log('info', 'orphans', `stopped ${reaped.killed.length} process groups left by the previous agent`);
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
  log('info', 'agent', `ready (uid ${agentUid}, control ${socketPaths(config.runDir).system})`);
  const trim = startMemoryTrim();

  return {
    manager,
    stop: async () => {
      stopping = true;
      trim.stop();
      sessions.stop();
      await sessionsBusy;
      await server.stop();
      await link?.stop();
      await metricsServer?.close();
      state.markShutdown();
      log('info', 'agent', 'stopping every job');
      await manager.stop();
      await state.flush();
      metrics.close();
      log('info', 'agent', 'stopped');
    },
  };
}
