/**
 * From a job's `Sockets` (docs/launchd-semantics.md §1.8) to the concrete sockets to bind: names resolved
 * (SockNodeName through the resolver, SockServiceName by number or through the services
 * database), one socket per address like launchctl's getaddrinfo loop (launchctl.c:1410-1609).
 * No family means both IPv4 and IPv6 (two fds, IPv6 with V6ONLY), as launchd does. What this
 * OS or build cannot do is a warning, not a failure; what cannot describe a socket at all
 * (unknown service name, no address) fails the load with a message naming the socket.
 */
import type { JobSpec, SocketSpec } from '@launchfleet/shared/job';
import type { SocketBindRequest, SocketPort } from '../../ports/socket-port.ts';

/** One socket to bind, with where it came from. */
export interface PlannedSocket {
  /** The group name (the Sockets key). */
  readonly group: string;
  /** The name handed to the job in LISTEN_FDNAMES (the group name, made safe for the protocol). */
  readonly fdName: string;
  /** `Sockets.<group>[<i>]`, for messages. */
  readonly where: string;
  readonly bind: SocketBindRequest;
  /** MulticastGroup to join after binding (dgram, same family as the group address). */
  readonly multicastGroup?: string;
  /**
   * The IPv6 half of a no-family wildcard pair: on a host without IPv6 (EAFNOSUPPORT) it is left
   * out with a warning, as getaddrinfo would not have returned it.
   */
  readonly optional?: boolean;
}

export type SocketPlan =
  | {
      readonly ok: true;
      readonly sockets: readonly PlannedSocket[];
      readonly warnings: readonly string[];
      /** SecureSocketWithKey: variable -> generated socket path, for the job's environment. */
      readonly env: Readonly<Record<string, string>>;
    }
  | { readonly ok: false; readonly message: string };

/** Prefix of SecureSocketWithKey directories (842: mkdtemp("/tmp/launch-XXXXXX")). */
export const SECURE_SOCKET_PREFIX = '/tmp/launch-';

export async function planSockets(spec: JobSpec, port: SocketPort): Promise<SocketPlan> {
  const sockets: PlannedSocket[] = [];
  const warnings: string[] = [];
  const env: Record<string, string> = {};
  for (const group of spec.sockets) {
    const fdName = fdNameOf(group.name);
    if (fdName !== group.name)
      warnings.push(
        `Sockets.${group.name}: handed to the job as LISTEN_FDNAMES "${fdName}" (":" and control characters are not allowed there)`,
      );
    for (const [i, s] of group.sockets.entries()) {
      const where = group.sockets.length > 1 ? `Sockets.${group.name}[${i}]` : `Sockets.${group.name}`;
      const r = await planOne(s, { group: group.name, fdName, where }, port, warnings, env);
      if (!r.ok) return r;
      sockets.push(...r.sockets);
    }
  }
  return { ok: true, sockets, warnings, env };
}

type One = { ok: true; sockets: PlannedSocket[] } | { ok: false; message: string };

