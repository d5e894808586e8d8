/**
 * Reading job states from agents older than the typed vocabulary (before issue 15), so that a
 * fleet can be upgraded controller first and agents after. Such agents send, per label, one
 * coarse string (`running`, `waiting`, `spawn_scheduled`, `stopping`, `spawn_failed`,
 * `disabled`) and a detail with the last exit status and a throttle mark; this module turns
 * that into the `{ subState, active, result }` every reader now speaks. Nothing else in the
 * controller knows the old spellings.
 *
 * The old form lost information, so the reading is a best effort, decided by the detail:
 * - `waiting` covered both `waiting` and `exited` (a failed last run): a non-zero last exit
 *   status makes it `exited`, except minus SIGTERM or SIGKILL, which the agent itself sends to
 *   stop a job (the same numbers on Linux and macOS) and which read as `stopped`;
 * - `spawn_scheduled` covered throttled and spawning: the `throttled` mark decides;
 * - a crash signal cannot be told from another signal by its number across systems: `signal`.
 * Test: legacy-job-state.test.ts, on messages captured from a real agent of that version.
 */
import {
  type JobResult,
  type JobStateReport,
  type JobSubStateKind,
  jobStateReport,
} from '../job/job-state.ts';

/** What the old detail said that helps (structurally the old `JobDetail`). */
export interface LegacyDetail {
  readonly lastExitStatus?: number | undefined;
  readonly throttled?: boolean | undefined;
}

/** The coarse strings old agents wrote. */
export const LEGACY_JOB_STATES = [
  'running',
  'waiting',
  'spawn_scheduled',
  'stopping',
  'spawn_failed',
  'disabled',
  'load_failed',
] as const;

export type LegacyJobState = (typeof LEGACY_JOB_STATES)[number];

export function isLegacyJobState(v: unknown): v is LegacyJobState {
  return typeof v === 'string' && (LEGACY_JOB_STATES as readonly string[]).includes(v);
}

const SIGKILL = 9;
const SIGTERM = 15;

/** The result an old detail's last exit status implies. */
function legacyResult(status: number | undefined): JobResult {
  if (status === undefined || status === 0) return 'success';
  if (status > 0) return 'exit-code';
  return status === -SIGTERM || status === -SIGKILL ? 'stopped' : 'signal';
}

/** The typed state of one job an old agent reported as `old`. */
export function legacyJobState(old: LegacyJobState, d: LegacyDetail | undefined): JobStateReport {
  const result = legacyResult(d?.lastExitStatus);
  const idle = (): JobSubStateKind => (result === 'success' || result === 'stopped' ? 'waiting' : 'exited');
  switch (old) {
    case 'running':
      return jobStateReport('running', result);
    case 'waiting':
    case 'disabled':
      return jobStateReport(idle(), result);
    case 'spawn_scheduled':
      return jobStateReport(d?.throttled === true ? 'spawn-scheduled' : 'spawning', result);
    case 'stopping':
      return jobStateReport('stopping-term', result);
    case 'spawn_failed':
      return jobStateReport('exited', 'spawn-failed');
    case 'load_failed':
      return jobStateReport('unloaded', 'load-failed');
    default: {
      const never: never = old;
      return never;
    }
  }
}
