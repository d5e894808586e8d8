/**
 * A deterministic simulator for the pure job machine: it plays the runtime's part (timers,
 * scripted processes that exit after `runForMs` or on signals) on a virtual millisecond timeline,
 * so tests can state launchd's timings exactly ("exit at 1 s, next spawn at 10 s") and property
 * tests can throw random event sequences at the machine. No ports, no real time.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import { step } from '../supervisor/core/job-machine.ts';
import type { JobEffect } from '../supervisor/core/job-effects.ts';
import type { JobEvent, TimerId } from '../supervisor/core/job-events.ts';
import { initialJobState, type JobState } from '../supervisor/core/job-state.ts';
import type { MachineConfig } from '../supervisor/core/machine-config.ts';
import { machineConfig } from '../supervisor/core/machine-config.ts';
import type { FakeRun } from './fake-spawner.ts';

interface AgendaItem {
  at: number;
  seq: number;
  event: JobEvent;
  timer?: TimerId;
  cancelled?: boolean;
}

export interface SimSpawn {
  readonly atMs: number;
  readonly reason: string;
  readonly pid?: number;
}

export class MachineSim {
  state: JobState = initialJobState();
  now = 0;
  readonly spawns: SimSpawn[] = [];
  readonly effects: { at: number; effect: JobEffect }[] = [];
  readonly exits: { at: number; pid: number; code: number | null; signal: string | null }[] = [];
  /** Errors logged by the machine (`can't happen`). */
  readonly errors: string[] = [];
  removed = false;
  /** Set when a spawn was asked while a process existed (must never happen). */
  secondInstance = false;
  private readonly spec: JobSpec;
  private readonly config: MachineConfig;
  private readonly script: FakeRun[];
  private agenda: AgendaItem[] = [];
  private seq = 0;
  private nextPid = 100;
  private alive: { pid: number; run: FakeRun } | undefined;
  private readonly timerOffsets: readonly number[];
  private timersStarted = 0;

  /**
   * `timerOffsets`: the machine's timers fire this much late (positive) or early (negative, at most
   * half the asked delay), cycling through the list, as real timers on a loaded machine do.
   */
  constructor(
    spec: JobSpec,
    opts: { config?: MachineConfig; script?: FakeRun[]; timerOffsets?: readonly number[] } = {},
  ) {
    this.spec = spec;
    this.config = opts.config ?? machineConfig('842');
    this.script = [...(opts.script ?? [{}])];
    this.timerOffsets = opts.timerOffsets ?? [];
  }

  /** Replaces the scripted runs for the next spawns (the last repeats). */
  setScript(...runs: FakeRun[]): void {
    this.script.splice(0, this.script.length, ...runs);
  }

  /** Delivers an event now and interprets its effects. */
  send(event: JobEvent): readonly JobEffect[] {
    const r = step(this.spec, this.state, event, this.now, this.config);
    this.state = r.state;
    for (const e of r.effects) this.interpret(e);
    return r.effects;
  }

  /** Runs the timeline up to and including `ms` (absolute). */
  runUntil(ms: number): void {
    for (;;) {
      this.agenda = this.agenda.filter((a) => !a.cancelled);
      this.agenda.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.agenda[0];
      if (!next || next.at > ms) break;
      this.agenda.shift();
      this.now = next.at;
      this.onDelivered.get(next)?.();
      this.onDelivered.delete(next);
      // A simulated exit (kill-grace) ends an unkillable process as far as the machine is concerned.
      if (next.timer === 'kill-grace' && this.alive?.run.unkillable) this.alive = undefined;
      this.send(next.event);
    }
    this.now = Math.max(this.now, ms);
  }

  /** Runs the timeline for `ms` more. */
  advance(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** The pid of the live process, if any. */
  get pid(): number | undefined {
    return this.alive?.pid;
  }

  /** Makes the live process exit now (a test reaching in). */
  exitNow(status: { code: number } | { signal: string }): void {
    const a = this.alive;
    if (!a) throw new Error('no live process');
    this.queueExit(
      a.pid,
      'code' in status ? status.code : null,
      'signal' in status ? status.signal : null,
      this.now,
    );
    this.runUntil(this.now);
  }

  /** Pending timers, by id, with their due time. */
  timers(): Map<TimerId, number> {
    const m = new Map<TimerId, number>();
    for (const a of this.agenda) if (!a.cancelled && a.timer) m.set(a.timer, a.at);
    return m;
  }

  private interpret(e: JobEffect): void {
    this.effects.push({ at: this.now, effect: e });
    switch (e.type) {
      case 'spawn': {
        if (this.alive) this.secondInstance = true;
        const run = (this.script.length > 1 ? this.script.shift() : this.script[0]) ?? {};
        if (run.startError) {
          this.spawns.push({ atMs: this.now, reason: e.reason });
          this.push(this.now, {
            type: 'spawn-failed',
            stage: run.startError.stage ?? 'exec',
            errno: run.startError.errno ?? 'ENOENT',
            exitStatus: run.startError.exitStatus ?? 2,
            message: run.startError.message ?? 'No such file or directory',
          });
          return;
        }
        const pid = this.nextPid++;
        this.alive = { pid, run };
        this.spawns.push({ atMs: this.now, reason: e.reason, pid });
        this.push(this.now, { type: 'spawned', pid });
        if (run.runForMs !== undefined)
          this.queueExit(
            pid,
            run.signal ? null : (run.exitCode ?? 0),
            run.signal ?? null,
            this.now + run.runForMs,
          );
        return;
      }
      case 'signal': {
        const a = this.alive;
        if (!a || a.pid !== e.pid || a.run.unkillable) return;
        if (e.signal === 'SIGTERM' && a.run.ignoreSigterm) return;
        if (['SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGWINCH', 'SIGURG'].includes(e.signal)) return;
        this.queueExit(a.pid, null, e.signal, this.now);
        return;
      }
      case 'start-timer': {
        for (const a of this.agenda) if (a.timer === e.timer) a.cancelled = true;
        const n = this.timerOffsets.length;
        const scripted = n > 0 ? (this.timerOffsets[this.timersStarted++ % n] ?? 0) : 0;
        const offset = scripted < 0 ? -Math.min(-scripted, Math.floor(e.ms / 2)) : scripted;
        this.agenda.push({
          at: this.now + Math.max(0, e.ms + offset),
          seq: this.seq++,
          timer: e.timer,
          event: { type: 'timer-fired', timer: e.timer },
        });
        return;
      }
      case 'cancel-timer':
        for (const a of this.agenda) if (a.timer === e.timer) a.cancelled = true;
        return;
      case 'remove-job':
        this.removed = true;
        return;
      case 'log':
        if (e.level === 'error') this.errors.push(e.message);
        return;
      case 'signal-group':
      case 'arm-demand':
      case 'disarm-demand':
      case 'arm-standing':
      case 'disarm-standing':
      case 'persist-status':
      case 'emit-status':
        return;
      default: {
        const never: never = e;
        throw new Error(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  }

  private queueExit(pid: number, code: number | null, signal: string | null, at: number): void {
    // Remove any other scheduled exit of this pid: a process dies once.
    for (const a of this.agenda) if (a.event.type === 'exited' && a.event.pid === pid) a.cancelled = true;
    const item: AgendaItem = { at, seq: this.seq++, event: { type: 'exited', pid, code, signal } };
    this.agenda.push(item);
    // The process is gone once its exit is delivered.
    this.onDelivered.set(item, () => {
      if (this.alive?.pid === pid) this.alive = undefined;
      this.exits.push({ at, pid, code, signal });
    });
  }

  private readonly onDelivered = new Map<AgendaItem, () => void>();

  private push(at: number, event: JobEvent): void {
    this.agenda.push({ at, seq: this.seq++, event });
  }
}
