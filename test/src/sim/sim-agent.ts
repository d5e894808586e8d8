/**
 * One simulated agent: node-agent's real DomainManager (the real supervisor: job machine,
 * runners, throttle, overrides) on simulated OS ports (in-memory file system, fixed user table,
 * the scripted spawner), and the real fleet link (`startFleetLink`: enrolment, signature checks,
 * desired-state watch, reconcile, status/events/heartbeats) with its own NATS connection.
 * Only the identity files live on disk (the link's credentials code reads them from there).
 *
 * What the simulator needs to know is taken from events, never polled: the link's own log
 * lines say when it enrolled and connected, the supervisor's `onStatus` says when a job runs.
 */
import { appendFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, systemScheduler, type TimerHandle } from '@launchfleet/shared/clock';
import { FakeFileSystem, FakeUserDb } from '@launchfleet/node-agent/testing';
import { DomainManager, machineConfig, modelPlistLoader, type JobStatus } from '@launchfleet/node-agent';
import { type FleetLink, type FleetLinkSettings, startFleetLink } from '@launchfleet/node-agent/link';
import { ScriptedSpawner, type ScriptTimings } from './scripted-spawner.ts';
import type { AgentProfile } from './sim-profiles.ts';

export interface SimAgentOptions {
  readonly index: number;
  readonly profile: AgentProfile;
  /** The agent's own directory (identity files). */
  readonly dir: string;
  readonly natsUrls: readonly string[];
  /** Bootstrap token (one use) and the enroll user's creds. */
  readonly token: string;
  readonly enrollCreds: string;
  readonly hostname: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly settings: FleetLinkSettings;
  readonly timings: ScriptTimings;
  /** churn: offline and online periods. */
  readonly churn: { readonly offlineMs: number; readonly onlineMs: number };
  /** A log line at warn/error level (the simulator keeps the last few). */
  readonly onProblem: (index: number, line: string) => void;
}

/** What one agent did, in wall-clock milliseconds. */
export interface SimAgentTimes {
  startedAt: number;
  enrolledAt: number | undefined;
  /** The latest successful connection as the node. */
  connectedAt: number | undefined;
  disconnectedAt: number | undefined;
  connects: number;
  /** When the reconciler last got a verified bundle (the last `reconcile: bundle` pass). */
  acceptedAt?: number;
  /** `<label> v<version>` -> when the reconciler first got that bundle. */
  readonly accepted: Map<string, number>;
  /** The last few outages of the node's session: lost at `from`, working again at `to`. */
  readonly outages: { from: number; to: number }[];
  /** label -> wall time the job last entered running, with the managed version then. */
  readonly running: Map<string, { at: number; pid: number }>;
}

export class SimAgent {
  readonly o: SimAgentOptions;
  readonly spawner: ScriptedSpawner;
  readonly times: SimAgentTimes;
  #manager: DomainManager | undefined;
  #link: FleetLink | undefined;
  #nodeId: string | undefined;
  #tokenFile = '';
  readonly #fs = new FakeFileSystem();
  #churnTimer: TimerHandle | undefined;
  #stopped = false;
  /** Link restarts (churn) in progress. */
  #linkOp: Promise<void> = Promise.resolve();
  offline = false;

  constructor(o: SimAgentOptions) {
    this.o = o;
    this.spawner = new ScriptedSpawner(o.profile, o.timings);
    this.times = {
      startedAt: Date.now(),
      enrolledAt: undefined,
      connectedAt: undefined,
      disconnectedAt: undefined,
      outages: [],
      connects: 0,
      running: new Map(),
      accepted: new Map(),
    };
  }

  get link(): FleetLink | undefined {
    return this.#link;
  }

  /**
   * The node id once enrolled, kept while a churn agent's link is stopped (it has no link then,
   * and the benchmark reads its rows at any moment: a churn agent offline then was counted as a
   * node without an id, which no snapshot could ever match).
   */
  get nodeId(): string | undefined {
    const id = this.#link?.identity?.nodeId;
    if (id !== undefined) this.#nodeId = id;
    return this.#nodeId;
  }

  /** The supervisor's view of a system job. */
  job(label: string): JobStatus | undefined {
    const d = this.#manager?.domain('system');
    if (!d?.ok) return undefined;
    const r = d.value.print(label);
    return r.ok ? r.value : undefined;
  }

