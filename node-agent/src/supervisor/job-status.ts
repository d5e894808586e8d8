/**
 * The status snapshot of one job that `print`, `list`, metrics and the controller link read
 * (launchctl print's fields, docs/launchd-semantics.md §5.4; list's columns, §5.2). Times are wall-clock
 * milliseconds (converted from the machine's monotonic times) so they mean something to people.
 */
import { constants } from 'node:os';
import type { JobStateReport } from '@launchfleet/shared/job';
import type { HistoryEntry, ImmediateReason, SpawnFailureInfo } from './core/job-state.ts';
import type { ListStatusWhileRunning } from './core/machine-config.ts';
import { formatSocketLines, type JobSocketsStatus } from './sockets/socket-status.ts';

/**
 * The fleet's `{subState, active, result}` (JobStateReport) plus print's fields: the typed state
 * is carried as is to the wire, the metrics and the controller.
 */
export interface JobStatus extends JobStateReport {
  readonly label: string;
  /** 'system', 'gui/501', 'user/501'. */
  readonly domain: string;
  /** The plist the job came from, if any. */
  readonly path?: string;
  readonly type: 'LaunchDaemon' | 'LaunchAgent' | 'Submitted';
  /** print's `state =` (from the translation table). */
  readonly state: string;
  readonly pid?: number;
  readonly runs: number;
  /** Spawns attempted (modern `forks`). */
  readonly forks: number;
  /** Exactly one of these two after the first exit (E7: the lines are mutually exclusive). */
  readonly lastExitCode?: number;
  readonly lastTerminatingSignal?: string;
  readonly immediateReason?: ImmediateReason;
  /** Wall time the throttle releases a scheduled spawn. */
  readonly throttledUntil?: number;
  /** The throttle interval in force (print's `minimum runtime`). */
  readonly minimumRuntime: number;
  readonly exitTimeout: number;
  readonly successiveCrashes: number;
  readonly crashLooping?: { readonly since: number; readonly count: number };
  readonly spawnFailure?: Omit<SpawnFailureInfo, 'atMs'> & { readonly at: number };
  readonly disabled: boolean;
  /** Pending timers: wall times. */
  readonly timers: {
    readonly throttle?: number;
    readonly exitTimeout?: number;
    readonly killGrace?: number;
    readonly nextInterval?: number;
    readonly nextCalendar?: number;
  };
  readonly watchPaths: readonly string[];
  readonly queueDirectories: readonly string[];
  /** Demand sources currently armed. */
  readonly armed: readonly string[];
  readonly program: string;
  readonly arguments: readonly string[];
  /** Keys accepted but not implemented on this OS, with why (docs/launchd-semantics.md §1 keys). */
  readonly warnings: readonly string[];
  /** The sockets the agent holds for the job (docs/launchd-semantics.md §4), when it has any. */
  readonly sockets?: JobSocketsStatus['sockets'];
  /** inetdCompatibility: per-connection processes (Wait=false) and the cap. */
  readonly inetd?: JobSocketsStatus['inetd'];
  /** Recent events, oldest first, with wall times. */
  readonly history: readonly (Omit<HistoryEntry, 'atMs'> & { readonly at: number })[];
}

/** One `launchctl list` row: PID, Status, Label (docs/launchd-semantics.md §2.4, §5.2, row 44). */
export interface ListRow {
  readonly pid: string;
  readonly status: string;
  readonly label: string;
}

/**
 * The one rendering of a job as `launchctl list` shows it (list, list in print's domain output,
 * --json rows). PID: the pid, or `-`. Status: the last exit status (the code, or minus the signal
 * number: `-15` after SIGTERM), `0` before any exit (launchd initialises it to 0 and always
 * reports it); beside a PID, `-` in 842 and the last status in modern launchctl
 * (`listStatusWhileRunning`, set by the flavour).
 */
export function listRow(s: JobStatus, whileRunning: ListStatusWhileRunning): ListRow {
  const pid = s.pid !== undefined ? String(s.pid) : '-';
  const status = s.pid !== undefined && whileRunning === 'dash' ? '-' : String(lastExitStatus(s) ?? 0);
  return { pid, status, label: s.label };
}

/** The last exit status: the code, or minus the signal number; undefined before any exit. */
export function lastExitStatus(
  s: Pick<JobStatus, 'lastExitCode' | 'lastTerminatingSignal'>,
): number | undefined {
  if (s.lastExitCode !== undefined) return s.lastExitCode;
  if (s.lastTerminatingSignal !== undefined) return -signalNumber(s.lastTerminatingSignal);
  return undefined;
}

/** The OS's number for a signal name (names differ in number between Linux and macOS, §8). */
export function signalNumber(name: string): number {
  const n = (constants.signals as Record<string, number | undefined>)[name];
  return n ?? 0;
}

/** launchctl print, as text (not an API, as Apple says; for people and golden tests). */
export function formatPrint(s: JobStatus, nowWall: number): string {
  const lines: string[] = [`${s.domain}/${s.label} = {`];
  const add = (k: string, v: string | number | undefined): void => {
    if (v !== undefined) lines.push(`\t${k} = ${v}`);
  };
  add('active count', s.pid !== undefined ? 1 : 0);
  add('path', s.path);
  add('type', s.type);
  add('state', s.state);
  add('program', s.program);
  lines.push('\targuments = {', ...s.arguments.map((a) => `\t\t${a}`), '\t}');
  add('domain', s.domain);
  add('minimum runtime', s.minimumRuntime);
  add('exit timeout', s.exitTimeout);
  add('runs', s.runs);
  add('forks', s.forks);
  add('successive crashes', s.successiveCrashes);
  add('pid', s.pid);
  add('immediate reason', s.immediateReason);
  if (s.lastTerminatingSignal !== undefined)
    add('last terminating signal', `${s.lastTerminatingSignal}: ${signalNumber(s.lastTerminatingSignal)}`);
  else add('last exit code', s.lastExitCode === undefined ? '(never exited)' : exitCodeText(s.lastExitCode));
  if (s.throttledUntil !== undefined)
    add('throttled for', `${Math.max(0, Math.ceil((s.throttledUntil - nowWall) / 1000))} s`);
  if (s.crashLooping)
    add(
      'crash-looping',
      `${s.crashLooping.count} short runs since ${new Date(s.crashLooping.since).toISOString()}`,
    );
  if (s.spawnFailure)
    add('spawn failure', `${s.spawnFailure.stage}: ${s.spawnFailure.errno} (${s.spawnFailure.message})`);
  add('job state', printJobState(s));
  if (s.sockets)
    lines.push(...formatSocketLines({ sockets: s.sockets, ...(s.inetd ? { inetd: s.inetd } : {}) }));
  if (s.disabled) add('disabled', 'true');
  lines.push('}');
  return lines.join('\n');
}

/**
 * Modern print's `job state =` line (running | exited | spawn failed | not running): how
 * launchctl words the typed state, for people and launchctl-compatible output only.
 */
export function printJobState(s: Pick<JobStatus, 'pid' | 'result' | 'runs'>): string {
  if (s.pid !== undefined) return 'running';
  if (s.result === 'spawn-failed') return 'spawn failed';
  return s.runs > 0 ? 'exited' : 'not running';
}

function exitCodeText(code: number): string {
  return code === 78 ? '78: EX_CONFIG' : String(code);
}
