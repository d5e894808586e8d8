/**
 * From a parsed plist dictionary to the typed JobSpec the supervisor runs, with every problem
 * reported as a ValidationIssue. Validation and normalisation are one pass, so what is reported
 * and what is run cannot drift apart: `validateJob` is this function's issue list.
 *
 * Rules (docs/launchd-semantics.md §1): keys match case-insensitively; a value of the wrong type is ignored
 * with a warning unless launchd refuses the job for it (Label, Program, ProgramArguments); unknown keys
 * are warnings and stay in `raw`. `spec` is undefined exactly when there is an error.
 */
import type { ValidationIssue } from './issue.ts';
import type {
  CalendarInterval,
  JobSpec,
  KeepAliveSpec,
  PlistDict,
  PlistValue,
  ProcessType,
  ResourceLimitName,
  SessionType,
  SocketGroup,
} from './job-spec.ts';
import { badValueReaction, lookupKey, suggestKey, type KeySpec } from './key-table.ts';
import { readCalendar } from './read-calendar.ts';
import { hasKeepAliveCondition, noKeepAlive, readKeepAlive } from './read-keep-alive.ts';
import {
  readDisabled,
  readEnvironment,
  readHardware,
  readInetd,
  readLaunchEvents,
  readMachServices,
  readProcessType,
  readResourceLimits,
  readSessionTypes,
  readUmask,
} from './read-keys.ts';
import { readSockets } from './read-sockets.ts';
import { checkLabel, checkProgram } from './read-program.ts';
import { isDict, ValueReader, type JobContext } from './value-reader.ts';

export type { JobContext } from './value-reader.ts';

/** The outcome of normalisation: `spec` is present iff no issue is an error. */
export interface NormalizeResult {
  readonly spec?: JobSpec;
  readonly issues: readonly ValidationIssue[];
}

/** Validates and normalises one job dictionary (the root of a job plist). */
/**
 * The value of a key the plist does not have: one shared empty map or array (never mutated:
 * specs are read-only), not new ones per job. An agent keeps every loaded spec; with 1,000 jobs
 * the three maps and nine arrays cost 0.9 MB (test/bench/RESULTS.md, "Where the memory goes").
 */
const NO_ENTRIES: ReadonlyMap<string, never> = new Map<string, never>();
const NONE: readonly never[] = Object.freeze([]);

