/**
 * The fleet simulator: N simulated agents in this process (sim-agent.ts: the real supervisor on
 * simulated OS ports, the real fleet link, one NATS connection each), against real NATS URLs,
 * enrolling with bootstrap tokens from the controller. Agents start with bounded concurrency
 * (a real fleet's agents do not all boot in the same millisecond either, and starting 10,000
 * DomainManagers at once would only measure this process's event loop); the link's own
 * full-jitter backoff handles enrolment refusals ("busy") and broker loss.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FleetLinkSettings } from '@launchfleet/node-agent/link';
import { SimAgent } from './sim-agent.ts';
import { defaultScriptTimings, type ScriptTimings } from './scripted-spawner.ts';
import { type AgentProfile, type ProfileMix, allHealthy, assignProfiles } from './sim-profiles.ts';
import type { SimAgentRow, SimStats } from './sim-protocol.ts';

export interface FleetSimOptions {
  readonly agents: number;
  readonly natsUrls: readonly string[];
  /** Bootstrap tokens, one per agent (agent i takes tokens[i]). */
  readonly tokens: readonly string[];
  /** The enroll user's NATS credentials (creds file text). */
  readonly enrollCreds: string;
  /** Directory for the agents' identity files. */
  readonly dir: string;
  readonly mix?: ProfileMix;
  /** Prefix of host names (`<prefix>-<i>`), so several simulator processes stay distinct. */
  readonly hostPrefix?: string;
  /** Index of this process's first agent in the whole fleet (host names, labels). */
  readonly firstIndex?: number;
  /** Link settings (production defaults when empty). */
  readonly settings?: FleetLinkSettings;
  readonly timings?: ScriptTimings;
  readonly churn?: { readonly offlineMs: number; readonly onlineMs: number };
  /** Agents starting at once. Default 100. */
  readonly startConcurrency?: number;
  /**
   * Agents started per second (0: as fast as they start). A fleet whose agents all boot in the
   * same second is the worst case; a rate models machines coming up over a rollout.
   */
  readonly startRatePerSec?: number;
}

const maxProblems = 20;

export class FleetSim {
  readonly o: FleetSimOptions;
  readonly agents: SimAgent[] = [];
  readonly #problems: string[] = [];
  #problemCount = 0;
  readonly #loop = monitorEventLoopDelay({ resolution: 10 });

  constructor(o: FleetSimOptions) {
    if (o.tokens.length < o.agents)
      throw new Error(`${o.agents} agents need ${o.agents} tokens, got ${o.tokens.length}`);
    this.o = o;
    const profiles = assignProfiles(o.mix ?? allHealthy, o.agents);
    const first = o.firstIndex ?? 0;
    for (let i = 0; i < o.agents; i++) {
      const g = first + i;
      const profile: AgentProfile = profiles[i] ?? 'healthy';
      this.agents.push(
        new SimAgent({
          index: g,
          profile,
          dir: join(o.dir, `a${g}`),
          natsUrls: o.natsUrls,
          token: o.tokens[i] ?? '',
          enrollCreds: o.enrollCreds,
          hostname: `${o.hostPrefix ?? 'sim'}-${g}`,
          // Selector labels: a site per 4 agents, the profile (so a bench can target healthy ones).
          labels: { site: ['ams', 'fra', 'sfo', 'nrt'][g % 4] ?? 'ams', profile },
          settings: o.settings ?? {},
          timings: o.timings ?? defaultScriptTimings,
          churn: o.churn ?? { offlineMs: 20_000, onlineMs: 40_000 },
          onProblem: (_i, line) => this.#problem(`a${g}: ${line}`),
        }),
      );
    }
    this.#loop.enable();
  }

