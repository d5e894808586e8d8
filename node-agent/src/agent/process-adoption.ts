/**
 * The agent's side of adoption (docs/upgrades.md): the processes a detach stop left running, as
 * the state file recorded them, handed to the jobs that load with the same label and definition.
 *
 * A recorded process is adopted only if, when its job claims it, it is still that process: the
 * pid exists, is not a zombie, has the recorded start time (/proc start ticks, so a recycled pid
 * never matches) and still leads its own process group and session (as every job the agent
 * starts does); the boot id was checked when the state file was read. A process that fails a
 * check is not ours and is left alone; one whose job cannot adopt it (the definition changed,
 * the job now has sockets) is stopped first, as a crash's leftover (orphan-reaper.ts). Whatever
 * no job claims once the agent has loaded its jobs is stopped the same way.
 *
 * An adopted process is not the agent's child: its end is seen through a pidfd on Linux (the
 * addon's pidfd_open, polled by libuv: adapters/pidfd-watch.ts), else by reading
 * /proc/<pid>/stat every `pollMs` (one timer per adopted process, gone with the process). Its
 * exit status is unknown either way.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import { openPidfd } from '../adapters/pidfd-watch.ts';
import type { AdoptedProcess, ProcessAdoption } from '../ports/process-adoption.ts';
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import { definitionVersion, notAdoptable } from './adoption-rules.ts';
import { reapOrphans } from './orphan-reaper.ts';
import { procStat } from './proc-stat.ts';
import type { Leftover, RecordedProcess } from './state-store.ts';

/** Is `pid` still the process recorded (and not a zombie)? */
async function stillThere(p: RecordedProcess): Promise<boolean> {
  const st = await procStat(p.pid);
  return (
    st !== undefined &&
    st.state !== 'Z' &&
    st.startTicks === p.startTicks &&
    st.pgrp === p.pid &&
    st.session === p.pid
  );
}

export class AdoptionBook implements ProcessAdoption {
  private readonly candidates = new Map<string, Leftover>();
  private readonly log: SupervisorLog;
  private readonly pollMs: number;
  private readonly reapOpts: { graceMs?: number };
  private readonly usePidfd: boolean;

  /** `detached`: the leftovers of the previous life that carry a detach record. */
  constructor(
    detached: readonly Leftover[],
    log: SupervisorLog,
    opts: { pollMs?: number; graceMs?: number; pidfd?: boolean } = {},
  ) {
    for (const d of detached) if (d.definition !== undefined) this.candidates.set(d.key, d);
    this.log = log;
    this.pollMs = opts.pollMs ?? 500;
    this.reapOpts = opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {};
    this.usePidfd = opts.pidfd ?? true;
  }

  /** How many recorded processes no job has claimed yet. */
  get unclaimed(): number {
    return this.candidates.size;
  }

  async claim(domain: string, spec: JobSpec): Promise<AdoptedProcess | undefined> {
    const key = `${domain}/${spec.label}`;
    const c = this.candidates.get(key);
    if (!c) return undefined;
    this.candidates.delete(key);
    const why =
      notAdoptable(spec) ??
      (definitionVersion(spec) !== c.definition
        ? 'its definition changed while the agent was stopped'
        : undefined);
    if (why) {
      await this.stop(c, `not adopted: ${why}`);
      return undefined;
    }
    // The pidfd first: the identity check below then holds for what the fd watches.
    const opened = this.usePidfd ? openPidfd(c.proc.pid) : undefined;
    const pidfd = typeof opened === 'object' ? opened : undefined;
    if (opened === 'gone' || !(await stillThere(c.proc))) {
      pidfd?.close();
      this.log(
        'warn',
        key,
        `pid ${c.proc.pid} recorded at the detach is gone or is another process now: not adopted, the job starts as usual`,
      );
      return undefined;
    }
    this.log(
      'debug',
      key,
      `pid ${c.proc.pid}: its end is watched ${pidfd ? 'with a pidfd' : `by reading /proc every ${this.pollMs} ms`}`,
    );
    return {
      pid: c.proc.pid,
      watch: (onGone) => (pidfd ? pidfd.watch(onGone) : this.watch(c.proc, onGone)),
      decline: (w) => {
        pidfd?.close();
        return this.stop(c, `not adopted: ${w}`);
      },
    };
  }

  /** Stops every recorded process no job claimed (after the agent loaded its jobs). */
  async finish(): Promise<void> {
    const left = [...this.candidates.values()];
    this.candidates.clear();
    for (const c of left)
      this.log('warn', c.key, `pid ${c.proc.pid} left running at the detach: no job with this label loaded`);
    if (left.length > 0) await reapOrphans(left, this.log, this.reapOpts);
  }

  private async stop(c: Leftover, why: string): Promise<void> {
    this.log('warn', c.key, `pid ${c.proc.pid} left running at the detach is ${why}; stopping it`);
    await reapOrphans([c], this.log, this.reapOpts);
  }

  private watch(p: RecordedProcess, onGone: () => void): () => void {
    let done = false;
    let busy = false;
    const timer = setInterval(() => {
      if (busy || done) return;
      busy = true;
      void stillThere(p).then((alive) => {
        busy = false;
        if (alive || done) return;
        done = true;
        clearInterval(timer);
        onGone();
      });
    }, this.pollMs);
    timer.unref();
    return () => {
      done = true;
      clearInterval(timer);
    };
  }
}
