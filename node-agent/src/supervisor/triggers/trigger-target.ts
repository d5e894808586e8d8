/**
 * What a trigger adapter needs from its job's runner: the job, the ports it watches through,
 * and one way in (`send`). The adapters arm and disarm what the machine asks for
 * (`arm-demand`, `arm-standing`, ...) and deliver each firing as one event; they decide nothing.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { JobEvent } from '../core/job-events.ts';
import type { ObservedConditions } from '../core/job-state.ts';
import type { RunnerDomain, RuntimePorts } from '../runner-ports.ts';
import type { SupervisorLog } from '../supervisor-log.ts';

export interface TriggerTarget {
  readonly spec: JobSpec;
  readonly ports: Pick<RuntimePorts, 'fs' | 'clock' | 'scheduler'>;
  readonly domain: Pick<RunnerDomain, 'calendar' | 'sockets' | 'otherJob'>;
  readonly log: SupervisorLog;
  /** Delivers one event to the job's machine. */
  send(event: JobEvent): void;
  /** The KeepAlive conditions the machine last saw. */
  observed(): ObservedConditions;
  /** A StartInterval or StartCalendarInterval firing, delivered `lagMs` after its time (metrics). */
  timerFired(source: 'interval' | 'calendar', lagMs: number): void;
  /** The job has left its domain: late callbacks deliver nothing. */
  removed(): boolean;
}
