/**
 * The status snapshot of one job (job-status.ts's JobStatus), projected from what its runtime
 * holds: the machine's state, the timers and trigger adapters armed now, and the sockets the
 * agent holds for it. Monotonic times become wall-clock times here, so they mean something to
 * people. Pure: the clock's two readings are passed in.
 */
import { type JobSpec, jobStateReport } from '@launchfleet/shared/job';
import type { TimerId } from './core/job-events.ts';
import { STATE_TABLE, pidOf, type JobState } from './core/job-state.ts';
import type { JobStatus } from './job-status.ts';
import type { JobSocketsStatus } from './sockets/socket-status.ts';

/** Everything a snapshot is made of, read at one instant. */
export interface StatusFacts {
  readonly spec: JobSpec;
  readonly path: string | undefined;
  readonly domain: { readonly target: string; readonly kind: 'system' | 'gui' | 'user' };
  readonly defaultExitTimeOutSec: number;
  readonly state: JobState;
  readonly monoNow: number;
  readonly wallNow: number;
  /** Due times (monotonic) of the machine's timers that are armed. */
  readonly timersDue: ReadonlyMap<TimerId, number>;
  readonly nextIntervalMono: number | undefined;
  readonly nextCalendarWall: number | undefined;
  /** Demand sources armed now. */
  readonly armed: readonly string[];
  readonly warnings: readonly string[];
  /** The sockets the agent holds for the job, if it has any. */
  readonly sockets: JobSocketsStatus | undefined;
}

export function jobStatusSnapshot(f: StatusFacts): JobStatus {
  const s = f.state;
  const spec = f.spec;
  const toWall = (mono: number): number => f.wallNow - (f.monoNow - mono);
  const pid = pidOf(s.sub);
  const due = (id: TimerId): number | undefined => {
    const t = f.timersDue.get(id);
    return t === undefined ? undefined : toWall(t);
  };
  const timers: JobStatus['timers'] = {
    ...opt('throttle', due('throttle')),
    ...opt('exitTimeout', due('exit-timeout')),
    ...opt('killGrace', due('kill-grace')),
    ...opt('nextInterval', f.nextIntervalMono === undefined ? undefined : toWall(f.nextIntervalMono)),
    ...opt('nextCalendar', f.nextCalendarWall),
  };
  return {
    label: spec.label,
    domain: f.domain.target,
    ...opt('path', f.path),
    type: f.domain.kind === 'system' ? 'LaunchDaemon' : 'LaunchAgent',
    state: STATE_TABLE[s.sub.kind].print,
    ...jobStateReport(s.sub.kind, s.result),
    ...opt('pid', pid),
    runs: s.runs,
    forks: s.spawns,
    ...opt('lastExitCode', s.lastExit?.kind === 'code' ? s.lastExit.code : undefined),
    ...opt('lastTerminatingSignal', s.lastExit?.kind === 'signal' ? s.lastExit.signal : undefined),
    ...opt('immediateReason', s.immediateReason),
    ...opt('throttledUntil', s.throttledUntilMs === undefined ? undefined : toWall(s.throttledUntilMs)),
    minimumRuntime: s.minimumRuntimeSec,
    exitTimeout: spec.exitTimeOut ?? f.defaultExitTimeOutSec,
    successiveCrashes: s.successiveCrashes,
    ...(s.crashLooping
      ? { crashLooping: { since: toWall(s.crashLooping.sinceMs), count: s.crashLooping.count } }
      : {}),
    ...(s.spawnFailure
      ? {
          spawnFailure: {
            at: toWall(s.spawnFailure.atMs),
            stage: s.spawnFailure.stage,
            errno: s.spawnFailure.errno,
            exitStatus: s.spawnFailure.exitStatus,
            message: s.spawnFailure.message,
          },
        }
      : {}),
    disabled: s.disabled,
    timers,
    watchPaths: spec.watchPaths,
    queueDirectories: spec.queueDirectories,
    armed: f.armed,
    program: spec.program,
    arguments: spec.programArguments,
    warnings: f.warnings,
    ...socketStatus(spec, f.sockets, pid !== undefined),
    // Field by field, not `({ atMs, ...h }) => ({ ...h, at })`: object rest and spread take V8's
    // slow generic copy, and this runs for every entry (up to 20) of every status change: it was
    // the largest JavaScript cost between a spawn and its status (issue 19's CPU profile).
    history: s.history.map((h) => ({
      event: h.event,
      detail: h.detail,
      from: h.from,
      to: h.to,
      at: toWall(h.atMs),
    })),
  };
}

/**
 * The job's sockets as print shows them. "active" means handed to a running job; once that
 * process is gone (throttled, exited, disabled) and nothing watches the socket, it is paused.
 * Wait=false's "active" (at its cap of instances) does not depend on the job's own process.
 */
function socketStatus(
  spec: JobSpec,
  s: JobSocketsStatus | undefined,
  running: boolean,
): Pick<JobStatus, 'sockets' | 'inetd'> {
  if (!s) return {};
  const agentAccepts = spec.inetdCompatibility?.wait === false;
  const sockets = s.sockets.map((k) =>
    k.state === 'active' && !running && !(agentAccepts && k.type !== 'dgram')
      ? { ...k, state: 'paused' as const }
      : k,
  );
  return { sockets, ...(s.inetd ? { inetd: s.inetd } : {}) };
}

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}
