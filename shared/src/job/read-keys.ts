/**
 * Readers for the keys whose shape is more than one plist type: process context (Umask,
 * EnvironmentVariables, resource limits, ProcessType), load filters (docs/launchd-semantics.md §1.7),
 * Disabled, and the IPC declarations that are accepted and reported (inetdCompatibility, MachServices,
 * LaunchEvents).
 */
import type { PlistValue, ProcessType, ResourceLimitName, SessionType } from './job-spec.ts';
import { childPath, indexPath, isDict, type ValueReader } from './value-reader.ts';

/** Umask: an integer written in decimal, or (modern) a string read with strtoul base 0. */
export function readUmask(r: ValueReader, path: string, v: PlistValue): number | undefined {
  const expected = 'integer 0..511 (decimal), or an octal string such as "022"';
  let n: number | undefined;
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = parseInt(s.slice(2), 16);
    else if (/^0[0-7]*$/.test(s)) n = parseInt(s, 8);
    else if (/^[1-9][0-9]*$/.test(s)) n = parseInt(s, 10);
    else {
      r.issues.outOfRange(path, v, expected, 'ignores-value');
      return undefined;
    }
  } else if (typeof v === 'number' && Number.isInteger(v)) n = v;
  else {
    r.issues.wrongType(path, v, expected, 'ignores-value');
    return undefined;
  }
  if (n < 0 || n > 0o777) {
    r.issues.outOfRange(path, v, expected, 'ignores-value');
    return undefined;
  }
  return n;
}

/** EnvironmentVariables: string values only (behaviour 42); `__LAUNCHD_FD` is reserved. */
export function readEnvironment(r: ValueReader, path: string, v: PlistValue): Map<string, string> {
  const out = new Map<string, string>();
  const dict = r.dict(path, v, 'dict of string to string');
  if (dict === undefined) return out;
  for (const [name, value] of Object.entries(dict)) {
    const at = childPath(path, name);
    if (typeof value !== 'string') {
      r.issues.wrongType(
        at,
        value,
        'string',
        'ignores-value',
        'warning',
        'launchd does not set this variable and loads the job',
      );
      continue;
    }
    if (name === '__LAUNCHD_FD') {
      r.issues.add({
        severity: 'warning',
        code: 'reserved-name',
        keyPath: at,
        value,
        what: '__LAUNCHD_FD is reserved for launchd',
        launchd: 'ignores-value',
        because: 'launchd does not set this variable and loads the job',
      });
      continue;
    }
    out.set(name, value);
  }
  return out;
}

const limitNames: readonly ResourceLimitName[] = [
  'Core',
  'CPU',
  'Data',
  'FileSize',
  'MemoryLock',
  'NumberOfFiles',
  'NumberOfProcesses',
  'ResidentSetSize',
  'Stack',
];

/** Soft/HardResourceLimits: known names only, non-negative integers. */
export function readResourceLimits(
  r: ValueReader,
  path: string,
  v: PlistValue,
): Partial<Record<ResourceLimitName, number>> {
  const out: Partial<Record<ResourceLimitName, number>> = {};
  const dict = r.dict(path, v, 'dict of resource name to integer');
  if (dict === undefined) return out;
  const keys = r.subKeys(path, dict, limitNames);
  for (const [name, value] of keys) {
    const at = childPath(path, name);
    if (typeof value === 'bigint' && value > 0n) {
      out[name as ResourceLimitName] = Number(value); // beyond 2^53: effectively unlimited
      continue;
    }
    const n = r.integer(at, value, 'ignores-value', 'integer >= 0');
    if (n === undefined) continue;
    if (n < 0) r.issues.outOfRange(at, n, 'integer >= 0', 'ignores-value');
    else out[name as ResourceLimitName] = n;
  }
  return out;
}

const processTypes: readonly ProcessType[] = ['Background', 'Standard', 'Adaptive', 'Interactive'];

export function readProcessType(r: ValueReader, path: string, v: PlistValue): ProcessType | undefined {
  const s = r.string(path, v, 'ignores-value', 'string (Background, Standard, Adaptive or Interactive)');
  if (s === undefined) return undefined;
  const hit = processTypes.find((p) => p.toLowerCase() === s.toLowerCase());
  if (hit === undefined) {
    r.issues.add({
      severity: 'warning',
      code: 'unknown-value',
      keyPath: path,
      value: s,
      expected: processTypes.join(', '),
      what: `ProcessType "${s}" is not a documented value (Apple uses private ones such as App)`,
      launchd: 'warns',
      because: 'Launchfleet treats it as unspecified; launchd loads the job',
    });
  }
  return hit;
}

const sessionTypes: readonly SessionType[] = ['Aqua', 'Background', 'LoginWindow', 'StandardIO', 'System'];