export function normalizeJob(value: PlistValue, ctx: JobContext = {}): NormalizeResult {
  const r = new ValueReader(ctx);
  if (!isDict(value)) {
    r.issues.add({
      severity: 'error',
      code: 'not-a-dictionary',
      keyPath: '',
      value,
      expected: 'dict',
      what: 'the property list is not a dictionary',
      launchd: 'refuses',
    });
    return { issues: r.issues.items };
  }
  const keys = matchTopLevelKeys(r, value);
  const get = (name: string): PlistValue | undefined => keys.get(name);

  const label = checkLabel(r, get('Label'));
  const program = checkProgram(r, get('Program'), get('ProgramArguments'), get('BundleProgram'));

  const bools = new Map<string, boolean>();
  const strings = new Map<string, string>();
  const stringArrays = new Map<string, string[]>();
  let keepAlive: KeepAliveSpec | undefined;
  let onDemand: boolean | undefined;
  let calendar: readonly CalendarInterval[] = NONE;
  let sockets: readonly SocketGroup[] = NONE;
  let environment: ReadonlyMap<string, string> = NO_ENTRIES;
  let soft: Partial<Record<ResourceLimitName, number>> = {};
  let hard: Partial<Record<ResourceLimitName, number>> = {};
  let sessionTypes: readonly SessionType[] = NONE;
  let toHardware: ReadonlyMap<string, readonly string[]> = NO_ENTRIES;
  let fromHardware: ReadonlyMap<string, readonly string[]> = NO_ENTRIES;
  let machServices: readonly string[] = NONE;
  let launchEvents: readonly string[] = NONE;
  let inetd: { wait: boolean } | undefined;
  let disabled = false;
  let processType: ProcessType | undefined;
  let umask: number | undefined;
  let nice: number | undefined;
  let startInterval: number | undefined;
  let throttleInterval: number | undefined;
  let exitTimeOut: number | undefined;

  for (const [name, v] of keys) {
    const spec = lookupKey(name);
    if (spec === undefined) continue;
    // The table says how launchd treats a bad value of the simple keys; custom keys decide per case.
    const reaction = badValueReaction(spec);
    switch (spec.kind) {
      case 'bool': {
        const b = r.bool(name, v, reaction);
        if (b !== undefined) bools.set(name, b);
        continue;
      }
      case 'string': {
        const s = r.string(name, v, reaction, spec.type);
        if (s !== undefined) strings.set(name, s);
        continue;
      }
      case 'integer':
        r.integer(name, v, reaction, spec.type);
        continue;
      case 'string-array': {
        const a = r.stringArray(name, v, reaction);
        if (a !== undefined) stringArrays.set(name, a);
        continue;
      }
      case 'custom':
        break;
    }
    switch (name) {
      case 'Disabled':
        disabled = readDisabled(r, name, v);
        break;
      case 'AssociatedBundleIdentifiers':
        r.stringOrArray(name, v);
        break;
      case 'Umask':
        umask = readUmask(r, name, v);
        break;
      case 'Nice':
        nice = r.integerIn(name, v, -20, 20);
        break;
      case 'SoftResourceLimits':
        soft = readResourceLimits(r, name, v);
        break;
      case 'HardResourceLimits':
        hard = readResourceLimits(r, name, v);
        break;
      case 'ProcessType':
        processType = readProcessType(r, name, v);
        break;
      case 'EnvironmentVariables':
        environment = readEnvironment(r, name, v);
        break;
      case 'KeepAlive':
        keepAlive = readKeepAlive(r, name, v);
        break;
      case 'OnDemand':
        onDemand = r.bool(name, v);
        break;
      case 'StartInterval': {
        const n = r.integer(name, v, 'ignores-value', 'integer > 0');
        if (n !== undefined && n <= 0) r.issues.outOfRange(name, n, 'integer > 0', 'ignores-value');
        else startInterval = n;
        break;
      }
      case 'StartCalendarInterval':
        calendar = readCalendar(r, name, v);
        break;
      case 'ThrottleInterval':
        throttleInterval = readSeconds(r, name, v, 'throttle-zero');
        break;
      case 'ExitTimeOut':
        exitTimeOut = readSeconds(r, name, v, 'infinite-exit-timeout');
        break;
      case 'LimitLoadToSessionType':
        sessionTypes = readSessionTypes(r, name, v);
        break;
      case 'LimitLoadToHardware':
        toHardware = readHardware(r, name, v);
        break;
      case 'LimitLoadFromHardware':
        fromHardware = readHardware(r, name, v);
        break;
      case 'Sockets':
        sockets = readSockets(r, name, v);
        break;
      case 'inetdCompatibility':
        inetd = readInetd(r, name, v);
        break;
      case 'MachServices':
        machServices = readMachServices(r, name, v);
        break;
      case 'LaunchEvents':
        launchEvents = readLaunchEvents(r, name, v);
        break;
      default:
        break; // Label, Program, ProgramArguments, BundleProgram: read above
    }
  }

  // OnDemand=false is KeepAlive=true (docs/launchd-semantics.md §1.3); KeepAlive wins when both are given.
  if (onDemand !== undefined && keys.has('KeepAlive')) {
    r.issues.add({
      severity: 'warning',
      code: 'meaningless-combination',
      keyPath: 'OnDemand',
      what: 'OnDemand and KeepAlive are both set; Launchfleet follows KeepAlive',
      launchd: 'warns',
      because: 'launchd applies whichever it reads last and loads the job',
    });
  }
  const effectiveKeepAlive =
    keepAlive ?? (onDemand === false ? { ...noKeepAlive, always: true } : noKeepAlive);
  checkCombinations(r, keys, effectiveKeepAlive, bools, strings);
  checkFileName(r, label);

  const issues = r.issues.items;
  if (issues.some((i) => i.severity === 'error') || label === undefined || program === undefined)
    return { issues };

  const spec: JobSpec = {
    label,
    program: program.program,
    programIsExplicit: program.programIsExplicit,
    programArguments: program.programArguments,
    enableGlobbing: bools.get('EnableGlobbing') ?? false,
    ...optional(
      'userName',
      r.ctx.domain === 'gui' || r.ctx.domain === 'user' ? undefined : strings.get('UserName'),
    ),
    ...optional('groupName', strings.get('GroupName')),
    initGroups: bools.get('InitGroups') ?? true,
    ...optional('rootDirectory', strings.get('RootDirectory')),
    ...optional('workingDirectory', strings.get('WorkingDirectory')),
    ...optional('umask', umask),
    ...optional('nice', nice),
    sessionCreate: bools.get('SessionCreate') ?? false,
    softResourceLimits: soft,
    hardResourceLimits: hard,
    ...optional('processType', processType),
    lowPriorityIO: bools.get('LowPriorityIO') ?? false,
    lowPriorityBackgroundIO: bools.get('LowPriorityBackgroundIO') ?? false,
    environmentVariables: environment,
    ...optional('standardInPath', strings.get('StandardInPath')),
    ...optional('standardOutPath', strings.get('StandardOutPath')),
    ...optional('standardErrorPath', strings.get('StandardErrorPath')),
    runAtLoad: bools.get('RunAtLoad') ?? false,
    keepAlive: effectiveKeepAlive,
    disabled: keys.has('Disabled') ? disabled : false,
    launchOnlyOnce: bools.get('LaunchOnlyOnce') ?? false,
    ...optional('startInterval', startInterval),
    startCalendarInterval: calendar,
    watchPaths: stringArrays.get('WatchPaths') ?? NONE,
    queueDirectories: stringArrays.get('QueueDirectories') ?? NONE,
    startOnMount: bools.get('StartOnMount') ?? false,
    ...optional('throttleInterval', throttleInterval),
    ...optional('exitTimeOut', exitTimeOut),
    // inetdCompatibility forces AbandonProcessGroup (docs/launchd-semantics.md §1.8, core.c:2926-2933).
    abandonProcessGroup: inetd !== undefined ? true : (bools.get('AbandonProcessGroup') ?? false),
    enableTransactions: bools.get('EnableTransactions') ?? false,
    enablePressuredExit: bools.get('EnablePressuredExit') ?? false,
    waitForDebugger: bools.get('WaitForDebugger') ?? false,
    debug: bools.get('Debug') ?? false,
    limitLoadToSessionType: sessionTypes,
    limitLoadToHosts: stringArrays.get('LimitLoadToHosts') ?? NONE,
    limitLoadFromHosts: stringArrays.get('LimitLoadFromHosts') ?? NONE,
    limitLoadToHardware: toHardware,
    limitLoadFromHardware: fromHardware,
    sockets,
    ...optional('inetdCompatibility', inetd),
    machServices,
    launchEventStreams: launchEvents,
    raw: value,
  };
  return { spec, issues };
}

