/** A spawn request with launchd's defaults (nothing inherited, no limits, stdio to /dev/null); tests and benchmarks override what they exercise. */
import type { SpawnRequest } from '../ports/process-spawner.ts';

export function spawnRequest(
  over: Partial<SpawnRequest> & Pick<SpawnRequest, 'label' | 'program' | 'argv'>,
): SpawnRequest {
  return {
    searchPath: false,
    enableGlobbing: false,
    env: {},
    softLimits: {},
    hardLimits: {},
    lowPriorityIO: false,
    stdin: { kind: 'null' },
    stdout: { kind: 'null' },
    stderr: { kind: 'null' },
    passFds: [],
    setListenPid: false,
    startSuspended: false,
    ...over,
  };
}