  /** Starts every agent (bounded concurrency); resolves when all have started their link. */
  async start(): Promise<number> {
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        const a = this.agents[i];
        if (!a) return;
        const rate = this.o.startRatePerSec ?? 0;
        if (rate > 0) {
          const due = t0 + (i * 1000) / rate - performance.now();
          if (due > 0) await new Promise((r) => setTimeout(r, due));
        }
        try {
          await a.start();
        } catch (e) {
          this.#problem(`a${a.o.index}: start failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.o.startConcurrency ?? 100) }, worker));
    return performance.now() - t0;
  }

  async stop(): Promise<void> {
    this.#loop.disable();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const a = this.agents[next++];
        if (!a) return;
        await a.stop();
      }
    };
    await Promise.all(Array.from({ length: 200 }, worker));
  }

  /** Counts and this process's cost. `label`: count agents whose job of that label runs. */
  stats(label?: string): SimStats {
    const running: Record<string, number> = {};
    let enrolled = 0;
    let connected = 0;
    let offline = 0;
    let spawns = 0;
    let exits = 0;
    const waiting: Record<string, number> = {};
    for (const a of this.agents) {
      if (a.times.enrolledAt !== undefined) enrolled++;
      const st = a.link?.status();
      if (st?.connected) connected++;
      else if (st && !a.offline) {
        const why = `${st.state}: ${(st.lastError ?? '-').replace(/\d+/g, '#').slice(0, 120)}`;
        waiting[why] = (waiting[why] ?? 0) + 1;
      }
      if (a.offline) offline++;
      spawns += a.spawner.spawned;
      exits += a.spawner.exited;
      if (label !== undefined && a.job(label)?.subState === 'running')
        running[a.o.profile] = (running[a.o.profile] ?? 0) + 1;
    }
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const p99 = this.#loop.percentile(99) / 1e6;
    this.#loop.reset();
    return {
      type: 'stats',
      pid: process.pid,
      agents: this.agents.length,
      started: this.agents.filter((a) => a.link !== undefined || a.offline).length,
      enrolled,
      connected,
      offline,
      running,
      spawns,
      exits,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      loopDelayP99Ms: Number.isFinite(p99) ? p99 : 0,
      waiting,
      problems: [...this.#problems],
      problemCount: this.#problemCount,
    };
  }

  /** Per-agent times (`label`: when that job last entered running). */
  rows(label?: string): SimAgentRow[] {
    return this.agents.map((a) => ({
      index: a.o.index,
      profile: a.o.profile,
      nodeId: a.nodeId,
      offline: a.offline,
      startedAt: a.times.startedAt,
      enrolledAt: a.times.enrolledAt,
      connectedAt: a.times.connectedAt,
      disconnectedAt: a.times.disconnectedAt,
      connects: a.times.connects,
      outages: [...a.times.outages],
      acceptedAt: a.times.acceptedAt,
      acceptedVersions: label !== undefined ? acceptedVersions(a, label) : undefined,
      runningAt: label !== undefined ? a.times.running.get(label)?.at : undefined,
      runningArgs: label !== undefined ? runningArgs(a, label) : undefined,
    }));
  }

  #problem(line: string): void {
    // For a post-mortem: LF_SIM_LOG_DIR keeps every problem line with its time (the stats
    // carry only the last few, and a busy simulator may not answer for them).
    const dir = process.env['LF_SIM_LOG_DIR'];
    if (dir) appendFileSync(join(dir, `sim-${process.pid}.log`), `${new Date().toISOString()} ${line}\n`);
    this.#problemCount++;
    this.#problems.push(line.slice(0, 300));
    if (this.#problems.length > maxProblems) this.#problems.shift();
  }
}

/** Version -> when the agent's reconciler first got `label` at it (log lines `<label> v<version>`). */
function acceptedVersions(a: SimAgent, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const prefix = `${label} v`;
  for (const [what, at] of a.times.accepted) if (what.startsWith(prefix)) out[what.slice(prefix.length)] = at;
  return out;
}

/** The arguments of the agent's job `label` while it runs (the bench's plists carry a run number). */
function runningArgs(a: SimAgent, label: string): readonly string[] | undefined {
  const j = a.job(label);
  return j?.subState === 'running' ? j.arguments : undefined;
}
