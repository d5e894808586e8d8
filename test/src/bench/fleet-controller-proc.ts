/**
 * The benchmark's control plane: a real nats-server in operator mode (the controller's own
 * auth config), API tokens, and the controller in ITS OWN PROCESS (`launchfleet-controller
 * --config`), so its CPU and memory are measured apart from the simulator's and the server's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore, NatsIdentity } from '@launchfleet/controller/identity';
import { addApiToken } from '@launchfleet/controller';
import {
  type NatsServer,
  type ServerProcess,
  freePort,
  processLauncher,
  startCluster,
  startServer,
  stopAll,
} from '../support/nats-server.ts';
import { repoRoot } from '../support/paths.ts';
import { profileArgs } from './fleet-sim-proc.ts';

export interface BenchControlPlane {
  readonly dir: string;
  /** The first server (the only one unless `cluster`). */
  readonly server: NatsServer;
  /** Every server: one, or the cluster's. */
  readonly servers: readonly NatsServer[];
  readonly urls: readonly string[];
  /**
   * What the servers logged, by kind, since they started (auth timeouts, slow consumers, ...):
   * the harness keeps only the last lines, so the bench counts as they come.
   */
  serverLogCounts(): Record<string, number>;
  /** A nats-server's current process (for /proc readings and signals); default the first. */
  serverProc(i?: number): ServerProcess;
  readonly identity: NatsIdentity;
  readonly controller: ChildProcess;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly tokens: { readonly viewer: string; readonly operator: string; readonly admin: string };
  /** Files holding the controller's and the enroll user's NATS creds (anchor clients, observers). */
  readonly controllerCredsFile: string;
  /** The controller's stderr (last lines). */
  controllerLog(): string;
  close(): Promise<void>;
}

