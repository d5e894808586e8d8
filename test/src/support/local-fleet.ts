/**
 * A whole local fleet as separate processes, the way scripts/local-fleet.sh runs it, in a temp
 * directory on free loopback ports: nats-server (operator mode, config from `launchfleet
 * init-local`), the controller (`launchfleet-controller --config`, gRPC over TLS with a throwaway
 * CA), and one agent (`launchfleet-agent --config`) that enrols with a bootstrap token made by
 * `launchfleet tokens create`. Returns the addresses, the admin token, a CLI runner and a
 * cleanup that stops the agent first (it stops its jobs), then the controller, then NATS, and
 * removes the directory.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addApiToken } from '@launchfleet/controller';
import { makeTlsFiles } from './controller-fleet.ts';
import { eventually } from './eventually.ts';
import { freePorts, natsServerBin } from './nats-server.ts';
import { repoRoot } from './paths.ts';
import { type TcpProxy, startTcpProxy } from './tcp-proxy.ts';

const run = promisify(execFile);
const controllerBin = join(repoRoot, 'controller', 'bin', 'launchfleet-controller.js');
const cliBin = join(repoRoot, 'controller', 'bin', 'launchfleet.js');
const agentBin = join(repoRoot, 'node-agent', 'bin', 'launchfleet-agent.js');

export interface LocalFleetOptions {
  /** Extra arguments for launchfleet-controller (e.g. `--alert-for NAME=DURATION`). */
  readonly controllerArgs?: readonly string[];
  /** Seconds without a report before a node is offline. Default 30. */
  readonly offlineAfterSeconds?: number;
  /** More agent processes (each enrols as its own node), with the selector labels they report. */
  /** More API tokens (added to the tokens file before the controller starts), by name. */
  readonly apiTokens?: readonly { readonly name: string; readonly role: 'viewer' | 'operator' | 'admin' }[];
  /** Extra keys of the controller's config file (e.g. `consoleSessionHours`). */
  readonly controllerConfig?: Readonly<Record<string, unknown>>;
  readonly extraAgents?: readonly {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    /**
     * Runs this agent in that network namespace (`ip netns exec NAME`); it reaches NATS at
     * `agentNetns.hostAddress` like the first agent (netns.ts makeNetnsGroup: one bridge).
     */
    readonly netns?: string;
  }[];
  /**
   * The agent program: an executable run as `AGENT --config FILE` (the single-file agent from
   * scripts/build-agent.sh). Default: node-agent/bin/launchfleet-agent.js under this Node.
   */
  readonly agentExecutable?: string;
  /**
   * An agent's state directory by agent name (`agent` is the first one), absolute; default
   * `<dir>/<name>/state`. The fault suite puts it on a small file system it mounts itself.
   */
  readonly agentStateDirs?: Readonly<Record<string, string>>;
  /** The first agent reaches NATS through a TCP proxy (`agentProxy`), so a test can cut or silence its link alone. */
  readonly proxyAgent?: boolean;
  /**
   * The first agent runs in this network namespace (`ip netns exec NAME`, made by the test:
   * netns.ts) and reaches NATS at `hostAddress`, the host's end of the namespace's veth pair.
   * nats-server then listens on that address instead of 127.0.0.1, and the controller and the
   * CLI connect there too (over the host's own routing, which the namespace's rules never see).
   */
  readonly agentNetns?: { readonly name: string; readonly hostAddress: string };
  /**
   * The (first) controller runs in this network namespace (`ip netns exec NAME`, made by the
   * test: netns.ts) and reaches NATS at `hostAddress`, as `agentNetns` does for the agent (nats-server
   * listens there; give the same host address when both are set). Its gRPC API, metrics and
   * console listen on the namespace's own loopback, so `cli` (and `spawnCli`) run the CLI inside
   * the namespace when they talk to it; a second controller and the agents stay on the host.
   * `metricsUrl` and `consoleUrl` are not reachable from the host then.
   */
  readonly controllerNetns?: { readonly name: string; readonly hostAddress: string };
  /**
   * Environment variables added to the first agent's process only (e.g. libfaketime's
   * `LD_PRELOAD` and `FAKETIME_TIMESTAMP_FILE`: fault-time steps that agent's wall clock).
   */
  readonly agentEnv?: Readonly<Record<string, string>>;
}

