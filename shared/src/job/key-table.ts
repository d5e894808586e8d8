/**
 * Every key of launchd.plist(5) that docs/launchd-semantics.md §1 lists, with its type and what launchd does
 * with a value of the wrong type. The table drives key matching (case-insensitive, like launchd's
 * strcasecmp), unknown-key and deprecation warnings, and the generic type checks; keys whose
 * shape is richer than one type are read by their own functions (kind `custom`).
 */

/** How a key's value is read. `custom` keys have their own reader in normalize-*.ts. */
export type KeyKind = 'bool' | 'string' | 'integer' | 'string-array' | 'custom';

/** One launchd key. */
export interface KeySpec {
  /** launchd's own spelling. */
  readonly name: string;
  readonly kind: KeyKind;
  /** The documented type, as messages print it. */
  readonly type: string;
  /** Its section of docs/launchd-semantics.md. */
  readonly section: string;
  /**
   * What launchd does when the value has the wrong type: `refuse` (the job is not loaded),
   * `ignore-value` (logged, job loads without it), `ignore-key` (no effect whatever the value).
   */
  readonly onBadValue: 'refuse' | 'ignore-value' | 'ignore-key';
  /** Set for keys that launchd no longer implements or that the man page says to remove. */
  readonly deprecated?: string;
  /** The key a deprecated key maps onto, when launchd still honours it through that key. */
  readonly mapsTo?: string;
  /** Set for keys with no meaning on Linux (accepted, reported). */
  readonly notOnLinux?: string;
}

const k = (
  name: string,
  kind: KeyKind,
  type: string,
  section: string,
  extra: Partial<Pick<KeySpec, 'onBadValue' | 'deprecated' | 'mapsTo' | 'notOnLinux'>> = {},
): KeySpec => ({ name, kind, type, section, onBadValue: extra.onBadValue ?? 'ignore-value', ...extra });

