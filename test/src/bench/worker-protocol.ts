/**
 * Messages between a benchmark driver and the worker process it forks (bench-worker.ts). The
 * worker is the process being measured — the supervisor alone, or a bare Node spawner — so that
 * its RSS and CPU are not mixed with the driver's bookkeeping.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a worker is asked to do. */
export type WorkerTask =
  /** Load `jobs` KeepAlive sleepers, report when all run, then stay idle until told to stop. */
  | { readonly kind: 'idle'; readonly jobs: number }
  /** Kick /bin/true jobs through the supervisor at `rate` per second for `seconds`. */
  | {
      readonly kind: 'lag-supervisor';
      readonly rate: number;
      readonly seconds: number;
      readonly labels: number;
    }
  /** The same offered load with bare child_process.spawn: the Node floor. */
  | { readonly kind: 'lag-node'; readonly rate: number; readonly seconds: number };

/** Results of a lag run (both kinds). */
export interface LagReport {
  /** Event-loop delay beyond the 10 ms sampling period, ms. */
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  readonly offered: number;
  readonly spawned: number;
  readonly exited: number;
  readonly failed: number;
  /** Offers dropped because the job was still running (supervisor only). */
  readonly busy: number;
  /** Decision (kick) to exec observed, ms, per spawn. */
  readonly execP50Ms: number;
  readonly execP99Ms: number;
  /** CPU of the worker process during the window, % of one core. */
  readonly cpuPct: number;
  readonly windowMs: number;
  readonly rssMB: number;
}

/** Worker -> driver. */
export type WorkerMessage =
  | {
      readonly type: 'ready';
      readonly loaded: number;
      readonly loadMs: number;
      /** From start until every job had a process. */
      readonly allRunningMs: number;
      readonly warnings: readonly string[];
    }
  | {
      readonly type: 'memory';
      readonly heapUsedMB: number;
      readonly rssMB: number;
      readonly externalMB: number;
    }
  | { readonly type: 'lag'; readonly report: LagReport; readonly warnings: readonly string[] }
  | { readonly type: 'stopped'; readonly stopMs: number }
  | { readonly type: 'error'; readonly message: string };

/** Driver -> worker. */
export type DriverMessage = { readonly type: 'stop' } | { readonly type: 'memory' };

export const workerPath: string = fileURLToPath(new URL('./bench-worker.js', import.meta.url));

/**
 * Node flags for workers: `LF_BENCH_CPU_PROF=<dir>` adds --cpu-prof so a run leaves a profile of
 * the measured process (summarised by cpu-profile-top.js); `LF_BENCH_NODE_FLAGS` adds V8/Node
 * flags (space-separated), to try what a flag would do to the agent (e.g. --max-semi-space-size=1).
 */
export function workerExecArgv(): string[] {
  const dir = process.env['LF_BENCH_CPU_PROF'];
  const extra = (process.env['LF_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  return [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...extra];
}

/** Forks a worker for a task; its stdout/stderr go to ours. */
export function forkWorker(task: WorkerTask): ChildProcess {
  const child = fork(workerPath, [JSON.stringify(task)], {
    execArgv: workerExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // IPC errors (EPIPE to a worker that just exited) surface as exits or timeouts; never crash the driver.
  child.on('error', () => undefined);
  return child;
}

/** Resolves with the worker's next message satisfying `pred`; rejects on an error message, exit or timeout. */
export function nextMessage<T extends WorkerMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: unknown): void => {
      const msg = m as WorkerMessage;
      if (msg.type === 'error') {
        cleanup();
        reject(new Error(`worker: ${msg.message}`));
      } else if (msg.type === type) {
        cleanup();
        resolve(msg as Extract<WorkerMessage, { type: T }>);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`worker exited (${code ?? signal}) before '${type}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`worker sent no '${type}' within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Asks a worker to stop and waits for its exit; SIGKILLs it after `timeoutMs`. */
export async function stopWorker(child: ChildProcess, timeoutMs: number): Promise<number | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) return undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopMs: number | undefined;
  if (child.connected) {
    // A worker that already finished disconnects: then there is nobody to tell, only an exit to await.
    const stopped = nextMessage(child, 'stopped', timeoutMs).then(
      (m) => m.stopMs,
      () => undefined,
    );
    // EPIPE here means the worker is exiting on its own: its exit (or the timeout) settles `stopped`.
    child.send({ type: 'stop' } satisfies DriverMessage, () => undefined);
    stopMs = await stopped;
  }
  // Time to exit (a --cpu-prof worker writes its profile first); then it is hung and killed.
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
  return stopMs;
}
