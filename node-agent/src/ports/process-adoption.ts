import type { JobSpec } from '@launchfleet/shared/job';

/**
 * Port: taking over job processes that the previous agent left running on purpose (a "detach"
 * stop, used by package upgrades; docs/upgrades.md). The agent's adapter is
 * agent/process-adoption.ts; without one (unit tests, a first start) nothing is ever adopted.
 */

/** A process recorded at the last detach for one job, verified to still be that process. */
export interface AdoptedProcess {
  readonly pid: number;
  /**
   * Calls `onGone` once when the process has ended. It is not our child: how it ended (code or
   * signal) cannot be known. Returns a function that stops watching.
   */
  watch(onGone: () => void): () => void;
  /** Not adopted after all (the job did not take it at load): stopped as a crash's leftover is. */
  decline(why: string): Promise<void>;
}

export interface ProcessAdoption {
  /**
   * The process recorded for `<domain>/<spec.label>` at the last detach, if it is still that
   * process and the job can adopt it (same definition, no sockets the agent holds). Consumed: a
   * second claim gets undefined. A recorded process that cannot be adopted is stopped before
   * this resolves, so the job's new process never runs beside it.
   */
  claim(domain: string, spec: JobSpec): Promise<AdoptedProcess | undefined>;
}
