/** Reporter counters (metrics, tests); each part of the reporter counts its own. */
export interface ReporterStats {
  eventsPublished: number;
  eventsDropped: number;
  /** Job-state (transition) events queued for publishing. */
  jobStateEvents: number;
  /** Job changes folded into a later transition of the same job. */
  jobStateCoalesced: number;
  /** Job-activity summaries queued for publishing. */
  jobActivityEvents: number;
  statusPuts: number;
  heartbeats: number;
  queriesRefused: number;
}