  async start(): Promise<void> {
    this.times.startedAt = Date.now();
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    this.#tokenFile = join(this.o.dir, 'bootstrap.token');
    await writeFile(this.#tokenFile, `${this.o.token}\n${this.o.enrollCreds}`, { mode: 0o600 });
    const stateDir = join(this.o.dir, 'state');
    this.#fs.mkdir(join(stateDir, 'overrides'), { mode: 0o700 });
    this.#manager = new DomainManager({
      ports: {
        spawner: this.spawner,
        fs: this.#fs,
        users: new FakeUserDb(),
        clock: systemClock,
        scheduler: systemScheduler,
      },
      config: machineConfig('842'),
      stateDir,
      daemonDirectories: [],
      agentDirectories: [],
      loadHomeAgents: false,
      agentUid: 0,
      loader: modelPlistLoader(),
      log: this.#log,
      onStatus: (s) => {
        if (s.subState === 'running' && s.pid !== undefined) {
          const prev = this.times.running.get(s.label);
          if (prev?.pid !== s.pid) this.times.running.set(s.label, { at: Date.now(), pid: s.pid });
        }
        this.#link?.onJobStatus(s);
      },
    });
    await this.#manager.start();
    await this.#startLink();
    if (this.o.profile === 'churn') this.#armChurn(this.o.churn.onlineMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#churnTimer?.cancel();
    await this.#linkOp;
    await this.#link?.stop().catch(() => undefined);
    await this.#manager?.stop().catch(() => undefined);
  }

  #log = (level: string, label: string, message: string): void => {
    if (traceDir)
      trace(
        `${new Date().toISOString()} ${this.o.index} ${this.nodeId ?? '-'} ${level} ${label}: ${message}`,
      );
    if (label === 'link' && level === 'debug') {
      // The reconciler got a verified bundle (fleet-link's reconciler logs its pass reason).
      if (message.startsWith('reconcile: bundle ')) {
        const now = Date.now();
        this.times.acceptedAt = now;
        const what = message.slice('reconcile: bundle '.length);
        if (!this.times.accepted.has(what)) this.times.accepted.set(what, now);
      }
      return;
    }
    if (label === 'link' && level === 'info') {
      if (message.startsWith('enrolled as ')) this.times.enrolledAt = Date.now();
      else if (message.startsWith('connected to ')) {
        const prev = this.times.connectedAt;
        this.times.connectedAt = Date.now();
        this.times.connects++;
        const lost = this.times.disconnectedAt;
        if (lost !== undefined && prev !== undefined && lost >= prev) {
          this.times.outages.push({ from: lost, to: this.times.connectedAt });
          if (this.times.outages.length > 8) this.times.outages.shift();
        }
        if (this.times.enrolledAt === undefined) this.times.enrolledAt = this.times.connectedAt;
      }
      return;
    }
    if (label === 'link' && level === 'warn' && message.startsWith('disconnected after')) {
      this.times.disconnectedAt = Date.now();
      return;
    }
    if (level === 'error' || level === 'warn')
      this.o.onProblem(this.o.index, `${level} ${label}: ${message}`);
  };

  async #startLink(): Promise<void> {
    const manager = this.#manager;
    if (!manager) return;
    this.#link = await startFleetLink({
      config: { controller: { natsUrls: [...this.o.natsUrls], bootstrapTokenFile: this.#tokenFile } },
      stateDir: join(this.o.dir, 'state'),
      domainManager: manager,
      fs: this.#fs,
      clock: systemClock,
      log: this.#log,
      users: new FakeUserDb(),
      settings: { ...this.o.settings, hostname: this.o.hostname, labels: this.o.labels, agentVersion: 'sim' },
    });
  }

  /** churn: after `ms` flip between offline (link stopped) and online (link started again). */
  #armChurn(ms: number): void {
    if (this.#stopped) return;
    this.#churnTimer = systemScheduler.after(ms, () => {
      this.#linkOp = this.#linkOp
        .then(async () => {
          if (this.#stopped) return;
          if (this.offline) {
            this.offline = false;
            await this.#startLink();
          } else {
            const l = this.#link;
            this.#nodeId = l?.identity?.nodeId ?? this.#nodeId;
            this.#link = undefined;
            this.offline = true;
            await l?.stop();
            this.times.disconnectedAt = Date.now();
          }
        })
        .catch((e: unknown) =>
          this.o.onProblem(this.o.index, `error churn: ${e instanceof Error ? e.message : String(e)}`),
        )
        .finally(() => this.#armChurn(this.offline ? this.o.churn.offlineMs : this.o.churn.onlineMs));
    });
  }
}

/**
 * LF_SIM_TRACE_DIR: every log line of every agent (debug included), with its time, appended to
 * `trace-<pid>.log` there once a second: for a post-mortem of one agent's link.
 */
const traceDir = process.env['LF_SIM_TRACE_DIR'];
let traceLines: string[] = [];
function trace(line: string): void {
  traceLines.push(line);
  if (traceLines.length === 1)
    setTimeout(() => {
      const lines = traceLines;
      traceLines = [];
      appendFileSync(join(traceDir ?? '.', `trace-${process.pid}.log`), `${lines.join('\n')}\n`);
    }, 1000).unref();
}
