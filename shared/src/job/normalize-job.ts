/**
 * From a parsed plist dictionary to the typed JobSpec the supervisor runs, with every problem
 * reported as a ValidationIssue. Validation and normalisation are one pass, so what is reported
 * and what is run cannot drift apart: `validateJob` is this function's issue list.
 *
 * Rules (docs/launchd-semantics.md §1): keys match case-insensitively; a value of the wrong type is ignored
 * with a warning unless launchd refuses the job for it (Label, Program, ProgramArguments); unknown keys
 * are warnings and stay in `raw`. `spec` is undefined exactly when there is an error.
 *
 * The readers of each key's value are in read-*.ts; the checks that put nothing into the spec
 * (key names, misleading combinations, the file's name) are in key-checks.ts.
 */
import type { ValidationIssue } from './issue.ts';
import type {
  CalendarInterval,
  JobSpec,
  KeepAliveSpec,
  PlistValue,
  ProcessType,
  ResourceLimitName,
  SessionType,
  SocketGroup,
} from './job-spec.ts';
import { badValueReaction, lookupKey } from './key-table.ts';
import { checkCombinations, checkFileName, matchTopLevelKeys } from './key-checks.ts';
import { readCalendar } from './read-calendar.ts';
import { noKeepAlive, readKeepAlive } from './read-keep-alive.ts';
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
