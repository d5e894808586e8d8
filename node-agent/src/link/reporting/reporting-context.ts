import type { Clock, Scheduler } from '@launchfleet/shared/clock';
import type { SupervisorLog } from '../../supervisor/job-runner.ts';

/** What every part of the reporter is given: the node id (known after enrolment), time, a log. */
export interface ReportingContext {
  readonly nodeId: () => string;
  /** How a log line names the node's NATS credential (../nats-edge.ts `credentialName`). */
  readonly credential?: () => string;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: SupervisorLog;
}

/** Reporter counters (metrics, tests); each part of the reporter counts its own. */
export interface ReporterStats {
  eventsPublished: number;
  eventsDropped: number;
  /** Job-state (transition) events queued for publishing. */
  jobStateEvents: number;
  /** Job changes folded into a later transition of the same job. */
  jobStateCoalesced: number;
  /** `job-loaded` events sent with their job's settled state in place of a `job-state` event. */
  jobLoadedFolded: number;
  /** `bundle-accepted` events said by their job's `job-loaded` instead. */
  bundleAcceptedFolded: number;
  /** Job-activity summaries queued for publishing. */
  jobActivityEvents: number;
  statusPuts: number;
  heartbeats: number;
  queriesRefused: number;
}