export async function startBenchControlPlane(
  o: {
    offlineAfterSeconds?: number;
    /** More keys of the controller's config (the console benchmark adds tls and consoleListen). */
    controllerConfig?: Readonly<Record<string, unknown>>;
    /** Servers in a cluster (R3 buckets) instead of one server. */
    cluster?: number;
  } = {},
): Promise<BenchControlPlane> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-fleet-bench-'));
  let servers: NatsServer[] = [];
  let controller: ChildProcess | undefined;
  const clusterSize = o.cluster ?? 1;
  try {
    const ks = await KeyStore.open(join(dir, 'keys'));
    const identity = new NatsIdentity(ks.natsKeys());
    /** Each server's current process, by server name (a restart replaces it). */
    const procs = new Map<string, ServerProcess>();
    const logCounts: Record<string, number> = {};
    const countLine = (l: string): void => {
      const kind = logKinds.find(([, re]) => re.test(l))?.[0];
      if (kind) logCounts[kind] = (logCounts[kind] ?? 0) + 1;
    };
    const serverOpts = {
      extraConfig:
        `${await identity.serverAuthConfig()}\nmax_connections: 100000\n` +
        // A rolling restart's lame-duck phase as deploy/nats/nats.conf sets it: clients told at once,
        // closed from 10 s on (the agents move within 10 s), spread over the rest of 30 s. Before
        // 2026-12-07 the grace was 5 s, half the agents' move window (FLEET-RESULTS.md).
        'lame_duck_duration: "30s"\nlame_duck_grace_period: "10s"\n' +
        // LF_BENCH_NATS_PROF_PORT=<port>: Go's pprof endpoints on the broker, to profile it mid-run
        // (in a cluster, server i on <port> + i: set by the launcher below).
        (process.env['LF_BENCH_NATS_PROF_PORT'] && clusterSize === 1
          ? `prof_port: ${process.env['LF_BENCH_NATS_PROF_PORT']}\n`
          : '') +
        // LF_BENCH_NATS_CONFIG=<text>: more broker configuration, to compare a setting's effect.
        (process.env['LF_BENCH_NATS_CONFIG'] ? `${process.env['LF_BENCH_NATS_CONFIG']}\n` : ''),
      launcher: async (a: Parameters<typeof processLauncher>[0]) => {
        const lines = new Proxy(a.logLines, {
          get: (t, k) =>
            k === 'push'
              ? (...ls: string[]) => {
                  ls.forEach(countLine);
                  return t.push(...ls);
                }
              : (Reflect.get(t, k) as unknown),
        });
        const profBase = Number(process.env['LF_BENCH_NATS_PROF_PORT'] ?? '');
        const index = /-s(\d+)$/.exec(a.name)?.[1];
        if (clusterSize > 1 && profBase > 0 && index !== undefined) {
          // A restart launches the same file again: one line is enough.
          if (!(await readFile(a.confPath, 'utf8')).includes('prof_port:'))
            await appendFile(a.confPath, `prof_port: ${profBase + Number(index)}\n`);
        }
        const p = await processLauncher({ ...a, logLines: lines });
        procs.set(a.name, p);
        return p;
      },
      readyTimeoutMs: 30_000,
    };
    servers = clusterSize > 1 ? await startCluster(clusterSize, serverOpts) : [await startServer(serverOpts)];
    const server = servers[0]!;
    const tokensFile = join(dir, 'api-tokens.json');
    const tokens = {
      viewer: await addApiToken(tokensFile, 'bench-viewer', 'viewer'),
      operator: await addApiToken(tokensFile, 'bench-operator', 'operator'),
      admin: await addApiToken(tokensFile, 'bench-admin', 'admin'),
    };
    const grpcPort = await freePort();
    const metricsPort = await freePort();
    const cfgFile = join(dir, 'controller.json');
    await writeFile(
      cfgFile,
      JSON.stringify({
        natsUrls: servers.map((x) => x.url),
        ...(clusterSize > 1 && { jetstreamReplicas: 3 }),
        keyStoreDir: join(dir, 'keys'),
        apiTokensFile: tokensFile,
        grpcListen: `127.0.0.1:${grpcPort}`,
        metricsListen: `127.0.0.1:${metricsPort}`,
        insecure: true,
        offlineAfterSeconds: o.offlineAfterSeconds ?? 90,
        ...o.controllerConfig,
      }),
    );
    const controllerCredsFile = join(dir, 'controller.creds');
    await writeFile(controllerCredsFile, await identity.controllerCreds(), { mode: 0o600 });
    const lines: string[] = [];
    const c = spawn(
      process.execPath,
      [...profileArgs(), join(repoRoot, 'controller', 'dist', 'main.js'), '--config', cfgFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      },
    );
    controller = c;
    // Detached (its own process group), so a Ctrl-C reaches only the benchmark: killed on the
    // benchmark's exit instead, however that comes (fleet-main's signal handlers exit).
    const killOnExit = (): void => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    c.once('exit', () => process.removeListener('exit', killOnExit));
    const ready = new Promise<void>((resolve, reject) => {
      c.stderr?.setEncoding('utf8');
      // LF_BENCH_CONTROLLER_LOG=FILE keeps every line the controller logs (the run keeps only the
      // last 200 in memory): what a stalled enrolment waited for is in it.
      const keep = process.env['LF_BENCH_CONTROLLER_LOG'];
      c.stderr?.on('data', (chunk: string) => {
        if (keep) appendFileSync(keep, chunk);
        for (const l of chunk.split('\n')) {
          if (l === '') continue;
          lines.push(l);
          if (lines.length > 200) lines.shift();
          if (l.includes('gRPC on')) resolve();
        }
      });
      c.once('exit', (code) =>
        reject(new Error(`controller exited (${code}) during start:\n${lines.join('\n')}`)),
      );
    });
    await withTimeout(ready, 30_000, 'controller start');
    const all = servers;
    return {
      dir,
      server,
      servers: all,
      urls: all.map((x) => x.url),
      serverLogCounts: () => ({ ...logCounts }),
      serverProc: (i = 0) => {
        const p = procs.get(all[i]?.name ?? '');
        if (!p) throw new Error(`no process for server ${i}`);
        return p;
      },
      identity,
      controller: c,
      grpcPort,
      metricsPort,
      tokens,
      controllerCredsFile,
      controllerLog: () => lines.join('\n'),
      close: async () => {
        await stopChild(c);
        await stopAll(all);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (controller) await stopChild(controller);
    await stopAll(servers);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The kinds of server log lines the bench counts (the first that matches). */
const logKinds: readonly (readonly [string, RegExp])[] = [
  ['authentication timeout', /authentication timeout/i],
  ['authorization violation', /authorization violation/i],
  ['slow consumer', /slow consumer/i],
  ['maximum connections', /maximum connections/i],
  ['stale or write deadline', /stale connection|write deadline/i],
  ['readloop processing', /readloop processing time/i],
  ['other error', /\[ERR\]/],
  ['other warning', /\[WRN\]/],
];

/** SIGTERM, then SIGKILL after 30 s; resolves when the child has exited. */
export async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