/** `{ key: value }` when the value is defined, `{}` otherwise, so absent optional fields stay absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/** ThrottleInterval / ExitTimeOut: integer seconds >= 0; negative values are ignored; 0 is special. */
function readSeconds(
  r: ValueReader,
  name: string,
  v: PlistValue,
  zeroCode: 'throttle-zero' | 'infinite-exit-timeout',
): number | undefined {
  const n = r.integer(name, v, 'ignores-value', 'integer >= 0 (seconds)');
  if (n === undefined) return undefined;
  if (n < 0) {
    r.issues.outOfRange(name, n, 'integer >= 0 (seconds)', 'ignores-value');
    return undefined;
  }
  if (n === 0) {
    r.issues.add(
      zeroCode === 'throttle-zero'
        ? {
            severity: 'warning',
            code: zeroCode,
            keyPath: name,
            value: 0,
            what: 'ThrottleInterval 0: launchd 842 honours it (no throttle), modern launchd ignores it ("You\'re not that important")',
            launchd: 'warns',
            because:
              'launchd loads the job; Launchfleet keeps 0 and the supervisor decides (docs/launchd-semantics.md §7 D2)',
          }
        : {
            severity: 'warning',
            code: zeroCode,
            keyPath: name,
            value: 0,
            what: 'ExitTimeOut 0 means "wait forever" after SIGTERM: the job is never SIGKILLed and can stall shutdown',
            launchd: 'warns',
          },
    );
  }
  return n;
}