async function planOne(
  s: SocketSpec,
  id: { group: string; fdName: string; where: string },
  port: SocketPort,
  warnings: string[],
  env: Record<string, string>,
): Promise<One> {
  const { where } = id;
  const bad = (message: string): One => ({ ok: false, message: `${where}: ${message}` });
  if (!s.passive) {
    // 842 connect()s a non-passive socket and hands the connected fd over; no job we know of
    // relies on it, and a connect at load would block the load on a remote peer.
    warnings.push(
      `${where}: SockPassive=false (connect at load) is not supported; this socket is not created`,
    );
    return { ok: true, sockets: [] };
  }
  if (s.bonjour !== undefined && s.bonjour !== false)
    warnings.push(
      `${where}: Bonjour: no mDNSResponder registration on this OS; the socket is created but not advertised`,
    );

  let path = s.pathName;
  if (s.secureSocketWithKey !== undefined) {
    const dir = await port.makePrivateDirectory(SECURE_SOCKET_PREFIX);
    if (!dir.ok) return bad(`SecureSocketWithKey: cannot create a private directory: ${dir.message}`);
    path = `${dir.path}/${id.group}`;
    env[s.secureSocketWithKey] = path;
    warnings.push(
      `${where}: SecureSocketWithKey: ${s.secureSocketWithKey} is set in this job's environment only (launchd exports it to the whole session)`,
    );
  }
  if (path !== undefined || s.family === 'Unix') {
    if (path === undefined) return bad('SockFamily=Unix needs SockPathName');
    if (!path.startsWith('/')) return bad(`SockPathName must be absolute: ${JSON.stringify(path)}`);
    if (Buffer.byteLength(path) > 103)
      return bad(`SockPathName is too long for a unix socket (${Buffer.byteLength(path)} bytes, max 103)`);
    return {
      ok: true,
      sockets: [
        {
          ...id,
          bind: {
            family: 'unix',
            type: s.type,
            path,
            ...(s.pathMode !== undefined ? { mode: s.pathMode } : {}),
            ...(s.pathOwner !== undefined ? { uid: s.pathOwner } : {}),
            ...(s.pathGroup !== undefined ? { gid: s.pathGroup } : {}),
          },
        },
      ],
    };
  }

  // Internet sockets. SockProtocol must agree with SockType (getaddrinfo refuses the mix).
  if (s.protocol === 'UDP' && s.type !== 'dgram')
    return bad(`SockProtocol=UDP needs SockType=dgram (got ${s.type})`);
  if (s.protocol === 'TCP' && s.type === 'dgram') return bad('SockProtocol=TCP needs SockType=stream');
  if (s.type === 'seqpacket')
    return bad('SockType=seqpacket is not available for internet sockets on this OS (use a unix socket)');
  if (s.serviceName === undefined) return bad('SockServiceName is required for an internet socket');
  const proto = s.type === 'dgram' ? 'udp' : 'tcp';
  const portNumber = await port.resolveService(s.serviceName, proto);
  if (portNumber === undefined)
    return bad(
      `unknown service name ${JSON.stringify(s.serviceName)} (not a port number, not in the services database for ${proto})`,
    );

  if (s.family === 'IPv4v6')
    warnings.push(
      `${where}: SockFamily=IPv4v6 gives two sockets here (IPv4, and IPv6 with V6ONLY), not one dual-stack socket`,
    );
  const families: readonly ('ipv4' | 'ipv6')[] =
    s.family === 'IPv4' ? ['ipv4'] : s.family === 'IPv6' ? ['ipv6'] : ['ipv4', 'ipv6'];
  let addresses: { address?: string; family: 'ipv4' | 'ipv6' }[];
  if (s.nodeName !== undefined) {
    const filter = families.length === 1 ? families[0] : undefined;
    const r = await port.resolveNode(s.nodeName, filter);
    if (!r.ok)
      return bad(`SockNodeName ${JSON.stringify(s.nodeName)} does not resolve: ${r.code} ${r.message}`);
    addresses = [...r.addresses];
    if (addresses.length === 0)
      return bad(
        `SockNodeName ${JSON.stringify(s.nodeName)} has no ${filter ?? ''} address`.replace('  ', ' '),
      );
  } else {
    addresses = families.map((family) => ({ family }));
  }

  const out: PlannedSocket[] = [];
  for (const a of addresses) {
    const mc = s.multicastGroup !== undefined && s.type === 'dgram' ? s.multicastGroup : undefined;
    out.push({
      ...id,
      bind: {
        family: a.family,
        type: s.type,
        port: portNumber,
        ...(a.address !== undefined ? { address: a.address } : {}),
        ...(mc !== undefined ? { multicast: true } : {}),
      },
      ...(mc !== undefined && familyOf(mc) === a.family ? { multicastGroup: mc } : {}),
      ...(s.nodeName === undefined && families.length === 2 && a.family === 'ipv6' ? { optional: true } : {}),
    });
  }
  if (s.multicastGroup !== undefined && s.type !== 'dgram')
    warnings.push(`${where}: MulticastGroup applies to datagram sockets only; ignored`);
  return { ok: true, sockets: out };
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return address.includes(':') ? 'ipv6' : 'ipv4';
}

/** A group name made safe for LISTEN_FDNAMES (systemd: no ':' or control characters, max 255). */
export function fdNameOf(group: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = group.replace(/[:\u0000-\u001f\u007f]/g, '_').slice(0, 255);
  return safe === '' ? 'unknown' : safe;
}
