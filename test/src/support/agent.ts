/**
 * A real launchfleet-agent process per suite: a temporary directory (state, run, daemon and
 * agent directories), a config file with small timings, readiness when the control socket
 * appears, lfctl runs (as root or as another real user through `setpriv`), and cleanup that
 * stops the agent and removes the directory. Restarting over the same directory (after a
 * SIGTERM or a SIGKILL) is supported for the crash tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';

export const agentBin = join(repoRoot, 'node-agent', 'bin', 'launchfleet-agent.js');
export const lfctlBin = join(repoRoot, 'node-agent', 'bin', 'lfctl.js');

export interface LfctlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Who runs lfctl: root (default) or a real account. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface AgentDirs {
  readonly dir: string;
  readonly stateDir: string;
  readonly runDir: string;
  readonly daemonDir: string;
  readonly agentDir: string;
  readonly configFile: string;
}

/** The directories of an agent started without --config in `cwd` (config/agent-config.ts defaults). */
export function defaultAgentDirs(cwd: string): AgentDirs {
  const base = join(cwd, '.launchfleet', 'agent');
  return {
    dir: cwd,
    stateDir: join(base, 'state'),
    runDir: join(base, 'run'),
    daemonDir: join(base, 'LaunchDaemons'),
    agentDir: join(base, 'LaunchAgents'),
    configFile: '',
  };
}

/** Creates a world-traversable temporary directory tree and a config file. */
export function makeAgentDirs(config: Record<string, unknown> = {}): AgentDirs {
  const dir = mkdtempSync(join(tmpdir(), 'lfctl-agent-'));
  chmodSync(dir, 0o755); // other users' lfctl must reach run/ (and their own plists here)
  const d = {
    dir,
    stateDir: join(dir, 'state'),
    runDir: join(dir, 'run'),
    daemonDir: join(dir, 'LaunchDaemons'),
    agentDir: join(dir, 'LaunchAgents'),
    configFile: join(dir, 'agent.json'),
  };
  mkdirSync(d.daemonDir, { mode: 0o755 });
  mkdirSync(d.agentDir, { mode: 0o755 });
  writeFileSync(
    d.configFile,
    JSON.stringify({
      stateDir: d.stateDir,
      runDir: d.runDir,
      daemonDirectories: [d.daemonDir],
      agentDirectories: [d.agentDir],
      loadHomeAgents: false,
      sessions: { source: 'none' },
      metricsListen: null,
      launchd: { flavor: '842', exitTimeOutSeconds: 5, throttleIntervalSeconds: 1 },
      ...config,
    }),
  );
  return d;
}

export class AgentProcess {
  readonly dirs: AgentDirs;
  readonly proc: ChildProcess;
  private logText = '';
  private exitWaiters: ((code: number | null) => void)[] = [];
  private exitCode: number | null | undefined;

