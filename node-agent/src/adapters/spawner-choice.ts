import type { ProcessSpawner } from '../ports/process-spawner.ts';
import { DirectProcessSpawner, directSpawnAvailable } from './direct-spawner.ts';
import type { StdioOpenFailurePolicy } from './exec-shim-protocol.ts';
import { PosixProcessSpawner, posixSpawnAvailable } from './posix-spawner.ts';
import { RealProcessSpawner } from './process-spawner.ts';

/**
 * Which ProcessSpawner the agent uses:
 * - 'direct' (the default when the lfnative addon has the direct spawn): DirectProcessSpawner,
 *   the job's own process set up in the addon and exec'd once (direct-spawner.ts);
 * - 'posix': PosixProcessSpawner, the lf-exec shim started with posix_spawn, which then execs
 *   the job (two execs per start); the fallback when the addon has no direct spawn;
 * - 'node': RealProcessSpawner, lf-exec started with child_process.spawn (libuv forks the
 *   agent); the fallback when the addon is not built at all.
 * The environment variable `LAUNCHFLEET_SPAWNER=direct|posix|node` selects one, e.g. to compare
 * or to rule a path out when diagnosing.
 */
export type SpawnerKind = 'direct' | 'posix' | 'node';

/** The environment variable that overrides the choice: `direct`, `posix` or `node`. */
export const spawnerEnvVar = 'LAUNCHFLEET_SPAWNER';

export interface SpawnerChoiceOptions {
  readonly stdioOpenFailure?: StdioOpenFailurePolicy;
  /** Explicit choice; default: the environment variable, else the best one available. */
  readonly kind?: SpawnerKind;
  /** The environment to read the variable from; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The spawner kind in effect. An unknown value of the variable is ignored (the default
 * applies); a kind whose native part is not built falls back to the next one ('direct' ->
 * 'posix' -> 'node'), as the agent must still run.
 */
export function chosenSpawnerKind(options: SpawnerChoiceOptions = {}): SpawnerKind {
  const asked = options.kind ?? (options.env ?? process.env)[spawnerEnvVar];
  if (asked === 'node') return 'node';
  if (asked !== 'posix' && directSpawnAvailable()) return 'direct';
  return posixSpawnAvailable() ? 'posix' : 'node';
}

/** The agent's ProcessSpawner (see SpawnerKind). */
export function createProcessSpawner(options: SpawnerChoiceOptions = {}): ProcessSpawner {
  const o = options.stdioOpenFailure === undefined ? {} : { stdioOpenFailure: options.stdioOpenFailure };
  switch (chosenSpawnerKind(options)) {
    case 'direct':
      return new DirectProcessSpawner(o);
    case 'posix':
      return new PosixProcessSpawner(o);
    case 'node':
      return new RealProcessSpawner(o);
  }
}
