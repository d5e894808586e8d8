/**
 * What `print` and the status API show of a job's on-demand sockets (docs/launchd-semantics.md §4): each
 * socket with its group, kind, address and state, and how many activations it caused.
 */

/**
 * The state of one held socket.
 * - `watching`: the agent watches it for a pending connection or datagram (the job is idle), or,
 *   for inetd Wait=false, accepts on it.
 * - `active`: handed to a running job (which owns accept/read), or Wait=false at its cap of
 *   concurrent instances (new connections wait in the backlog).
 * - `paused`: held but not watched (the job is throttled or disabled, docs/launchd-semantics.md
 *   §4.2 job_ignore).
 * - `closed`: the job was unloaded.
 */
export type SocketState = 'watching' | 'active' | 'paused' | 'closed';

/** One socket the agent holds for a job. */
export interface SocketStatus {
  /** The Sockets key (the group name the job checks in with). */
  readonly group: string;
  readonly type: 'stream' | 'dgram' | 'seqpacket';
  readonly family: 'ipv4' | 'ipv6' | 'unix';
  readonly address?: string;
  readonly port?: number;
  readonly path?: string;
  readonly state: SocketState;
  /** Times this socket started the job (a readability) or, for Wait=false, connections accepted. */
  readonly activations: number;
}

/** The sockets of one job, and its inetd instances. */
export interface JobSocketsStatus {
  readonly sockets: readonly SocketStatus[];
  /** inetdCompatibility Wait=false: per-connection processes running now, and the cap. */
  readonly inetd?: {
    readonly wait: boolean;
    readonly instances: number;
    readonly maxInstances: number;
    readonly accepted: number;
  };
}

/** `print` lines for the sockets (tab-indented like the other print fields). */
export function formatSocketLines(s: JobSocketsStatus): string[] {
  const lines = ['\tsockets = {'];
  for (const k of s.sockets) {
    const where = k.family === 'unix' ? (k.path ?? '?') : `${bracket(k.address ?? '*')}:${k.port ?? '?'}`;
    lines.push(
      `\t\t${k.group}: ${k.type} ${k.family} ${where} state = ${k.state} activations = ${k.activations}`,
    );
  }
  lines.push('\t}');
  if (s.inetd)
    lines.push(
      `\tinetd = { wait = ${s.inetd.wait}, instances = ${s.inetd.instances}/${s.inetd.maxInstances}, accepted = ${s.inetd.accepted} }`,
    );
  return lines;
}

function bracket(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
