import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

/**
 * Name resolution for launchd Sockets entries (SockNodeName, SockServiceName), done here in
 * TypeScript so the addon only ever sees numeric addresses: getaddrinfo-like results from
 * dns.lookup, and service names from /etc/services (present on Linux and macOS).
 */

export type ServiceProtocol = 'tcp' | 'udp';

/** Parses /etc/services text into name (and alias) -> port, for one protocol. */
export function parseServices(text: string, protocol: ServiceProtocol): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d+)\/(\w+)$/.exec(portProto ?? '');
    if (!name || !m || m[2] !== protocol) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    for (const n of [name, ...aliases]) if (!out.has(n)) out.set(n, port);
  }
  return out;
}

/**
 * The port for a SockServiceName: a decimal number, or a name from `servicesFile`.
 * Undefined if unknown. Never throws (an unreadable services file means "unknown").
 */
export async function resolveService(
  service: string,
  protocol: ServiceProtocol,
  servicesFile = '/etc/services',
): Promise<number | undefined> {
  if (/^\d{1,5}$/.test(service)) {
    const n = Number(service);
    return n <= 65535 ? n : undefined;
  }
  let text: string;
  try {
    text = await readFile(servicesFile, 'utf8');
  } catch {
    return undefined;
  }
  return parseServices(text, protocol).get(service);
}

/** A numeric address and its family. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * The addresses for a SockNodeName (every one, like getaddrinfo: launchd binds one socket per
 * result). A numeric address resolves to itself. Rejects with the DNS error (code ENOTFOUND...).
 */
export async function resolveNode(node: string, family?: 'ipv4' | 'ipv6'): Promise<ResolvedAddress[]> {
  const literal = isIP(node);
  if (literal !== 0) {
    const f = literal === 4 ? 'ipv4' : 'ipv6';
    return family === undefined || family === f ? [{ address: node, family: f }] : [];
  }
  const results = await lookup(node, {
    all: true,
    family: family === 'ipv4' ? 4 : family === 'ipv6' ? 6 : 0,
  });
  const seen = new Set<string>();
  const out: ResolvedAddress[] = [];
  for (const r of results) {
    if (seen.has(r.address)) continue;
    seen.add(r.address);
    out.push({ address: r.address, family: r.family === 6 ? 'ipv6' : 'ipv4' });
  }
  return out;
}
