/**
 * Sockets (docs/launchd-semantics.md §1.8, §4): a dict of named groups; a group is one socket dict or an
 * array of them. A socket dict that cannot describe a socket (unknown SockType, wrong types) is ignored
 * with a warning, as launchctl's `sock_dict_edit_entry` skips a socket it cannot create; the
 * rest of the job loads.
 */
import type { PlistDict, PlistValue, SocketFamily, SocketGroup, SocketSpec, SocketType } from './job-spec.ts';
import { childPath, indexPath, isDict, type ValueReader } from './value-reader.ts';

const socketKeys = [
  'SockType',
  'SockPassive',
  'SockNodeName',
  'SockServiceName',
  'SockFamily',
  'SockProtocol',
  'SockPathName',
  'SockPathMode',
  'SockPathOwner',
  'SockPathGroup',
  'SecureSocketWithKey',
  'Bonjour',
  'MulticastGroup',
] as const;

const types: Record<string, SocketType> = { stream: 'stream', dgram: 'dgram', seqpacket: 'seqpacket' };
const families: Record<string, SocketFamily> = { ipv4: 'IPv4', ipv6: 'IPv6', ipv4v6: 'IPv4v6', unix: 'Unix' };
const protocols: Record<string, 'TCP' | 'UDP'> = { tcp: 'TCP', udp: 'UDP' };
const skipSocket = 'launchd does not create this socket and loads the job';

/** Reads the Sockets dict into groups, in file order. */
export function readSockets(r: ValueReader, path: string, v: PlistValue): SocketGroup[] {
  const dict = r.dict(path, v, 'dict of socket groups');
  if (dict === undefined) return [];
  const groups: SocketGroup[] = [];
  for (const [name, value] of Object.entries(dict)) {
    const at = childPath(path, name);
    const sockets: SocketSpec[] = [];
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const itemPath = indexPath(at, i);
        if (!isDict(item)) {
          r.issues.wrongType(itemPath, item, 'socket dict', 'ignores-dict', 'warning', skipSocket);
          return;
        }
        const s = readSocket(r, itemPath, item);
        if (s) sockets.push(s);
      });
    } else if (isDict(value)) {
      const s = readSocket(r, at, value);
      if (s) sockets.push(s);
    } else {
      r.issues.wrongType(
        at,
        value,
        'socket dict or array of socket dicts',
        'ignores-dict',
        'warning',
        skipSocket,
      );
    }
    if (sockets.length > 0) groups.push({ name, sockets });
  }
  return groups;
}

