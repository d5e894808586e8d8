import type { ProcessSpawner } from '../ports/process-spawner.ts';
import type { StdioOpenFailurePolicy } from './exec-shim-protocol.ts';
import { PosixProcessSpawner, posixSpawnAvailable } from './posix-spawner.ts';
import { RealProcessSpawner } from './process-spawner.ts';

/**
 * Which ProcessSpawner the agent uses:
 * - 'posix' (the default when the lfnative addon has spawn()): PosixProcessSpawner, lf-exec
 *   started with posix_spawn (vfork semantics), which keeps the event loop free while spawning;
 * - 'node': RealProcessSpawner, lf-exec started with child_process.spawn (libuv forks the
 *   agent). Select it with the environment variable `LAUNCHFLEET_SPAWNER=node`, e.g. to compare
 *   or to rule the posix_spawn path out when diagnosing.
 */
export type SpawnerKind = 'posix' | 'node';

/** The environment variable that overrides the choice: `node` or `posix`. */
export const spawnerEnvVar = 'LAUNCHFLEET_SPAWNER';

export interface SpawnerChoiceOptions {
  readonly stdioOpenFailure?: StdioOpenFailurePolicy;
  /** Explicit choice; default: the environment variable, else 'posix' when available. */
  readonly kind?: SpawnerKind;
  /** The environment to read the variable from; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The spawner kind in effect. An unknown value of the variable is ignored (the default
 * applies); 'posix' without a built addon falls back to 'node', as the agent must still run.
 */
export function chosenSpawnerKind(options: SpawnerChoiceOptions = {}): SpawnerKind {
  const asked = options.kind ?? (options.env ?? process.env)[spawnerEnvVar];
  if (asked === 'node') return 'node';
  return posixSpawnAvailable() ? 'posix' : 'node';
}

/** The agent's ProcessSpawner (see SpawnerKind). */
export function createProcessSpawner(options: SpawnerChoiceOptions = {}): ProcessSpawner {
  const o = options.stdioOpenFailure === undefined ? {} : { stdioOpenFailure: options.stdioOpenFailure };
  return chosenSpawnerKind(options) === 'posix' ? new PosixProcessSpawner(o) : new RealProcessSpawner(o);
}