/** A CLI result. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LocalFleet {
  readonly dir: string;
  readonly natsUrl: string;
  /** `http://127.0.0.1:<port>` of nats-server's monitoring endpoint (/varz, /jsz, ...). */
  readonly natsMonitorUrl: string;
  /** `127.0.0.1:<port>` of the controller's gRPC API (TLS). */
  readonly grpcAddress: string;
  readonly grpcPort: number;
  /** `http://127.0.0.1:<port>/metrics` of the controller. */
  readonly metricsUrl: string;
  readonly metricsPort: number;
  /** `https://127.0.0.1:<port>` of the web console (the throwaway CA signs its certificate). */
  readonly consoleUrl: string;
  readonly agentMetricsPort: number;
  /** The tokens of `apiTokens`, by name. */
  readonly apiTokens: Readonly<Record<string, string>>;
  readonly caCert: string;
  readonly adminToken: string;
  readonly nodeId: string;
  /** Node ids of `extraAgents`, by name. */
  readonly extraNodeIds: Readonly<Record<string, string>>;
  /**
   * SIGKILLs one extra agent's process (its jobs' process groups are left to the test), or sends
   * `signal` instead (SIGTERM: a stop or, with a detach request, an upgrade's detach) and waits
   * for its exit.
   */
  killAgent(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a killed agent again with its config and state (it reaps what its predecessor left). */
  restartAgent(name: string): Promise<void>;
  /** The proxy between the first agent and NATS, with `proxyAgent`. */
  readonly agentProxy: TcpProxy | undefined;
  /** SIGKILLs the nats-server (its store stays); the agents and the controller keep running. */
  killBroker(): Promise<void>;
  /** Starts the nats-server again with the same config and store; resolves when it is healthy. */
  restartBroker(): Promise<void>;
  /** The pid of an agent process (`agent` is the first one), if it runs. */
  agentPid(name?: string): number | undefined;
  /** Everything an agent process has logged (all its lives), read from its log file. */
  agentLog(name?: string): Promise<string>;
  /** The agent's run directory (its control socket, for lfctl --run-dir). */
  runDir(name?: string): string;
  /** The agent's state directory. */
  stateDir(name?: string): string;
  /** Stops the controller (SIGTERM) and starts it again with the same config; resolves when its API answers. */
  restartController(): Promise<void>;
  /**
   * Starts a second controller process (`controller-2`) on the same NATS, keys and tokens, with
   * its own API, metrics and console ports (two controllers of one fleet, as for high
   * availability); resolves with its API address once it answers.
   */
  startSecondController(): Promise<string>;
  /** The pid of a controller process (`controller` or `controller-2`), if it runs. */
  controllerPid(name?: string): number | undefined;
  /** SIGKILLs a controller process (`controller` or `controller-2`): no shutdown of any kind. */
  killController(name?: string): Promise<void>;
  /** The environment the CLI needs (server, CA, token). */
  readonly cliEnv: NodeJS.ProcessEnv;
  /** Runs `launchfleet ARGS` against the controller; never throws on a non-zero exit. */
  cli(args: readonly string[], timeoutMs?: number): Promise<CliResult>;
  /** Starts `launchfleet ARGS` as a long-running process (e.g. `events --follow`); the cleanup kills it. */
  spawnCli(args: readonly string[]): ChildProcess;
  /** The last lines of every process' log. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

/** Starts the fleet; on failure everything started so far is stopped and the error says why. */
export async function startLocalFleet(o: LocalFleetOptions = {}): Promise<LocalFleet> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-local-'));
  const procs: Proc[] = [];
  const logFile = (name: string) => join(dir, 'logs', `${name}.log`);
  const logs = async () => {
    const parts: string[] = [];
    for (const p of ['nats', 'controller', 'controller-2', 'agent', ...procs.map((x) => x.name)].filter(
      (v, i, a) => a.indexOf(v) === i,
    )) {
      const text = await readFile(logFile(p), 'utf8').catch(() => '');
      if (text) parts.push(`--- ${p}\n${text.split('\n').slice(-40).join('\n')}`);
    }
    return parts.join('\n');
  };
  let agentProxy: TcpProxy | undefined;
  const stop = async () => {
    // Reverse start order: the agent stops its jobs first, NATS goes last.
    for (const p of [...procs].reverse()) await stopProc(p);
    procs.length = 0;
    await agentProxy?.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(join(dir, 'tls'), { recursive: true });
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'agent', 'LaunchDaemons'), { recursive: true });
    await mkdir(join(dir, 'agent', 'LaunchAgents'));
    const tls = makeTlsFiles(join(dir, 'tls'));
    const [natsPort, natsMon, grpcPort, metricsPort, agentMetricsPort, consolePort] = (await freePorts(
      6,
    )) as [number, number, number, number, number, number];
    await run(process.execPath, [
      cliBin,
      'init-local',
      dir,
      ...['--nats-port', String(natsPort), '--nats-monitor-port', String(natsMon)],
      ...['--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort)],
      ...['--console-port', String(consolePort)],
      ...['--tls-cert', tls.cert, '--tls-key', tls.key],
      ...['--offline-after', String(o.offlineAfterSeconds ?? 30)],
    ]);
    if (o.agentNetns && o.controllerNetns && o.agentNetns.hostAddress !== o.controllerNetns.hostAddress)
      throw new Error('agentNetns and controllerNetns must reach nats-server at one host address');
    const natsHost = o.agentNetns?.hostAddress ?? o.controllerNetns?.hostAddress ?? '127.0.0.1';
    if (o.agentNetns || o.controllerNetns) {
      const conf = join(dir, 'nats', 'nats.conf');
      const text = await readFile(conf, 'utf8');
      const loopback = `listen: "127.0.0.1:${natsPort}"`;
      if (!text.includes(loopback)) throw new Error(`${conf} has no ${loopback} to move to ${natsHost}`);
      await writeFile(conf, text.replace(loopback, `listen: "${natsHost}:${natsPort}"`));
      const file = join(dir, 'controller', 'controller.json');
      const cfg = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...cfg, natsUrls: [`nats://${natsHost}:${natsPort}`] }));
    }
    const adminToken = (await readFile(join(dir, 'admin-token'), 'utf8')).trim();
    const apiTokens: Record<string, string> = {};
    for (const t of o.apiTokens ?? [])
      apiTokens[t.name] = await addApiToken(join(dir, 'controller', 'api-tokens.json'), t.name, t.role);
    if (o.controllerConfig) {
      const file = join(dir, 'controller', 'controller.json');
      const cfg = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...cfg, ...o.controllerConfig }));
    }
    const grpcAddress = `127.0.0.1:${grpcPort}`;
    const cliEnv: NodeJS.ProcessEnv = {
      ...process.env,
      LAUNCHFLEET_SERVER: grpcAddress,
      LAUNCHFLEET_CA: tls.caCert,
      LAUNCHFLEET_TOKEN: adminToken,
    };
    /** The CLI's command line; inside the controller's namespace when it talks to that controller. */
    const cliCommand = (args: readonly string[], env: NodeJS.ProcessEnv): [string, string[]] => {
      const i = args.indexOf('--server');
      const server = i >= 0 ? args[i + 1] : env['LAUNCHFLEET_SERVER'];
      return o.controllerNetns && server === grpcAddress
        ? ['ip', ['netns', 'exec', o.controllerNetns.name, process.execPath, cliBin, ...args]]
        : [process.execPath, [cliBin, ...args]];
    };
    const cli = async (args: readonly string[], timeoutMs = 30_000, env = cliEnv): Promise<CliResult> => {
      try {
        const r = await run(...cliCommand(args, env), { env, timeout: timeoutMs });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const x = e as { code?: unknown; stdout?: string; stderr?: string };
        return {
          code: typeof x.code === 'number' ? x.code : 1,
          stdout: x.stdout ?? '',
          stderr: x.stderr ?? String(e),
        };
      }
    };
    const start = async (name: string, cmd: string, args: readonly string[]) => {
      const env = name === 'agent' && o.agentEnv ? { ...cliEnv, ...o.agentEnv } : cliEnv;
      const p = await startProc(name, cmd, args, logFile(name), env);
      procs.push(p);
      return p;
    };
    const alive = () => {
      for (const p of procs)
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${p.name} exited`);
    };

    const startBroker = async () => {
      const p = await startProc(
        'nats',
        natsServerBin(),
        ['-c', join(dir, 'nats', 'nats.conf')],
        logFile('nats'),
        cliEnv,
      );
      // First in the list: the cleanup stops it last.
      procs.unshift(p);
      await eventually(async () => {
        alive();
        if (!(await fetch(`http://127.0.0.1:${natsMon}/healthz`)).ok)
          throw new Error('nats-server not ready');
      }, 20_000);
    };
    await startBroker();
    const stateDirOf = (name: string) => o.agentStateDirs?.[name] ?? join(dir, name, 'state');

    const startControllerProc = async () => {
      const argv = [
        process.execPath,
        controllerBin,
        '--config',
        join(dir, 'controller', 'controller.json'),
        ...(o.controllerArgs ?? []),
      ];
      // `ip netns exec` execs the controller (no fork: the pid is the controller's).
      if (o.controllerNetns)
        await start('controller', 'ip', ['netns', 'exec', o.controllerNetns.name, ...argv]);
      else await start('controller', process.execPath, argv.slice(1));
      await eventually(async () => {
        alive();
        const r = await cli(['nodes', 'list'], 10_000);
        if (r.code !== 0) throw new Error(`controller API not ready: ${r.stderr}`);
      }, 30_000);
    };
    await startControllerProc();
    const startSecondController = async (): Promise<string> => {
      const [g2, m2, c2] = (await freePorts(3)) as [number, number, number];
      const file = join(dir, 'controller', 'controller.json');
      const cfg = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      const file2 = join(dir, 'controller', 'controller-2.json');
      await writeFile(
        file2,
        JSON.stringify({
          ...cfg,
          grpcListen: `127.0.0.1:${g2}`,
          metricsListen: `127.0.0.1:${m2}`,
          consoleListen: `127.0.0.1:${c2}`,
        }),
      );
      const address = `127.0.0.1:${g2}`;
      await start('controller-2', process.execPath, [
        controllerBin,
        '--config',
        file2,
        ...(o.controllerArgs ?? []),
      ]);
      await eventually(async () => {
        alive();
        const r = await cli(['nodes', 'list'], 10_000, { ...cliEnv, LAUNCHFLEET_SERVER: address });
        if (r.code !== 0) throw new Error(`controller-2 API not ready: ${r.stderr}`);
      }, 30_000);
      return address;
    };

    const agentCommand = (config: string, name = 'agent'): [string, string, string[]] => {
      const argv = o.agentExecutable
        ? [o.agentExecutable, '--config', config]
        : [process.execPath, agentBin, '--config', config];
      // `ip netns exec` enters the namespace and execs the agent (no fork: the pid is the agent's).
      const ns = name === 'agent' ? o.agentNetns?.name : o.extraAgents?.find((a) => a.name === name)?.netns;
      if (ns !== undefined) return [name, 'ip', ['netns', 'exec', ns, ...argv]];
      return [name, argv[0] ?? process.execPath, argv.slice(1)];
    };
    /** Starts one agent process in `dir/<name>` that enrols with a fresh token; returns its node id. */
    const startAgentProc = async (
      name: string,
      metricsPort: number | null,
      labels: Readonly<Record<string, string>>,
    ): Promise<string> => {
      const home = join(dir, name);
      await mkdir(join(home, 'LaunchDaemons'), { recursive: true });
      await mkdir(join(home, 'LaunchAgents'), { recursive: true });
      const t = await cli(['tokens', 'create', '--ttl', '1h', '--uses', '1', '--json']);
      if (t.code !== 0) throw new Error(`tokens create: ${t.stderr}`);
      const token = JSON.parse(t.stdout) as { token: string; enrollCredentials: string };
      await writeFile(join(home, 'bootstrap-token'), `${token.token}\n${token.enrollCredentials}`, {
        mode: 0o600,
      });
      await writeFile(
        join(home, 'agent.json'),
        JSON.stringify({
          stateDir: stateDirOf(name),
          runDir: 'run',
          daemonDirectories: ['LaunchDaemons'],
          agentDirectories: ['LaunchAgents'],
          loadHomeAgents: false,
          sessions: { source: 'none' },
          metricsListen: metricsPort === null ? null : `127.0.0.1:${metricsPort}`,
          controller: {
            natsUrls: [name === 'agent' && agentProxy ? agentProxy.url : `nats://${natsHost}:${natsPort}`],
            bootstrapTokenFile: 'bootstrap-token',
            labels,
          },
        }),
      );
      await start(...agentCommand(join(home, 'agent.json'), name));
      const nodeFile = join(stateDirOf(name), 'node.json');
      await eventually(async () => {
        alive();
        if ((await stat(nodeFile)).size === 0) throw new Error(`${name} not enrolled yet`);
      }, 60_000);
      return (JSON.parse(await readFile(nodeFile, 'utf8')) as { nodeId: string }).nodeId;
    };
    if (o.proxyAgent) agentProxy = await startTcpProxy(natsPort);
    const nodeId = await startAgentProc('agent', agentMetricsPort, {});
    const extraNodeIds: Record<string, string> = {};
    for (const a of o.extraAgents ?? []) extraNodeIds[a.name] = await startAgentProc(a.name, null, a.labels);

    return {
      dir,
      natsUrl: `nats://${natsHost}:${natsPort}`,
      natsMonitorUrl: `http://127.0.0.1:${natsMon}`,
      grpcAddress,
      grpcPort,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      metricsPort,
      consoleUrl: `https://127.0.0.1:${consolePort}`,
      apiTokens,
      agentMetricsPort,
      caCert: tls.caCert,
      adminToken,
      nodeId,
      extraNodeIds,
      agentProxy,
      async killAgent(name, signal = 'SIGKILL') {
        const p = procs.find((x) => x.name === name);
        if (!p?.child.pid) throw new Error(`no agent process ${name}`);
        p.child.kill(signal);
        await p.exited;
        // Gone on purpose: no longer one of the processes that must stay alive.
        procs.splice(procs.indexOf(p), 1);
      },
      async restartAgent(name) {
        const i = procs.findIndex((x) => x.name === name);
        if (i >= 0) procs.splice(i, 1);
        await start(...agentCommand(join(dir, name, 'agent.json'), name));
      },
      async killBroker() {
        const p = procs.find((x) => x.name === 'nats');
        if (!p?.child.pid) throw new Error('no nats-server process');
        process.kill(-p.child.pid, 'SIGKILL');
        await p.exited;
        procs.splice(procs.indexOf(p), 1);
      },
      restartBroker: startBroker,
      agentPid(name = 'agent') {
        const p = procs.find((x) => x.name === name);
        return p && p.child.exitCode === null && p.child.signalCode === null ? p.child.pid : undefined;
      },
      agentLog: (name = 'agent') => readFile(logFile(name), 'utf8').catch(() => ''),
      runDir: (name = 'agent') => join(dir, name, 'run'),
      stateDir: (name = 'agent') => stateDirOf(name),
      async restartController() {
        const i = procs.findIndex((x) => x.name === 'controller');
        const p = procs[i];
        if (!p) throw new Error('no controller process');
        await stopProc(p);
        procs.splice(i, 1);
        await startControllerProc();
      },
      startSecondController,
      controllerPid(name = 'controller') {
        const p = procs.find((x) => x.name === name);
        return p && p.child.exitCode === null && p.child.signalCode === null ? p.child.pid : undefined;
      },
      async killController(name = 'controller') {
        const p = procs.find((x) => x.name === name);
        if (!p?.child.pid) throw new Error(`no controller process ${name}`);
        process.kill(-p.child.pid, 'SIGKILL');
        await p.exited;
        procs.splice(procs.indexOf(p), 1);
      },
      cliEnv,
      cli: (args, timeoutMs) => cli(args, timeoutMs),
      spawnCli(args) {
        const child = spawn(...cliCommand(args, cliEnv), {
          env: cliEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        // Stopped first by the cleanup (it is the newest process).
        procs.push({ name: `cli-${procs.length}`, child, exited });
        return child;
      },
      logs,
      stop,
    };
  } catch (e) {
    const text = await logs();
    await stop();
    throw new Error(`local fleet did not start: ${(e as Error).message}\n${text}`, { cause: e });
  }
}

async function startProc(
  name: string,
  cmd: string,
  args: readonly string[],
  log: string,
  env: NodeJS.ProcessEnv,
): Promise<Proc> {
  const fh = await open(log, 'a');
  // Own process group: the cleanup can signal the process and whatever it started.
  const child = spawn(cmd, [...args], { stdio: ['ignore', fh.fd, fh.fd], detached: true, env });
  await fh.close();
  const exited = new Promise<void>((r) => {
    child.once('exit', () => r());
    child.once('error', () => r());
  });
  return { name, child, exited };
}

/** SIGTERM to the process, up to 10 s to exit, then SIGKILL to its whole group. */
async function stopProc(p: Proc): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
    await Promise.race([p.exited, timer]);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
  await Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
}
