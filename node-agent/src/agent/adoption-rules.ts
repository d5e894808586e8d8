/**
 * Which jobs a detach may leave running for the next agent, and the version of a job's
 * definition that the next agent compares before adopting (docs/upgrades.md). Pure.
 */
import { createHash } from 'node:crypto';
import type { JobSpec } from '@launchfleet/shared/job';

/**
 * Why a job's process cannot outlive the agent safely, or undefined if it can. The agent holds
 * the listening sockets of socket-activated jobs (and inetd jobs' connections, which are their
 * stdio): the next agent would hold new sockets the old process never sees, so these jobs are
 * stopped at the detach and started again by the new agent, as on a full restart.
 */
export function notAdoptable(spec: JobSpec): string | undefined {
  if (spec.inetdCompatibility !== undefined)
    return 'inetdCompatibility: the agent holds its sockets and connections';
  if (spec.sockets.length > 0) return 'Sockets: the agent holds its listening sockets';
  return undefined;
}

/** JSON with Maps and Sets as sorted arrays, so equal specs give equal text. */
function stable(value: unknown): unknown {
  if (value instanceof Map)
    return [...value.entries()]
      .map(([k, v]) => [stable(k), stable(v)] as const)
      .sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
  if (value instanceof Set) return [...value].map(stable).sort();
  if (Array.isArray(value)) return value.map(stable);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/**
 * The version of a job's definition: SHA-256 of its normalised spec. A process is adopted only
 * by a job with the same version; a job whose plist changed while the agent was down gets a new
 * process running the new definition.
 */
export function definitionVersion(spec: JobSpec): string {
  return createHash('sha256')
    .update(JSON.stringify(stable(spec)) ?? '')
    .digest('hex');
}
