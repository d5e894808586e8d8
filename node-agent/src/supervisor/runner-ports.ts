/**
 * What the runtime of one job works with: the ports (the only way it touches the system) and
 * what it knows of its domain. The runner (job-runner.ts) and its trigger adapters (triggers/)
 * take these; nothing in core/ does.
 */
import type { Clock, Scheduler } from '@launchfleet/shared/clock';
import type { FileSystemPort } from '../ports/file-system.ts';
import type { ProcessAdoption } from '../ports/process-adoption.ts';
import type { ProcessSpawner } from '../ports/process-spawner.ts';
import type { UserDb } from '../ports/user-db.ts';
import type { CalendarScheduler } from './calendar-scheduler.ts';
import type { SocketActivationHook } from './sockets/socket-activation-hook.ts';
import type { SpawnDomain } from './spawn-request.ts';

/** The ports a runner uses. */
export interface RuntimePorts {
  readonly spawner: ProcessSpawner;
  readonly fs: FileSystemPort;
  readonly users: UserDb;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Processes the previous agent left running at a detach (package upgrade); absent: none. */
  readonly adoption?: ProcessAdoption;
}

/** What a runner knows of its domain. */
export interface RunnerDomain extends SpawnDomain {
  /** 'system', 'gui/501', 'user/501'. */
  readonly target: string;
  readonly calendar: CalendarScheduler;
  /** Is another label loaded / running in the same domain (OtherJobEnabled / OtherJobActive)? */
  readonly otherJob: (label: string) => { readonly loaded: boolean; readonly active: boolean };
  readonly sockets?: SocketActivationHook;
}
