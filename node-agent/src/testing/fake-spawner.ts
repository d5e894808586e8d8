/**
 * A scriptable ProcessSpawner for unit tests, in the manner of Nomad's mock driver: each spawn of
 * a label takes the next scripted run (`runForMs`, `exitCode`, `signal`, `startError`,
 * `ignoreSigterm`); the last script entry repeats. Time comes from the injected scheduler, so a
 * FakeClock drives exits. It records every spawn and signal, and the most processes any label
 * ever had alive at once (the "no second instance" check).
 */
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import type {
  ProcessExit,
  ProcessSpawner,
  SpawnFailure,
  SpawnRequest,
  SpawnResult,
} from '../ports/process-spawner.ts';

/** What one scripted process does. */
export interface FakeRun {
  /** Exit by itself after this long; undefined = run until signalled. */
  readonly runForMs?: number;
  /** The exit code when it exits by itself (default 0). */
  readonly exitCode?: number;
  /** Die of this signal when `runForMs` elapses (instead of exiting). */
  readonly signal?: NodeJS.Signals;
  /** Fail before exec with this failure. */
  readonly startError?: Partial<SpawnFailure>;
  /** Ignore SIGTERM (only SIGKILL ends it). */
  readonly ignoreSigterm?: boolean;
  /** Never die, even of SIGKILL (a process stuck in the kernel), to exercise "Simulating exit". */
  readonly unkillable?: boolean;
}

export interface FakeSpawnRecord {
  readonly req: SpawnRequest;
  readonly atMs: number;
  readonly pid?: number;
  readonly failure?: SpawnFailure;
}

interface Proc {
  readonly pid: number;
  readonly label: string;
  readonly run: FakeRun;
  readonly onExit: (e: ProcessExit) => void;
  timer?: TimerHandle;
  alive: boolean;
}

/** Signals whose default action does not end a process. */
const HARMLESS = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH', 'SIGSTOP', 'SIGTSTP']);

export class FakeSpawner implements ProcessSpawner {
  readonly spawns: FakeSpawnRecord[] = [];
  /** Requests given to `warm` (a socket job's load), in order. */
  readonly warmed: SpawnRequest[] = [];
  readonly signals: { pid: number; signal: string; atMs: number }[] = [];
  readonly groupSignals: { pgid: number; signal: string; atMs: number }[] = [];
  readonly exits: (ProcessExit & { label: string; atMs: number })[] = [];
  private readonly scripts = new Map<string, FakeRun[]>();
  private readonly procs = new Map<number, Proc>();
  private readonly maxAlive = new Map<string, number>();
  private nextPid = 1000;
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;

  constructor(scheduler: Scheduler, clock: Clock) {
    this.scheduler = scheduler;
    this.clock = clock;
  }

  /** Scripts the next spawns of `label`; the last run repeats forever. Default: run until signalled. */
  script(label: string, ...runs: FakeRun[]): this {
    this.scripts.set(label, runs);
    return this;
  }

  spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    const queue = this.scripts.get(req.label) ?? [];
    const run: FakeRun = (queue.length > 1 ? queue.shift() : queue[0]) ?? {};
    const atMs = this.clock.monotonicMs();
    if (run.startError) {
      const failure: SpawnFailure = {
        stage: 'exec',
        errno: 'ENOENT',
        exitStatus: 2,
        message: 'No such file or directory',
        ...run.startError,
      };
      this.spawns.push({ req, atMs, failure });
      return Promise.resolve({ ok: false, failure });
    }
    const pid = this.nextPid++;
    const proc: Proc = { pid, label: req.label, run, onExit, alive: true };
    this.procs.set(pid, proc);
    const alive = this.aliveCount(req.label);
    this.maxAlive.set(req.label, Math.max(alive, this.maxAlive.get(req.label) ?? 0));
    this.spawns.push({ req, atMs, pid });
    if (run.runForMs !== undefined) {
      proc.timer = this.scheduler.after(run.runForMs, () =>
        this.end(
          proc,
          run.signal ? { code: null, signal: run.signal } : { code: run.exitCode ?? 0, signal: null },
        ),
      );
    }
    return Promise.resolve({ ok: true, pid });
  }

  /** Records the request a warm-up prepared (ProcessSpawner.warm); starts nothing. */
  warm(req: SpawnRequest): void {
    this.warmed.push(req);
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    const proc = this.procs.get(pid);
    this.signals.push({ pid, signal, atMs: this.clock.monotonicMs() });
    if (!proc?.alive) return false;
    if (HARMLESS.has(signal) || proc.run.unkillable) return true;
    if (signal === 'SIGTERM' && proc.run.ignoreSigterm) return true;
    // Deliver the exit asynchronously, as a real reap would arrive.
    queueMicrotask(() => this.end(proc, { code: null, signal }));
    return true;
  }

  signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    this.groupSignals.push({ pgid, signal, atMs: this.clock.monotonicMs() });
    return true;
  }

  /** Ends a live process now with the given status (a test reaching in). */
  exitNow(pid: number, status: { code: number } | { signal: NodeJS.Signals }): void {
    const proc = this.procs.get(pid);
    if (!proc) throw new Error(`no process ${pid}`);
    this.end(
      proc,
      'code' in status ? { code: status.code, signal: null } : { code: null, signal: status.signal },
    );
  }

  /** Live processes of a label. */
  aliveCount(label: string): number {
    let n = 0;
    for (const p of this.procs.values()) if (p.alive && p.label === label) n++;
    return n;
  }

  /** The most processes `label` ever had alive at once. */
  maxAliveAtOnce(label: string): number {
    return this.maxAlive.get(label) ?? 0;
  }

  /** Spawns of a label that produced a process. */
  pidsOf(label: string): number[] {
    return this.spawns.filter((s) => s.req.label === label && s.pid !== undefined).map((s) => s.pid ?? 0);
  }

  /** Monotonic times at which `label` was spawned (successfully or not). */
  spawnTimes(label: string): number[] {
    return this.spawns.filter((s) => s.req.label === label).map((s) => s.atMs);
  }

  private end(proc: Proc, status: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (!proc.alive) return;
    proc.alive = false;
    proc.timer?.cancel();
    const exit: ProcessExit = { pid: proc.pid, ...status };
    this.exits.push({ ...exit, label: proc.label, atMs: this.clock.monotonicMs() });
    proc.onExit(exit);
  }
}