  constructor(dirs: AgentDirs, proc: ChildProcess) {
    this.dirs = dirs;
    this.proc = proc;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (c: string) => {
      if (this.logText.length < 4_000_000) this.logText += c;
      if (process.env['LF_TEST_DEBUG']) process.stderr.write(c);
    });
    proc.stdout?.resume();
    proc.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? -1 : null);
      for (const w of this.exitWaiters.splice(0)) w(this.exitCode);
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  /** Everything the agent logged so far. */
  get log(): string {
    return this.logText;
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Resolves with the exit code (-1 for a signal death), or rejects after `ms`. */
  waitExit(ms = 30_000): Promise<number | null> {
    if (this.exitCode !== undefined) return Promise.resolve(this.exitCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`agent did not exit within ${ms} ms\n${this.logText}`)),
        ms,
      );
      this.exitWaiters.push((c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
  }

  /** Waits until the log matches `re`. */
  async waitForLog(re: RegExp, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this.logText)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${String(re)} in the agent log:\n${this.logText}`);
      if (this.exited) throw new Error(`the agent exited while waiting for ${String(re)}:\n${this.logText}`);
      await sleep(20);
    }
  }

  /** Runs lfctl against this agent. */
  lfctl(args: readonly string[], as?: RunAs): Promise<LfctlResult> {
    return runLfctl(['--run-dir', this.dirs.runDir, ...args], as, this.dirs.dir);
  }

  /** SIGTERM (or another signal) and wait for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 30_000): Promise<number | null> {
    if (!this.exited) this.proc.kill(signal);
    return this.waitExit(ms);
  }
}

/** Starts an agent over `dirs` (new ones by default) and waits for its control socket. */
export async function startAgentProcess(
  dirs: AgentDirs = makeAgentDirs(),
  opts: {
    readyMs?: number;
    /** Run the agent as this user (an unprivileged development agent). */
    as?: RunAs;
    /** Start without --config (the defaults: everything under <dirs.dir>/.launchfleet/agent). */
    defaults?: boolean;
    /** More environment for the agent process. */
    env?: Readonly<Record<string, string>>;
    /** Run this executable instead of `node launchfleet-agent.js` (the single-file agent). */
    executable?: string;
  } = {},
): Promise<AgentProcess> {
  const configArgs = opts.defaults === true ? [] : ['--config', dirs.configFile];
  const agentArgs = [agentBin, ...configArgs];
  const [file, argv] = opts.executable
    ? [opts.executable, configArgs]
    : opts.as
      ? [
          'setpriv',
          [
            '--reuid',
            String(opts.as.uid),
            '--regid',
            String(opts.as.gid),
            '--init-groups',
            process.execPath,
            ...agentArgs,
          ],
        ]
      : [process.execPath, agentArgs];
  const proc = spawn(file, argv, {
    cwd: dirs.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      LAUNCHFLEET_LOG: 'debug',
      // LAUNCHFLEET_SPAWNER=node runs the agents under test with the child_process spawner.
      ...(process.env['LAUNCHFLEET_SPAWNER'] !== undefined && {
        LAUNCHFLEET_SPAWNER: process.env['LAUNCHFLEET_SPAWNER'],
      }),
      ...opts.env,
    },
  });
  const a = new AgentProcess(dirs, proc);
  const sock = join(dirs.runDir, 'system.sock');
  const deadline = Date.now() + (opts.readyMs ?? 20_000);
  while (!existsSync(sock) || !/agent: ready/.test(a.log)) {
    if (a.exited) throw new Error(`launchfleet-agent exited during start:\n${a.log}`);
    if (Date.now() > deadline) {
      a.proc.kill('SIGKILL');
      throw new Error(`launchfleet-agent not ready:\n${a.log}`);
    }
    await sleep(20);
  }
  return a;
}

/** Runs lfctl (as root, or as `as` via setpriv with the account's groups). */
export function runLfctl(args: readonly string[], as?: RunAs, cwd = '/'): Promise<LfctlResult> {
  const node = process.execPath;
  const [file, argv] = as
    ? [
        'setpriv',
        ['--reuid', String(as.uid), '--regid', String(as.gid), '--init-groups', node, lfctlBin, ...args],
      ]
    : [node, [lfctlBin, ...args]];
  return new Promise((resolve, reject) => {
    const p = spawn(file, argv, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`lfctl ${args.join(' ')} did not finish in 60 s`));
    }, 60_000);
    p.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `lfctl print --json <target>` of the agent, or undefined when print fails (not loaded). */
export async function printJson(
  a: AgentProcess,
  target: string,
): Promise<Record<string, unknown> | undefined> {
  const r = await a.lfctl(['print', '--json', target]);
  return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
}

/** The pid `target` runs as (waits up to 15 s), optionally one other than `not`. */
export async function pidOf(a: AgentProcess, target: string, not?: number): Promise<number> {
  return eventually(
    async () => {
      const pid = (await printJson(a, target))?.['pid'] as number | undefined;
      return pid !== undefined && pid !== not ? pid : undefined;
    },
    15_000,
    `${target} runs${not !== undefined ? ` (not as ${not})` : ''}`,
  );
}

/** A plist document for a job (values: string, number, boolean, string arrays, nested dicts). */
export type PlistInput = { [k: string]: string | number | boolean | string[] | PlistInput };

function xml(v: string | number | boolean | string[] | PlistInput, indent: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (typeof v === 'string') return `${indent}<string>${esc(v)}</string>`;
  if (typeof v === 'number') return `${indent}<integer>${v}</integer>`;
  if (typeof v === 'boolean') return `${indent}<${v}/>`;
  if (Array.isArray(v))
    return `${indent}<array>\n${v.map((x) => xml(x, indent + '  ')).join('\n')}\n${indent}</array>`;
  return `${indent}<dict>\n${Object.entries(v)
    .map(([k, x]) => `${indent}  <key>${esc(k)}</key>\n${xml(x, indent + '  ')}`)
    .join('\n')}\n${indent}</dict>`;
}

export function plistXml(dict: PlistInput): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n${xml(dict, '')}\n</plist>\n`;
}

/** Writes `<dir>/<Label>.plist` with mode 0644 (owner: the caller, i.e. root, unless changed). */
export function writePlist(dir: string, dict: PlistInput & { Label: string }, mode = 0o644): string {
  const p = join(dir, `${dict.Label}.plist`);
  writeFileSync(p, plistXml(dict));
  chmodSync(p, mode);
  return p;
}

/** A /bin/sh job. */
export function shJob(label: string, script: string, extra: PlistInput = {}): PlistInput & { Label: string } {
  return { Label: label, ProgramArguments: ['/bin/sh', '-c', script], ...extra };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` (sync or async) every 25 ms until true, or fails after `ms` with `what`. */
export async function eventually<T>(
  cond: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(25);
  }
}

/** Is a process alive (and not a zombie)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Removes a temporary tree (best effort). */
export function removeDirs(d: AgentDirs): void {
  rmSync(d.dir, { recursive: true, force: true });
}