function readSocket(r: ValueReader, path: string, dict: PlistDict): SocketSpec | undefined {
  const keys = r.subKeys(path, dict, socketKeys);
  let ok = true;
  const bad = (key: string, value: PlistValue, expected: string, wrongType: boolean): void => {
    ok = false;
    const at = childPath(path, key);
    if (wrongType) r.issues.wrongType(at, value, expected, 'ignores-dict', 'warning', skipSocket);
    else r.issues.outOfRange(at, value, expected, 'ignores-dict', skipSocket);
  };
  const str = (key: string): string | undefined => {
    const v = keys.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    bad(key, v, 'string', true);
    return undefined;
  };
  const int = (key: string, min: number, max: number): number | undefined => {
    const v = keys.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      bad(key, v, `integer ${min}..${max}`, typeof v !== 'bigint');
      return undefined;
    }
    if (v < min || v > max) {
      bad(key, v, `integer ${min}..${max}`, false);
      return undefined;
    }
    return v;
  };
  // launchctl's sock_dict_edit_entry compares with strcasecmp and silently keeps its default
  // (stream, unspecified family, no protocol) for any other string.
  const oneOf = <T>(
    key: string,
    table: Record<string, T>,
    expected: string,
    fallback: string,
  ): T | undefined => {
    const s = str(key);
    if (s === undefined) return undefined;
    const hit = table[s.toLowerCase()];
    if (hit === undefined) {
      r.issues.add({
        severity: 'warning',
        code: 'unknown-value',
        keyPath: childPath(path, key),
        value: s,
        expected,
        what: `${key} "${s}" is not one of ${expected}`,
        launchd: 'warns',
        because: `launchd uses ${fallback} and loads the job`,
      });
    }
    return hit;
  };

  const type = oneOf('SockType', types, 'stream, dgram or seqpacket', 'stream') ?? 'stream';
  const familyValue = oneOf('SockFamily', families, 'IPv4, IPv6 or IPv4v6', 'an unspecified family');
  const protocol = oneOf('SockProtocol', protocols, 'TCP or UDP', 'the default protocol');
  const nodeName = str('SockNodeName');
  const pathName = str('SockPathName');
  const secureSocketWithKey = str('SecureSocketWithKey');
  const multicastGroup = str('MulticastGroup');
  // Apple writes the full st_mode (S_IFSOCK | 0777 = 49663); chmod only uses the permission bits.
  const fullMode = int('SockPathMode', 0, 0xffff);
  const pathMode = fullMode === undefined ? undefined : fullMode & 0o7777;
  const pathOwner = int('SockPathOwner', 0, 0xffffffff);
  const pathGroup = int('SockPathGroup', 0, 0xffffffff);

  let passive = true;
  const passiveValue = keys.get('SockPassive');
  if (passiveValue !== undefined) {
    if (typeof passiveValue === 'boolean') passive = passiveValue;
    else bad('SockPassive', passiveValue, 'bool', true);
  }

  let serviceName: string | undefined;
  const service = keys.get('SockServiceName');
  if (service !== undefined) {
    if (typeof service === 'string') serviceName = service;
    else if (typeof service === 'number' && Number.isInteger(service) && service >= 0 && service <= 65535) {
      serviceName = String(service);
    } else bad('SockServiceName', service, 'string, or integer port 0..65535', typeof service !== 'number');
  }

  let bonjour: boolean | string | readonly string[] | undefined;
  const bonjourValue = keys.get('Bonjour');
  if (bonjourValue !== undefined) {
    if (typeof bonjourValue === 'boolean' || typeof bonjourValue === 'string') bonjour = bonjourValue;
    else if (Array.isArray(bonjourValue) && bonjourValue.every((x) => typeof x === 'string')) {
      bonjour = bonjourValue;
    } else bad('Bonjour', bonjourValue, 'bool, string or array of strings', true);
  }

  const local = pathName !== undefined || secureSocketWithKey !== undefined;
  if (local && familyValue !== undefined && familyValue !== 'Unix') {
    r.issues.add({
      severity: 'warning',
      code: 'meaningless-combination',
      keyPath: childPath(path, 'SockFamily'),
      value: familyValue,
      what: `SockFamily ${familyValue} with ${pathName !== undefined ? 'SockPathName' : 'SecureSocketWithKey'}: a path means a Unix socket`,
      launchd: 'warns',
      because: 'launchd creates a Unix socket and loads the job',
    });
  }
  if (!local && (pathMode !== undefined || pathOwner !== undefined || pathGroup !== undefined)) {
    r.issues.add({
      severity: 'warning',
      code: 'meaningless-combination',
      keyPath: path,
      what: 'SockPathMode/SockPathOwner/SockPathGroup without SockPathName have nothing to apply to',
      launchd: 'ignores-key',
    });
  }
  if (!ok) return undefined;
  const family: SocketFamily = local ? 'Unix' : (familyValue ?? 'unspecified');
  return {
    type,
    passive,
    family,
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(serviceName !== undefined ? { serviceName } : {}),
    ...(protocol !== undefined ? { protocol } : {}),
    ...(pathName !== undefined ? { pathName } : {}),
    ...(pathMode !== undefined ? { pathMode } : {}),
    ...(pathOwner !== undefined ? { pathOwner } : {}),
    ...(pathGroup !== undefined ? { pathGroup } : {}),
    ...(secureSocketWithKey !== undefined ? { secureSocketWithKey } : {}),
    ...(bonjour !== undefined ? { bonjour } : {}),
    ...(multicastGroup !== undefined ? { multicastGroup } : {}),
  };
}
