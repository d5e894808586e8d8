/**
 * The simulated OS under a simulated agent's real supervisor: node-agent's FakeSpawner (Nomad's
 * mock driver idea: scripted `runForMs` / `exitCode`), driven by the real clock, with the
 * agent's profile deciding what every spawned process does whatever its label, plus a start
 * delay for `slow-start`. The FakeSpawner's records are trimmed so a long run stays bounded.
 */
import { systemClock, systemScheduler } from '@launchfleet/shared/clock';
import { FakeSpawner, type FakeRun } from '@launchfleet/node-agent/testing';
import type { ProcessExit, ProcessSpawner, SpawnRequest, SpawnResult } from '@launchfleet/node-agent';
import type { AgentProfile } from './sim-profiles.ts';

/** Timings of the scripted processes. */
export interface ScriptTimings {
  /** crash-looping: how long a process lives before it exits 1. */
  readonly crashRunMs: number;
  /** slow-start: how long a spawn takes before the process exists. */
  readonly slowStartMs: number;
}

export const defaultScriptTimings: ScriptTimings = { crashRunMs: 300, slowStartMs: 3000 };

/** Records kept by the inner FakeSpawner before trimming. */
const keepRecords = 32;

export class ScriptedSpawner implements ProcessSpawner {
  readonly #inner = new FakeSpawner(systemScheduler, systemClock);
  readonly #profile: AgentProfile;
  readonly #t: ScriptTimings;
  /** Processes started (successful spawns), for the simulator's counters. */
  spawned = 0;
  exited = 0;

  constructor(profile: AgentProfile, t: ScriptTimings) {
    this.#profile = profile;
    this.#t = t;
  }

  async spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    const run: FakeRun =
      this.#profile === 'crash-looping' ? { runForMs: this.#t.crashRunMs, exitCode: 1 } : {};
    this.#inner.script(req.label, run);
    if (this.#profile === 'slow-start' && this.#t.slowStartMs > 0)
      await new Promise<void>((r) => systemScheduler.after(this.#t.slowStartMs, r));
    const r = await this.#inner.spawn(req, (e) => {
      this.exited++;
      onExit(e);
    });
    if (r.ok) this.spawned++;
    this.#trim();
    return r;
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    const ok = this.#inner.signal(pid, signal);
    this.#trim();
    return ok;
  }

  signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    const ok = this.#inner.signalGroup(pgid, signal);
    this.#trim();
    return ok;
  }

  #trim(): void {
    for (const a of [
      this.#inner.spawns,
      this.#inner.signals,
      this.#inner.groupSignals,
      this.#inner.exits,
    ] as {
      length: number;
      splice(start: number, n: number): unknown;
    }[])
      if (a.length > keepRecords * 2) a.splice(0, a.length - keepRecords);
  }
}
