/**
 * One fleet node for the link-*.test.ts suites: a real DomainManager (real spawner, file
 * system and user database; the system domain) plus the fleet link, in a temp state dir, with
 * every log line kept. `restart()` stops the link and the supervisor (its jobs stop, as on an
 * agent restart) and starts both again on the same state dir.
 */
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlistValue } from '@launchfleet/shared/job';
import { buildXmlPlist } from '@launchfleet/shared';
import { systemClock, systemScheduler } from '@launchfleet/shared/clock';
import {
  RealProcessSpawner,
  RealFileSystem,
  RealUserDb,
  DomainManager,
  type Domain,
  type JobStatus,
  machineConfig,
  modelPlistLoader,
} from '@launchfleet/node-agent';
import { type FleetLink, type FleetLinkSettings, startFleetLink } from '@launchfleet/node-agent/link';

export interface LinkNode {
  readonly stateDir: string;
  /** The bootstrap token file (token line, then the enroll creds). */
  readonly tokenFile: string;
  readonly manager: DomainManager;
  readonly link: FleetLink;
  readonly logs: string[];
  /** The system domain. */
  system(): Domain;
  /** The status of a system job, if loaded. */
  job(label: string): JobStatus | undefined;
  /** The last status the supervisor reported for a system job, also once it is unloaded. */
  lastReported(label: string): JobStatus | undefined;
  /** Stops link and supervisor, then starts both again on the same state dir. */
  restart(o?: { urls?: readonly string[] }): Promise<void>;
  /** Stops everything and removes the state dir. */
  close(): Promise<void>;
}

export interface LinkNodeOptions {
  readonly urls: readonly string[];
  /** The bootstrap token; written with the enroll creds into one token file. */
  readonly token: string;
  readonly enrollCreds: Uint8Array;
  readonly settings?: FleetLinkSettings;
  /** The link's randomness (backoff and reconnect spread draws). Default Math.random. */
  readonly random?: () => number;
  /** Print logs to stderr (debugging). */
  readonly debug?: boolean;
}

/** Fast timings for tests: short backoff and heartbeats (events as in production unless a suite says). */
export const testLinkSettings: FleetLinkSettings = {
  heartbeatMs: 500,
  statusMinIntervalMs: 100,
  // No short scan: changes reach the reporter as pushes, as in production (the scan's 30 s
  // default is only a safety net), so these suites check the push path.
  resyncMs: 2000,
  backoff: { baseMs: 100, capMs: 500 },
  connectTimeoutMs: 2000,
};

export async function startLinkNode(o: LinkNodeOptions): Promise<LinkNode> {
  const root = await mkdtemp(join(tmpdir(), 'lf-link-node-'));
  const stateDir = join(root, 'state');
  const tokenFile = join(root, 'bootstrap.token');
  // The supervisor's override store (launchctl disable) writes here; the agent's main creates it.
  await mkdir(join(stateDir, 'overrides'), { recursive: true, mode: 0o700 });
  await writeFile(tokenFile, `${o.token}\n${new TextDecoder().decode(o.enrollCreds)}`, { mode: 0o600 });
  const logs: string[] = [];
  let urls = o.urls;
  let manager!: DomainManager;
  let link!: FleetLink;
  const reported = new Map<string, JobStatus>();

  const start = async (): Promise<void> => {
    const log = (level: string, label: string, message: string): void => {
      const line = `${level} ${label}: ${message}`;
      logs.push(line);
      if (logs.length > 5000) logs.splice(0, 1000);
      if (o.debug) process.stderr.write(`[node] ${line}\n`);
      // LF_TEST_LOG=<file>: keep every node log line (diagnosing a failure on a loaded machine).
      const file = process.env['LF_TEST_LOG'];
      if (file) appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
    };
    const fs = new RealFileSystem();
    manager = new DomainManager({
      ports: {
        spawner: new RealProcessSpawner(),
        fs,
        users: new RealUserDb(),
        clock: systemClock,
        scheduler: systemScheduler,
      },
      config: machineConfig('842'),
      stateDir,
      daemonDirectories: [],
      agentDirectories: [],
      loadHomeAgents: false,
      agentUid: 0,
      loader: modelPlistLoader(),
      log,
      // The link starts after the supervisor; until then (and for a stopped link) this is a no-op.
      onStatus: (s) => {
        if (s.domain === 'system') reported.set(s.label, s);
        (link as FleetLink | undefined)?.onJobStatus(s);
      },
    });
    await manager.start();
    link = await startFleetLink({
      config: { controller: { natsUrls: [...urls], bootstrapTokenFile: tokenFile } },
      stateDir,
      domainManager: manager,
      fs,
      clock: systemClock,
      log,
      settings: { ...testLinkSettings, ...o.settings },
      ...(o.random && { random: o.random }),
    });
  };
  const stop = async (): Promise<void> => {
    await link.stop();
    await manager.stop();
  };
  await start();
  return {
    stateDir,
    tokenFile,
    get manager() {
      return manager;
    },
    get link() {
      return link;
    },
    logs,
    system: () => {
      const d = manager.domain('system');
      if (!d.ok) throw new Error('no system domain');
      return d.value;
    },
    job: (label) => {
      const d = manager.domain('system');
      if (!d.ok) return undefined;
      const r = d.value.print(label);
      return r.ok ? r.value : undefined;
    },
    lastReported: (label) => reported.get(label),
    restart: async (r = {}) => {
      await stop();
      if (r.urls) urls = r.urls;
      await start();
    },
    close: async () => {
      await stop().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A system daemon plist: a long-running /bin/sh job (exec, so SIGTERM reaches the sleeper). */
export function daemonPlist(
  label: string,
  extra: Record<string, PlistValue> = {},
  script = 'exec sleep 300',
): string {
  return buildXmlPlist({
    Label: label,
    ProgramArguments: ['/bin/sh', '-c', script],
    RunAtLoad: true,
    KeepAlive: true,
    ExitTimeOut: 2,
    ...extra,
  });
}

/** Waits until `label` runs as a process other than `oldPid` (started again); returns the new pid. */
export function newPid(
  node: LinkNode,
  label: string,
  oldPid: number | undefined,
  ms: number,
  what: string,
): Promise<number> {
  return eventually(
    () => {
      const p = node.job(label)?.pid;
      return p !== undefined && p !== oldPid ? p : undefined;
    },
    ms,
    what,
  );
}

/** Polls `check` every 25 ms until it returns a value other than undefined/false; fails after `ms`. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True while a pid exists. */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A job's environment as /proc shows it once its exec has finished. The supervisor reports a
 * pid once the exec passed the point of no return, but the kernel sets the new image's argv and
 * environment bounds a moment later: /proc/<pid>/environ reads empty in that window (a CI run
 * on a loaded machine read '' there). Waits (bounded) until cmdline is non-empty, then reads.
 */
export async function execedEnviron(pid: number, ms = 5000): Promise<string> {
  await eventually(
    async () => (await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0))).length > 0,
    ms,
    `pid ${pid} has finished its exec`,
  );
  return readFile(`/proc/${pid}/environ`, 'utf8');
}
