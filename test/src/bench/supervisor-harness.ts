/**
 * The supervisor as the agent process will run it, without the agent's process (main.ts): a
 * DomainManager over the real adapters (the agent's default spawner + lf-exec: PosixProcessSpawner,
 * or RealProcessSpawner with LAUNCHFLEET_SPAWNER=node; RealFileSystem,
 * RealUserDb, the system clock), launchd 842 semantics, its system domain loaded from a
 * directory of real plist files through the shared plist model — the path a LaunchDaemons
 * directory takes at boot.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlistValue } from '@launchfleet/shared/job';
import { buildXmlPlist } from '@launchfleet/shared';
import { systemClock, systemScheduler } from '@launchfleet/shared/clock';
import {
  createProcessSpawner,
  RealFileSystem,
  RealUserDb,
  DomainManager,
  machineConfig,
  modelPlistLoader,
  type BootstrapReport,
  type Domain,
  type JobStatus,
  type LogLevel,
} from '@launchfleet/node-agent';

/** A plist dictionary for one job. */
export type JobPlist = Readonly<Record<string, PlistValue>>;

/** A KeepAlive job that sleeps for a day: launchd's typical long-running daemon, idle. */
export function sleeperJob(label: string): JobPlist {
  return { Label: label, ProgramArguments: ['/bin/sleep', '86400'], KeepAlive: true, RunAtLoad: true };
}

/**
 * A job that runs `/bin/true` when kicked: nothing starts it at load. ThrottleInterval 0 (honoured
 * by 842) so that kicks a few hundred ms apart are not throttled to launchd's 10 s spacing.
 */
export function trueJob(label: string): JobPlist {
  return { Label: label, ProgramArguments: ['/bin/true'], ThrottleInterval: 0 };
}

/** A running supervisor and how to stop it. */
export interface Supervisor {
  readonly manager: DomainManager;
  readonly system: Domain;
  readonly report: BootstrapReport;
  /** Wall time of manager.start(): reading, checking and loading every plist. */
  readonly loadMs: number;
  /** Log lines by level (the log itself is kept only for warn and error, at most 50). */
  readonly logCounts: Readonly<Record<LogLevel, number>>;
  readonly problems: readonly string[];
  /** Boots out every job (SIGTERM, waits for the exits) and removes the temporary directory. */
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  readonly jobs: readonly JobPlist[];
  /** Every job status change, as the agent's metrics and controller link will receive them. */
  readonly onStatus?: (status: JobStatus) => void;
}

/** Writes the plists into a fresh LaunchDaemons directory and starts the system domain. Root only. */
export async function startSupervisor(o: SupervisorOptions): Promise<Supervisor> {
  if (process.getuid?.() !== 0)
    throw new Error('the supervisor benchmarks run as root (system domain plists must be root-owned)');
  const root = mkdtempSync(join(tmpdir(), 'lf-bench-agent-'));
  const daemons = writeDaemonDirectory(root, o.jobs);
  const logCounts: Record<LogLevel, number> = { debug: 0, info: 0, warn: 0, error: 0 };
  const problems: string[] = [];
  const manager = new DomainManager({
    ports: {
      spawner: createProcessSpawner(),
      fs: new RealFileSystem(),
      users: new RealUserDb(),
      clock: systemClock,
      scheduler: systemScheduler,
    },
    config: machineConfig('842'),
    stateDir: join(root, 'state'),
    daemonDirectories: [daemons],
    agentDirectories: [],
    loadHomeAgents: false,
    agentUid: 0,
    loader: modelPlistLoader(),
    log: (level, label, message) => {
      logCounts[level]++;
      if ((level === 'warn' || level === 'error') && problems.length < 50)
        problems.push(`${level} ${label}: ${message}`);
    },
    ...(o.onStatus ? { onStatus: o.onStatus } : {}),
  });
  const t0 = performance.now();
  const report = await manager.start();
  const loadMs = performance.now() - t0;
  const d = manager.domain('system');
  if (!d.ok) throw new Error(`no system domain after start: ${d.error.message}`);
  if (report.failures.length > 0)
    throw new Error(
      `the supervisor refused ${report.failures.length} benchmark jobs, first: ${JSON.stringify(report.failures[0])}`,
    );
  return {
    manager,
    system: d.value,
    report,
    loadMs,
    logCounts,
    problems,
    stop: async () => {
      try {
        await manager.stop();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Writes one XML plist per job into `<root>/LaunchDaemons` (root-owned, 0644: what the system
 * domain's ownership checks accept) and returns that directory.
 */
export function writeDaemonDirectory(root: string, jobs: readonly JobPlist[]): string {
  const daemons = join(root, 'LaunchDaemons');
  mkdirSync(daemons, { mode: 0o755 });
  chmodSync(root, 0o755);
  for (const job of jobs) {
    const label = job['Label'];
    if (typeof label !== 'string') throw new Error('every benchmark job needs a Label');
    writeFileSync(join(daemons, `${label}.plist`), buildXmlPlist(job), { mode: 0o644 });
  }
  return daemons;
}

/** Zero-padded labels: bench.<prefix>.0001 ... */
export function labels(prefix: string, n: number): string[] {
  const width = String(n).length;
  return Array.from({ length: n }, (_, i) => `bench.${prefix}.${String(i + 1).padStart(width, '0')}`);
}