/** Matches top-level keys to launchd's, reporting unknown, deprecated, miscased and repeated keys. */
function matchTopLevelKeys(r: ValueReader, dict: PlistDict): Map<string, PlistValue> {
  const out = new Map<string, PlistValue>();
  for (const [key, value] of Object.entries(dict)) {
    const spec = lookupKey(key);
    if (spec === undefined) {
      const suggestion = suggestKey(key);
      r.issues.add({
        severity: 'warning',
        code: 'unknown-key',
        keyPath: key,
        value,
        what: `"${key}" is not a launchd.plist(5) key${suggestion ? ` (did you mean ${suggestion}?)` : ''}; kept as written`,
        launchd: 'ignores-key',
      });
      continue;
    }
    if (spec.name !== key) {
      r.issues.add({
        severity: 'warning',
        code: 'key-case',
        keyPath: spec.name,
        what: `key spelled "${key}", launchd's spelling is "${spec.name}"`,
        launchd: 'warns',
        because: 'launchd matches keys case-insensitively and loads the job',
      });
    }
    if (out.has(spec.name)) {
      r.issues.add({
        severity: 'warning',
        code: 'duplicate-key',
        keyPath: spec.name,
        what: `"${key}" repeats ${spec.name} in another case; Launchfleet uses the first`,
        launchd: 'warns',
        because: 'launchd keeps one of them and loads the job',
      });
      continue;
    }
    out.set(spec.name, value);
    reportKeyStatus(r, spec);
  }
  return out;
}

function reportKeyStatus(r: ValueReader, spec: KeySpec): void {
  if (spec.deprecated !== undefined) {
    r.issues.add({
      severity: 'warning',
      code: 'deprecated-key',
      keyPath: spec.name,
      what: `${spec.name} is deprecated: ${spec.deprecated}${spec.mapsTo !== undefined ? `; Launchfleet maps it onto ${spec.mapsTo}` : ''}`,
      launchd: spec.name === 'OnDemand' ? 'warns' : 'ignores-key',
      ...(spec.name === 'OnDemand' ? { because: 'launchd still honours it and loads the job' } : {}),
    });
  }
  if (spec.notOnLinux !== undefined) {
    r.issues.add({
      severity: 'warning',
      code: 'not-on-linux',
      keyPath: spec.name,
      what: `${spec.name} has no effect under Launchfleet: ${spec.notOnLinux}`,
      launchd: 'warns',
    });
  }
}

/**
 * Combinations that are legal but do not do what they seem to (docs/launchd-semantics.md §1.2-§1.4,
 * behaviours 13 and 41).
 */
function checkCombinations(
  r: ValueReader,
  keys: Map<string, PlistValue>,
  keepAlive: KeepAliveSpec,
  bools: Map<string, boolean>,
  strings: Map<string, string>,
): void {
  const note = (keyPath: string, what: string, launchd: 'warns' | 'ignores-key' = 'warns'): void =>
    r.issues.add({ severity: 'warning', code: 'meaningless-combination', keyPath, what, launchd });
  const domain = r.ctx.domain;
  if (strings.has('UserName') && (domain === 'gui' || domain === 'user')) {
    r.issues.add({
      severity: 'warning',
      code: 'ignored-in-domain',
      keyPath: 'UserName',
      what: "UserName is ignored for agents: they run as the domain's user",
      launchd: 'ignores-key',
    });
  }
  if (keys.has('InitGroups') && !strings.has('UserName')) {
    note('InitGroups', 'InitGroups is ignored when UserName is not set', 'ignores-key');
  }
  if (bools.get('LaunchOnlyOnce') === true && hasKeepAliveCondition(keepAlive)) {
    note(
      'LaunchOnlyOnce',
      'LaunchOnlyOnce with KeepAlive: the job runs once and is then removed, never kept alive',
    );
  }
  if (bools.get('EnablePressuredExit') === true && keepAlive.always) {
    note('EnablePressuredExit', 'EnablePressuredExit is not honoured when KeepAlive is true');
  }
  if (keys.has('inetdCompatibility') && !keys.has('Sockets')) {
    note('inetdCompatibility', 'inetdCompatibility without Sockets: there is no socket to hand to the job');
  }
  if (keepAlive.afterInitialDemand && (bools.get('RunAtLoad') === true || keys.has('StartInterval'))) {
    note(
      'KeepAlive.AfterInitialDemand',
      'AfterInitialDemand holds the job until its first real demand: RunAtLoad and StartInterval do not start it before that (behaviour 13)',
    );
  }
}

/** launchd.plist(5): the file should be named `<Label>.plist`. */
function checkFileName(r: ValueReader, label: string | undefined): void {
  const fileName = r.ctx.fileName;
  if (fileName === undefined || label === undefined) return;
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  if (base === `${label}.plist`) return;
  r.issues.add({
    severity: 'warning',
    code: 'file-name-mismatch',
    keyPath: 'Label',
    value: base,
    expected: `${label}.plist`,
    what: `the file is named "${base}", launchd.plist(5) expects "${label}.plist"`,
    launchd: 'warns',
  });
}
