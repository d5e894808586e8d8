/**
 * Builds normalised JobSpecs directly for tests, standing in for the plist model's
 * `normalizeJob`: defaults as launchd's (docs/launchd-semantics.md §1), overrides as given.
 */
import type { JobSpec, KeepAliveSpec } from '@launchfleet/shared/job';

/** KeepAlive overrides; maps may be given as plain records. */
export interface KeepAliveInput {
  readonly always?: boolean;
  readonly successfulExit?: boolean;
  readonly crashed?: boolean;
  readonly pathState?: Readonly<Record<string, boolean>>;
  readonly otherJobEnabled?: Readonly<Record<string, boolean>>;
  readonly otherJobActive?: Readonly<Record<string, boolean>>;
  readonly networkState?: boolean;
  readonly afterInitialDemand?: boolean;
}

export type JobSpecInput = Partial<Omit<JobSpec, 'keepAlive' | 'environmentVariables'>> & {
  /** `true` is KeepAlive=true. */
  readonly keepAlive?: boolean | KeepAliveInput;
  readonly environmentVariables?: Readonly<Record<string, string>>;
};

export function keepAliveSpec(input: boolean | KeepAliveInput = false): KeepAliveSpec {
  const ka: KeepAliveInput = typeof input === 'boolean' ? { always: input } : input;
  const base: KeepAliveSpec = {
    always: ka.always ?? false,
    pathState: new Map(Object.entries(ka.pathState ?? {})),
    otherJobEnabled: new Map(Object.entries(ka.otherJobEnabled ?? {})),
    otherJobActive: new Map(Object.entries(ka.otherJobActive ?? {})),
    afterInitialDemand: ka.afterInitialDemand ?? false,
  };
  return {
    ...base,
    ...(ka.successfulExit !== undefined ? { successfulExit: ka.successfulExit } : {}),
    ...(ka.crashed !== undefined ? { crashed: ka.crashed } : {}),
    ...(ka.networkState !== undefined ? { networkState: ka.networkState } : {}),
  };
}

/** A JobSpec with launchd's defaults; `program` defaults to /bin/true. */
export function jobSpec(label: string, input: JobSpecInput = {}): JobSpec {
  const { keepAlive, environmentVariables, ...rest } = input;
  const program = rest.program ?? rest.programArguments?.[0] ?? '/bin/true';
  return {
    label,
    program,
    programIsExplicit: rest.programIsExplicit ?? program.startsWith('/'),
    programArguments: rest.programArguments ?? [program],
    enableGlobbing: false,
    initGroups: true,
    sessionCreate: false,
    softResourceLimits: {},
    hardResourceLimits: {},
    lowPriorityIO: false,
    lowPriorityBackgroundIO: false,
    runAtLoad: false,
    disabled: false,
    launchOnlyOnce: false,
    startCalendarInterval: [],
    watchPaths: [],
    queueDirectories: [],
    startOnMount: false,
    abandonProcessGroup: false,
    enableTransactions: false,
    enablePressuredExit: false,
    waitForDebugger: false,
    debug: false,
    limitLoadToSessionType: [],
    limitLoadToHosts: [],
    limitLoadFromHosts: [],
    limitLoadToHardware: new Map(),
    limitLoadFromHardware: new Map(),
    sockets: [],
    machServices: [],
    launchEventStreams: [],
    raw: { Label: label },
    ...rest,
    keepAlive: keepAliveSpec(keepAlive),
    environmentVariables: new Map(Object.entries(environmentVariables ?? {})),
  };
}
