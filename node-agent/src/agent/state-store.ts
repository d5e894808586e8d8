/**
 * What the agent remembers across its own restarts, in one file written atomically
 * (`<stateDir>/agent-state.json`, temp file + fsync + rename):
 *
 * - per job (`<domain>/<label>`): runs and the last exit, summed over the agent's lives, so
 *   `print` and `list` after a restart still show them (launchd keeps them while it runs);
 * - per running job: its pid (= process group) and start time, so the next agent can kill what a
 *   crashed agent left behind without ever hitting a recycled pid (orphan-reaper.ts);
 * - after a detach stop (a package upgrade, docs/upgrades.md): `detachedAt`, and per process left
 *   running on purpose the version of its job's definition (`adopt`), so the next agent adopts
 *   it instead of reaping it. Without `detachedAt` (a crash) every recorded process is reaped.
 *
 * Writes are coalesced: at most one in flight, and one more if anything changed meanwhile.
 * A job booted out is forgotten; a job stopped because the agent shuts down is kept.
 */
import { messageOf } from '@launchfleet/shared/errors';
import type { FileSystemPort } from '../ports/file-system.ts';
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import type { PreviousLife } from '../control/service-status.ts';
import { procStat } from './proc-stat.ts';

/** A job process recorded while it ran. */
export interface RecordedProcess {
  /** The job's pid, which is also its process group and session (jobs are setsid leaders). */
  readonly pid: number;
  /** /proc start time in clock ticks; with bootId it identifies the process, not just the pid. */
  readonly startTicks: number;
}

interface JobRecord {
  readonly runs: number;
  readonly lastExit?: { readonly code: number } | { readonly signal: string };
  readonly process?: RecordedProcess;
  /** Set by a detach: the process was left running for the next agent to adopt. */
  readonly adopt?: { readonly definition: string };
}

interface StateFile {
  readonly version: 1;
  readonly bootId: string;
  /** Wall time (ms) of the detach stop that wrote this file; absent after a full stop or a crash. */
  readonly detachedAt?: number;
  readonly jobs: Readonly<Record<string, JobRecord>>;
}

/** A process the previous life recorded; `definition` when it was left running by a detach. */
export interface Leftover {
  readonly key: string;
  readonly proc: RecordedProcess;
  readonly definition?: string;
}

/** How soon a failed write of the state file is tried again. */
const retryMs = 2000;

export class StateStore {
  private readonly fs: FileSystemPort;
  readonly file: string;
  private readonly boot: string;
  private readonly log: SupervisorLog;
  /** What the previous lives recorded (read at start; entries are dropped on bootout). */
  private readonly previousLives = new Map<string, JobRecord>();
  /** Processes recorded by the previous life, for the orphan reaper. */
  private readonly previousProcesses: (Leftover & { boot: string })[] = [];
  /** Processes this life leaves running at its detach, by job key. */
  private readonly detached = new Map<string, { proc: RecordedProcess; definition: string }>();
  /** This life: per job, runs and last exit so far, and the live process. */
  private readonly current = new Map<
    string,
    { runs: number; lastExit?: JobRecord['lastExit']; process?: RecordedProcess }
  >();
  private shuttingDown = false;
  private writing: Promise<void> | undefined;
  private dirty = false;
  /** Failed writes in a row (a full or read-only disk), and the timer of the next attempt. */
  private failedWrites = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The encoded file (see `encode`). */
  private buf: Buffer = Buffer.alloc(0);

  constructor(fs: FileSystemPort, file: string, boot: string, log: SupervisorLog) {
    this.fs = fs;
    this.file = file;
    this.boot = boot;
    this.log = log;
  }

