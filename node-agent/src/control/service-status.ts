/**
 * Builds the wire form of a job's status (print's fields, docs/launchd-semantics.md §5.4) from the
 * supervisor's JobStatus, the job's spec (properties, sockets, environment, stdio paths) and what the agent's
 * previous lives recorded (runs and last exit survive an agent restart).
 */
import type { JobSpec, SocketSpec } from '@launchfleet/shared/job';
import {
  listRow,
  printJobState,
  signalNumber,
  type JobStatus,
  type ListRow,
} from '../supervisor/job-status.ts';
import type { ServiceStatus, WireHeldSocket, WireListRow } from './wire.ts';
import type { SocketStatus } from '../supervisor/sockets/socket-status.ts';
import type { ListStatusWhileRunning } from '../supervisor/core/machine-config.ts';

/** What earlier runs of the agent recorded for a job (persisted by the agent's state store). */
export interface PreviousLife {
  readonly runs: number;
  readonly lastExit?: { readonly code: number } | { readonly signal: string };
}

/** Reads the previous lives of jobs; undefined when there is nothing recorded. */
export type PreviousLives = (domain: string, label: string) => PreviousLife | undefined;

/** The status with the previous lives folded in: runs add up; a last exit of this life wins. */
export function withPreviousLife(s: JobStatus, prev: PreviousLife | undefined): JobStatus {
  if (!prev) return s;
  const hasExit = s.lastExitCode !== undefined || s.lastTerminatingSignal !== undefined;
  const last = prev.lastExit;
  return {
    ...s,
    runs: s.runs + prev.runs,
    ...(hasExit || last === undefined
      ? {}
      : 'code' in last
        ? { lastExitCode: last.code }
        : { lastTerminatingSignal: last.signal }),
  };
}

export function toWireRow(s: JobStatus, whileRunning: ListStatusWhileRunning): WireListRow {
  const r: ListRow = listRow(s, whileRunning);
  return { pid: r.pid, status: r.status, label: r.label };
}

/** launchd's `properties = a | b` words for a job. */
export function jobProperties(spec: JobSpec): string[] {
  const ka = spec.keepAlive;
  const p: string[] = [];
  const keepalive =
    ka.always ||
    ka.successfulExit !== undefined ||
    ka.crashed !== undefined ||
    ka.pathState.size > 0 ||
    ka.otherJobEnabled.size > 0 ||
    ka.otherJobActive.size > 0 ||
    ka.networkState !== undefined;
  if (keepalive) p.push('keepalive');
  if (spec.runAtLoad) p.push('runatload');
  if (!spec.programIsExplicit) p.push('inferred program');
  if (spec.inetdCompatibility) p.push('inetd-compatible');
  if (spec.launchOnlyOnce) p.push('launch only once');
  if (spec.abandonProcessGroup) p.push('abandon process group');
  if (ka.afterInitialDemand) p.push('after initial demand');
  if (spec.enableTransactions) p.push('transactions');
  return p;
}

function endpoint(s: SocketSpec): string {
  const proto = s.protocol?.toLowerCase() ?? (s.type === 'dgram' ? 'udp' : 'tcp');
  if (s.pathName !== undefined) return `${s.type} unix ${s.pathName}`;
  const host = s.nodeName ?? (s.passive ? '*' : 'localhost');
  const fam = s.family === 'unspecified' ? '' : ` ${s.family}`;
  return `${s.type} ${proto}${fam} ${host}:${s.serviceName ?? '?'}`;
}

/** A socket the agent holds, as print and --json show it. */
function heldSocket(k: SocketStatus): WireHeldSocket {
  const where =
    k.family === 'unix'
      ? (k.path ?? '?')
      : `${k.family === 'ipv6' ? `[${k.address ?? '::'}]` : (k.address ?? '*')}:${k.port ?? '?'}`;
  return { endpoint: `${k.type} ${k.family} ${where}`, state: k.state, activations: k.activations };
}

export function toServiceStatus(s: JobStatus, spec: JobSpec | undefined): ServiceStatus {
  const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } =>
    (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
  const t = s.timers;
  return {
    label: s.label,
    domain: s.domain,
    ...opt('path', s.path),
    type: s.type,
    state: s.state,
    subState: s.subState,
    active: s.active,
    result: s.result,
    jobState: printJobState(s),
    ...opt('pid', s.pid),
    runs: s.runs,
    forks: s.forks,
    ...opt('lastExitCode', s.lastExitCode),
    ...opt('lastTerminatingSignal', s.lastTerminatingSignal),
    ...opt(
      'lastTerminatingSignalNumber',
      s.lastTerminatingSignal !== undefined ? signalNumber(s.lastTerminatingSignal) : undefined,
    ),
    ...opt('immediateReason', s.immediateReason),
    ...opt('throttledUntilMs', s.throttledUntil),
    minimumRuntime: s.minimumRuntime,
    exitTimeout: s.exitTimeout,
    successiveCrashes: s.successiveCrashes,
    disabled: s.disabled,
    timers: {
      ...opt('throttleMs', t.throttle),
      ...opt('exitTimeoutMs', t.exitTimeout),
      ...opt('killGraceMs', t.killGrace),
      ...opt('nextIntervalMs', t.nextInterval),
      ...opt('nextCalendarMs', t.nextCalendar),
    },
    watchPaths: s.watchPaths,
    queueDirectories: s.queueDirectories,
    armed: s.armed,
    program: s.program,
    arguments: s.arguments,
    warnings: s.warnings,
    history: s.history.map((h) => ({ atMs: h.at, event: h.event, detail: h.detail, from: h.from, to: h.to })),
    ...opt(
      'spawnFailure',
      s.spawnFailure
        ? {
            atMs: s.spawnFailure.at,
            stage: s.spawnFailure.stage,
            errno: s.spawnFailure.errno,
            exitStatus: s.spawnFailure.exitStatus,
            message: s.spawnFailure.message,
          }
        : undefined,
    ),
    ...opt('crashLoopingSinceMs', s.crashLooping?.since),
    ...opt('crashLoopCount', s.crashLooping?.count),
    ...(spec
      ? {
          properties: jobProperties(spec),
          sockets: spec.sockets.map((g) => ({
            name: g.name,
            endpoints: g.sockets.map(endpoint),
            held: (s.sockets ?? []).filter((k) => k.group === g.name).map(heldSocket),
          })),
          ...(s.inetd ? { inetd: s.inetd } : {}),
          environment: Object.fromEntries(spec.environmentVariables),
          ...opt('stdoutPath', spec.standardOutPath),
          ...opt('stderrPath', spec.standardErrorPath),
          ...opt('workingDirectory', spec.workingDirectory),
          ...opt('username', spec.userName),
          onDemand: !spec.keepAlive.always,
          limitLoadToSessionType: spec.limitLoadToSessionType,
        }
      : {}),
  };
}