/** The launchd keys, in the order of docs/launchd-semantics.md §1. */
export const launchdKeys: readonly KeySpec[] = [
  // §1.1 Identity and what to execute
  k('Label', 'custom', 'string', '1.1', { onBadValue: 'refuse' }),
  k('Disabled', 'custom', 'bool or dict {MachineType, ModelName}', '1.1'),
  k('Program', 'custom', 'string (absolute path)', '1.1'),
  k('ProgramArguments', 'custom', 'array of strings', '1.1', { onBadValue: 'refuse' }),
  k('BundleProgram', 'custom', 'string', '1.1', {
    notOnLinux: 'BundleProgram is only for plists installed with SMAppService inside an app bundle',
  }),
  k('EnableGlobbing', 'bool', 'bool', '1.1'),
  k('AssociatedBundleIdentifiers', 'custom', 'string or array of strings', '1.1'),
  // §1.2 Credentials and process context
  k('UserName', 'string', 'string', '1.2'),
  k('GroupName', 'string', 'string', '1.2'),
  k('InitGroups', 'bool', 'bool', '1.2'),
  k('RootDirectory', 'string', 'string', '1.2'),
  k('WorkingDirectory', 'string', 'string', '1.2'),
  k('Umask', 'custom', 'integer (decimal) or string (octal with a leading 0)', '1.2'),
  k('Nice', 'custom', 'integer -20..20', '1.2'),
  k('SessionCreate', 'bool', 'bool', '1.2'),
  k('SoftResourceLimits', 'custom', 'dict of resource name to integer', '1.2'),
  k('HardResourceLimits', 'custom', 'dict of resource name to integer', '1.2'),
  k('ProcessType', 'custom', 'string (Background, Standard, Adaptive or Interactive)', '1.2'),
  k('LowPriorityIO', 'bool', 'bool', '1.2'),
  k('LowPriorityBackgroundIO', 'bool', 'bool', '1.2'),
  k('MaterializeDatalessFiles', 'bool', 'bool', '1.2', { notOnLinux: 'dataless files are an APFS feature' }),
  k('EnvironmentVariables', 'custom', 'dict of string to string', '1.2'),
  // §1.3 Lifecycle, demand and timing
  k('RunAtLoad', 'bool', 'bool', '1.3'),
  k('KeepAlive', 'custom', 'bool or dict', '1.4'),
  k('OnDemand', 'custom', 'bool', '1.3', {
    deprecated: 'use KeepAlive (OnDemand=false is KeepAlive=true)',
    mapsTo: 'KeepAlive',
  }),
  k('StartInterval', 'custom', 'integer > 0 (seconds)', '1.3'),
  k('StartCalendarInterval', 'custom', 'dict or array of dicts', '1.5'),
  k('WatchPaths', 'string-array', 'array of strings', '1.3'),
  k('QueueDirectories', 'string-array', 'array of strings', '1.3'),
  k('StartOnMount', 'bool', 'bool', '1.3'),
  k('LaunchOnlyOnce', 'bool', 'bool', '1.3'),
  k('ThrottleInterval', 'custom', 'integer >= 0 (seconds)', '1.3'),
  k('ExitTimeOut', 'custom', 'integer >= 0 (seconds)', '1.3'),
  k('TimeOut', 'integer', 'integer (seconds)', '1.3', {
    onBadValue: 'ignore-key',
    deprecated: 'launchd.plist(5): "never did anything interesting and is no longer implemented"',
  }),
  k('EnableTransactions', 'bool', 'bool', '1.3'),
  k('EnablePressuredExit', 'bool', 'bool', '1.3'),
  k('AbandonProcessGroup', 'bool', 'bool', '1.3'),
  k('LegacyTimers', 'bool', 'bool', '1.3', { notOnLinux: 'timer coalescing opt-out has no Linux meaning' }),
  k('Debug', 'bool', 'bool', '1.3'),
  k('WaitForDebugger', 'bool', 'bool', '1.3'),
  k('HopefullyExitsFirst', 'bool', 'bool', '1.3', {
    onBadValue: 'ignore-key',
    deprecated: 'launchd.plist(5): no longer implemented',
  }),
  k('HopefullyExitsLast', 'bool', 'bool', '1.3', {
    onBadValue: 'ignore-key',
    deprecated: 'launchd.plist(5): no longer implemented',
  }),
  k('ServiceIPC', 'bool', 'bool', '1.3', {
    onBadValue: 'ignore-key',
    deprecated: 'launchd.plist(5): "Please remove this key"',
  }),
  // §1.6 Standard I/O
  k('StandardInPath', 'string', 'string', '1.6'),
  k('StandardOutPath', 'string', 'string', '1.6'),
  k('StandardErrorPath', 'string', 'string', '1.6'),
  // §1.7 Load filters
  k('LimitLoadToHosts', 'string-array', 'array of strings', '1.7', {
    onBadValue: 'ignore-key',
    deprecated: 'launchd.plist(5): "This key is no longer supported"',
  }),
  k('LimitLoadFromHosts', 'string-array', 'array of strings', '1.7', {
    onBadValue: 'ignore-key',
    deprecated: 'launchd.plist(5): "This key is no longer supported"',
  }),
  k('LimitLoadToSessionType', 'custom', 'string or array of strings', '1.7'),
  k('LimitLoadToHardware', 'custom', 'dict of sysctl name to array of strings', '1.7'),
  k('LimitLoadFromHardware', 'custom', 'dict of sysctl name to array of strings', '1.7'),
  // §1.8 IPC endpoints
  k('Sockets', 'custom', 'dict of socket groups', '1.8'),
  k('inetdCompatibility', 'custom', 'dict {Wait: bool}', '1.8'),
  k('MachServices', 'custom', 'dict of name to bool or dict', '1.8'),
  k('LaunchEvents', 'custom', 'dict of stream to dict of event descriptors', '1.8'),
];

/** The ValidationIssue reaction for a bad value of this key. */
export function badValueReaction(spec: KeySpec): 'refuses' | 'ignores-value' | 'ignores-key' {
  switch (spec.onBadValue) {
    case 'refuse':
      return 'refuses';
    case 'ignore-value':
      return 'ignores-value';
    case 'ignore-key':
      return 'ignores-key';
  }
}

const byLowerName = new Map(launchdKeys.map((spec) => [spec.name.toLowerCase(), spec]));

/** Finds a key the way launchd does: case-insensitively. */
export function lookupKey(name: string): KeySpec | undefined {
  return byLowerName.get(name.toLowerCase());
}

/** The documented key closest to a misspelling (edit distance <= 2, case-insensitive), if any. */
export function suggestKey(
  name: string,
  candidates: readonly string[] = launchdKeys.map((s) => s.name),
): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return Math.min(prev[b.length] ?? limit, limit);
}