  /** Reads the file of the previous life. A missing file is a first start; a corrupt one is reported and ignored. */
  async load(): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.fs.readFile(this.file);
    } catch (e) {
      this.log('warn', 'state', `${this.file}: cannot read (${messageOf(e)}); starting without it`);
      return;
    }
    if (!bytes) return;
    let doc: Partial<StateFile>;
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes)) as Partial<StateFile>;
    } catch (e) {
      this.log('warn', 'state', `${this.file}: not valid JSON (${messageOf(e)}); starting without it`);
      return;
    }
    if (doc.version !== 1 || typeof doc.jobs !== 'object' || doc.jobs === null) {
      this.log('warn', 'state', `${this.file}: unknown format; starting without it`);
      return;
    }
    for (const [key, r] of Object.entries(doc.jobs)) {
      if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.runs) || r.runs < 0) continue;
      const lastExit =
        r.lastExit && 'code' in r.lastExit && Number.isInteger(r.lastExit.code)
          ? { code: r.lastExit.code }
          : r.lastExit && 'signal' in r.lastExit && typeof r.lastExit.signal === 'string'
            ? { signal: r.lastExit.signal }
            : undefined;
      this.previousLives.set(key, { runs: r.runs, ...(lastExit ? { lastExit } : {}) });
      const p = r.process;
      const definition =
        typeof doc.detachedAt === 'number' && typeof r.adopt?.definition === 'string'
          ? r.adopt.definition
          : undefined;
      if (p && Number.isSafeInteger(p.pid) && p.pid > 1 && Number.isSafeInteger(p.startTicks))
        this.previousProcesses.push({
          key,
          boot: String(doc.bootId ?? ''),
          proc: { pid: p.pid, startTicks: p.startTicks },
          ...(definition !== undefined ? { definition } : {}),
        });
    }
  }

  /** The processes the previous life recorded in this same boot. */
  leftovers(): Leftover[] {
    return this.previousProcesses
      .filter((p) => p.boot !== '' && p.boot === this.boot)
      .map(({ boot: _boot, ...rest }) => rest);
  }

  /** A detach leaves this job's process running for the next agent (written with the next flush). */
  recordDetached(key: string, proc: RecordedProcess, definition: string): void {
    this.shuttingDown = true;
    this.detached.set(key, { proc, definition });
    this.schedule();
  }

  /** Runs and last exit of earlier lives. */
  previous(domain: string, label: string): PreviousLife | undefined {
    return this.previousLives.get(`${domain}/${label}`);
  }

  /** From here on, removed jobs are being stopped by the shutdown: keep their records. */
  markShutdown(): void {
    this.shuttingDown = true;
  }

  /** Every status change of every job. */
  onStatus(s: JobStatus): void {
    const key = `${s.domain}/${s.label}`;
    if (s.subState === 'removed' && !this.shuttingDown) {
      // Booted out (or LaunchOnlyOnce done): launchd forgets the job.
      const had = this.current.delete(key) || this.previousLives.delete(key);
      this.previousLives.delete(key);
      if (had) this.schedule();
      return;
    }
    const lastExit =
      s.lastExitCode !== undefined
        ? { code: s.lastExitCode }
        : s.lastTerminatingSignal !== undefined
          ? { signal: s.lastTerminatingSignal }
          : undefined;
    const prev = this.current.get(key);
    const next = {
      runs: s.runs,
      ...(lastExit ? { lastExit } : {}),
      ...(prev?.process && prev.process.pid === s.pid ? { process: prev.process } : {}),
    };
    const changed =
      !prev ||
      prev.runs !== next.runs ||
      prev.process?.pid !== s.pid ||
      JSON.stringify(prev.lastExit) !== JSON.stringify(next.lastExit);
    this.current.set(key, next);
    if (s.pid !== undefined && next.process === undefined) {
      const pid = s.pid;
      // The start time identifies the process; read it now (it is still running or just gone).
      void procStat(pid).then((st) => {
        const cur = this.current.get(key);
        if (!st || !cur || st.pgrp !== pid) return;
        if (cur.process?.pid === pid) return;
        this.current.set(key, { ...cur, process: { pid, startTicks: st.startTicks } });
        this.schedule();
      });
    }
    if (changed) this.schedule();
  }

  /** Resolves once everything recorded so far is on disk. */
  async flush(): Promise<void> {
    await this.idle();
    if (this.dirty) {
      this.schedule();
      await this.idle();
    }
  }

  private async idle(): Promise<void> {
    for (let w = this.writing; w !== undefined; w = this.writing) await w;
  }

  private snapshot(): StateFile {
    const jobs: Record<string, JobRecord> = {};
    for (const [key, prev] of this.previousLives) jobs[key] = prev;
    for (const [key, cur] of this.current) {
      const prev = this.previousLives.get(key);
      const lastExit = cur.lastExit ?? prev?.lastExit;
      jobs[key] = {
        runs: cur.runs + (prev?.runs ?? 0),
        ...(lastExit ? { lastExit } : {}),
        ...(cur.process && !this.shuttingDown ? { process: cur.process } : {}),
      };
    }
    for (const [key, d] of this.detached)
      jobs[key] = { ...(jobs[key] ?? { runs: 0 }), process: d.proc, adopt: { definition: d.definition } };
    return {
      version: 1,
      bootId: this.boot,
      ...(this.detached.size > 0 ? { detachedAt: Date.now() } : {}),
      jobs,
    };
  }

  /**
   * The file's bytes, in a buffer kept for the next write (one write is in flight at a time).
   * Encoded before the write's first await, so the snapshot and its JSON text die young: held
   * across the write's open/fsync/rename (several young-generation GCs at a boot, where the
   * 1,000 jobs' start times rewrite the file back to back) they were promoted, and V8's old
   * space grew by megabytes of them until the next mark-compact: the agent's peak RSS with
   * 1,000 jobs (issue 19).
   */
  private encode(): Uint8Array {
    const text = JSON.stringify(this.snapshot()) + '\n';
    const n = Buffer.byteLength(text);
    if (this.buf.length < n) this.buf = Buffer.allocUnsafeSlow(Math.max(n, this.buf.length * 2));
    this.buf.write(text, 0, n, 'utf8');
    return this.buf.subarray(0, n);
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing) return;
    const run = async (): Promise<void> => {
      while (this.dirty) {
        this.dirty = false;
        try {
          await this.fs.writeFileAtomic(this.file, this.encode(), 0o600);
        } catch (e) {
          // A full or read-only disk: what changed stays in memory and is written when the disk
          // takes it again, not only at the next change (the pids recorded here are what the
          // next agent reaps after a crash; a missed one would run twice). Logged once per outage.
          this.dirty = true;
          this.log(
            this.failedWrites++ === 0 ? 'error' : 'debug',
            'state',
            `cannot write ${this.file} (retried every ${retryMs / 1000} s): ${messageOf(e)}`,
          );
          if (!this.retryTimer) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              this.schedule();
            }, retryMs);
            this.retryTimer.unref();
          }
          return;
        }
        if (this.failedWrites > 0)
          this.log('info', 'state', `${this.file} written again after ${this.failedWrites} failed attempts`);
        this.failedWrites = 0;
      }
    };
    this.writing = run().finally(() => {
      this.writing = undefined;
    });
  }
}
