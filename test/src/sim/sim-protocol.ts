/**
 * The messages between the benchmark and a simulator process (Node's IPC channel, as set up by
 * `child_process.fork`). A simulator started by hand prints the same stats as JSON lines.
 */
import type { ConnectGateStats } from './connect-gate.ts';

/** Agent counts by state, and the process's own cost. */
export interface SimStats {
  readonly type: 'stats';
  readonly pid: number;
  readonly agents: number;
  readonly started: number;
  readonly enrolled: number;
  readonly connected: number;
  readonly offline: number;
  /** Agents whose job `label` (if asked) runs at the supervisor, by profile. */
  readonly running: Readonly<Record<string, number>>;
  readonly spawns: number;
  readonly exits: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** Event-loop delay p99 over the last interval (ms). */
  readonly loopDelayP99Ms: number;
  /**
   * Agents without a session, by link state and last error (digits folded to `#`, so that one
   * cause is one bucket): what a reconnect wave is waiting for.
   */
  readonly waiting: Readonly<Record<string, number>>;
  /** The last warn/error log lines of any agent. */
  readonly problems: readonly string[];
  readonly problemCount: number;
  /** The connect gate's counters, when the simulator runs one (`--connect-gate`). */
  readonly gate?: ConnectGateStats;
}

/** Per-agent times (wall ms) for the ramp and convergence measurements. */
export interface SimAgentRow {
  readonly index: number;
  readonly profile: string;
  readonly nodeId: string | undefined;
  /** A churn agent in its offline period (its link stopped). */
  readonly offline?: boolean;
  readonly startedAt: number;
  readonly enrolledAt: number | undefined;
  readonly connectedAt: number | undefined;
  /** When the session was last lost (undefined: never). Up now: connectedAt after it. */
  readonly disconnectedAt?: number | undefined;
  readonly connects: number;
  /** The last few outages (lost at `from`, a working session again at `to`), wall ms. */
  readonly outages?: readonly { readonly from: number; readonly to: number }[];
  /** When the node's reconciler last got a verified bundle (wall ms). */
  readonly acceptedAt?: number | undefined;
  /**
   * For the asked label: version -> when the reconciler first got it verified (wall ms).
   * `acceptedAt` is the last pass of any bundle, which a churn agent repeats at every link start.
   */
  readonly acceptedVersions?: Readonly<Record<string, number>>;
  /** When the asked label last entered running. */
  readonly runningAt: number | undefined;
  /** The asked label's arguments while it runs. */
  readonly runningArgs?: readonly string[] | undefined;
}

/** Benchmark -> simulator. */
export type SimCommand =
  | { readonly type: 'stats'; readonly label?: string }
  | { readonly type: 'agents'; readonly label?: string }
  /** A V8 CPU profile of one window (e.g. one apply): start, then stop into `file`. */
  | { readonly type: 'profile'; readonly action: 'start' }
  | { readonly type: 'profile'; readonly action: 'stop'; readonly file: string }
  | { readonly type: 'stop' };

/** Simulator -> benchmark. */
export type SimReply =
  | { readonly type: 'started'; readonly agents: number; readonly ms: number }
  | { readonly type: 'anchor-connected'; readonly clients: number }
  | SimStats
  | { readonly type: 'agents'; readonly rows: readonly SimAgentRow[] }
  | { readonly type: 'profiled'; readonly file?: string; readonly error?: string }
  | { readonly type: 'stopped' }
  | { readonly type: 'error'; readonly message: string };