/** LimitLoadToSessionType: a string or an array, values matched case-insensitively (§7 D13). */
export function readSessionTypes(r: ValueReader, path: string, v: PlistValue): SessionType[] {
  const values = r.stringOrArray(path, v) ?? [];
  const out: SessionType[] = [];
  values.forEach((s, i) => {
    const hit = sessionTypes.find((t) => t.toLowerCase() === s.toLowerCase());
    const at = typeof v === 'string' ? path : indexPath(path, i);
    if (hit === undefined) r.issues.outOfRange(at, s, sessionTypes.join(', '), 'ignores-value');
    else if (!out.includes(hit)) out.push(hit);
  });
  if (r.ctx.domain === 'system' && values.length > 0) {
    r.issues.add({
      severity: 'warning',
      code: 'ignored-in-domain',
      keyPath: path,
      what: 'LimitLoadToSessionType only applies to agents; the system domain has no sessions',
      launchd: 'ignores-key',
    });
  }
  return out;
}

/**
 * LimitLoadTo/FromHardware: dict of sysctl name (hw.<key>) to an array of accepted values.
 * Apple's own plists also use integers and bools (compared with the sysctl's value), and a bare
 * scalar: those are read as strings.
 */
export function readHardware(r: ValueReader, path: string, v: PlistValue): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const dict = r.dict(path, v, 'dict of sysctl name to array of values');
  if (dict === undefined) return out;
  const scalar = (x: PlistValue): string | undefined =>
    typeof x === 'string' ||
    typeof x === 'boolean' ||
    typeof x === 'bigint' ||
    (typeof x === 'number' && Number.isInteger(x))
      ? String(x)
      : undefined;
  for (const [name, value] of Object.entries(dict)) {
    const at = childPath(path, name);
    const items = Array.isArray(value) ? value : [value];
    const values: string[] = [];
    items.forEach((item, i) => {
      const s = scalar(item);
      if (s !== undefined) values.push(s);
      else
        r.issues.wrongType(
          Array.isArray(value) ? indexPath(at, i) : at,
          item,
          'string, integer or bool',
          'ignores-value',
        );
    });
    out.set(name, values);
  }
  return out;
}

/**
 * Disabled: a bool, or a dict {MachineType, ModelName} meaning "disabled on that Mac model".
 * Launchfleet cannot match a Mac model on Linux and treats the dict form as not disabled.
 */
export function readDisabled(r: ValueReader, path: string, v: PlistValue): boolean {
  if (typeof v === 'boolean') return v;
  const dict = r.dict(path, v, 'bool or dict {MachineType, ModelName}');
  if (dict === undefined) return false;
  const keys = r.subKeys(path, dict, ['MachineType', 'ModelName']);
  for (const [name, value] of keys) r.string(childPath(path, name), value);
  r.issues.add({
    severity: 'warning',
    code: 'not-on-linux',
    keyPath: path,
    what: 'Disabled as a {MachineType, ModelName} dict matches Mac hardware; Launchfleet treats the job as enabled',
    launchd: 'warns',
    because: 'launchd disables the job only on matching hardware',
  });
  return false;
}

/** inetdCompatibility: {Wait: bool}, Wait defaulting to false. */
export function readInetd(r: ValueReader, path: string, v: PlistValue): { wait: boolean } | undefined {
  const dict = r.dict(path, v, 'dict {Wait: bool}');
  if (dict === undefined) return undefined;
  const keys = r.subKeys(path, dict, ['Wait']);
  const wait = keys.get('Wait');
  return { wait: wait === undefined ? false : (r.bool(childPath(path, 'Wait'), wait) ?? false) };
}

/** MachServices: name -> true, or a dict of options. Names are kept; a false entry declares nothing. */
export function readMachServices(r: ValueReader, path: string, v: PlistValue): string[] {
  const dict = r.dict(path, v, 'dict of name to bool or dict');
  if (dict === undefined) return [];
  const out: string[] = [];
  for (const [name, value] of Object.entries(dict)) {
    if (value === true || isDict(value)) out.push(name);
    else if (value !== false)
      r.issues.wrongType(childPath(path, name), value, 'bool or dict', 'ignores-value');
  }
  return out;
}

/** LaunchEvents: stream -> (event name -> descriptor dict). Returns the stream names. */
export function readLaunchEvents(r: ValueReader, path: string, v: PlistValue): string[] {
  const dict = r.dict(path, v, 'dict of stream to dict of event descriptors');
  if (dict === undefined) return [];
  const out: string[] = [];
  for (const [stream, events] of Object.entries(dict)) {
    const at = childPath(path, stream);
    const eventDict = r.dict(at, events, 'dict of event name to descriptor dict');
    if (eventDict === undefined) continue;
    out.push(stream);
    for (const [name, descriptor] of Object.entries(eventDict)) {
      r.dict(childPath(at, name), descriptor, 'dict (event descriptor)');
    }
  }
  return out;
}
