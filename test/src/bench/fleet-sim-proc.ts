/**
 * A simulator process as the benchmark drives it: `test/dist/sim/main.js` forked with an IPC
 * channel, asked for stats and per-agent rows, stopped by message (then by signal).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimAgentRow, SimCommand, SimReply, SimStats } from '../sim/sim-protocol.ts';

const simMain = fileURLToPath(new URL('../sim/main.js', import.meta.url));

/**
 * LF_BENCH_SIM_NICE=<1..19>: the simulators run at that nice value, so that on a box shared with them
 * the broker and the controller get the CPU first: what the control plane's part of a phase takes
 * when the agents' work does not compete with it (the agents' own latencies then grow).
 */
function simNice(): number | undefined {
  const v = process.env['LF_BENCH_SIM_NICE'];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 19) throw new Error(`LF_BENCH_SIM_NICE must be 1..19, not ${v}`);
  return n;
}

/** LF_FLEET_CPU_PROF=<dir>: V8 CPU profiles of the simulator and controller processes go there. */
export function profileArgs(): string[] {
  const dir = process.env['LF_FLEET_CPU_PROF'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export class SimProc {
  readonly child: ChildProcess;
  readonly #waiters: { type: SimReply['type']; resolve: (r: SimReply) => void }[] = [];
  readonly #log: string[] = [];
  #exited = false;
  /** The 'started' / 'anchor-connected' reply, once received. */
  readonly ready: Promise<SimReply>;

  constructor(args: readonly string[], heapMb = 4096) {
    const nodeArgs = [`--max-old-space-size=${heapMb}`, '--conditions=launchfleet-testing', ...profileArgs()];
    const nice = simNice();
    // Through nice(1), so that every thread of the process has the nice value from its start.
    this.child = fork(simMain, [...args], {
      ...(nice === undefined
        ? { execArgv: nodeArgs }
        : { execPath: 'nice', execArgv: ['-n', String(nice), process.execPath, ...nodeArgs] }),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.setEncoding('utf8');
    // LF_SIM_LOG_DIR: the simulator's stderr and how it ended, in full, for a post-mortem.
    const logDir = process.env['LF_SIM_LOG_DIR'];
    const logFile = logDir ? join(logDir, `sim-${this.child.pid ?? 'x'}.stderr`) : undefined;
    if (logDir) mkdirSync(logDir, { recursive: true });
    this.child.stderr?.on('data', (chunk: string) => {
      if (logFile) appendFileSync(logFile, chunk);
      this.#log.push(...chunk.split('\n').filter((l) => l !== ''));
      if (this.#log.length > 100) this.#log.splice(0, this.#log.length - 100);
    });
    let readyResolve!: (r: SimReply) => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    this.child.on('message', (m: SimReply) => {
      if (m.type === 'started' || m.type === 'anchor-connected') readyResolve(m);
      if (m.type === 'error') readyReject(new Error(`simulator: ${m.message}`));
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]?.resolve(m);
    });
    this.child.once('exit', (code, sig) => {
      if (logFile) appendFileSync(logFile, `${new Date().toISOString()} exited: ${code ?? sig}\n`);
      this.#exited = true;
      readyReject(new Error(`simulator exited (${code ?? sig}):\n${this.#log.join('\n')}`));
    });
  }

  /** The process has not exited. */
  alive(): boolean {
    return !this.#exited;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  log(): string {
    return this.#log.join('\n');
  }

  async stats(label?: string): Promise<SimStats> {
    const r = await this.#ask({ type: 'stats', ...(label !== undefined && { label }) }, 'stats');
    return r as SimStats;
  }

  async rows(label?: string): Promise<readonly SimAgentRow[]> {
    const r = await this.#ask({ type: 'agents', ...(label !== undefined && { label }) }, 'agents');
    return r.type === 'agents' ? r.rows : [];
  }

  /** Starts a CPU profile window in the simulator (`stopProfile` writes it). */
  async startProfile(): Promise<void> {
    const r = await this.#ask({ type: 'profile', action: 'start' }, 'profiled');
    if (r.type === 'profiled' && r.error) throw new Error(`simulator profile: ${r.error}`);
  }

  /** Ends the window and writes the profile to `file`. */
  async stopProfile(file: string): Promise<void> {
    const r = await this.#ask({ type: 'profile', action: 'stop', file }, 'profiled');
    if (r.type === 'profiled' && r.error) throw new Error(`simulator profile: ${r.error}`);
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      this.child.send({ type: 'stop' } satisfies SimCommand);
    } catch {
      this.child.kill('SIGTERM');
    }
    const t = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(t);
  }

  #ask(cmd: SimCommand, type: SimReply['type'], timeoutMs = 60_000): Promise<SimReply> {
    return new Promise((resolve, reject) => {
      if (this.#exited) return reject(new Error('simulator has exited'));
      const t = setTimeout(() => reject(new Error(`simulator did not answer ${cmd.type}`)), timeoutMs);
      this.#waiters.push({
        type,
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
      });
      this.child.send(cmd);
    });
  }
}
