/**
 * The normalised launchd job: what the plist model produces from a property list and what the
 * supervisor consumes. One typed record per job; keys are launchd's own names
 * (docs/launchd-semantics.md §1), already matched case-insensitively, type-checked, defaulted
 * and with ignored values removed (each removal is a warning in the validation report).
 *
 * Invariants (guaranteed by `normalizeJob`, relied on by the supervisor):
 * - `label` is non-empty, has no control characters, no `/` and no reserved prefix.
 * - `programArguments` is non-empty; `program` is `programArguments[0]` when Program is absent.
 *   `program` is absolute when the plist set Program; when it came from ProgramArguments[0] it
 *   may be relative and is resolved at spawn time (§1.1, §7 D16).
 * - Every duration is in whole seconds, as launchd counts them.
 * - `raw` is the plist dictionary exactly as parsed (every key, known or not, with its original
 *   spelling), so a round trip back to XML loses nothing.
 */

/** A plist value as parsed: the property-list data model. `Date` and `Uint8Array` are <date> and <data>. */
export type PlistValue =
  string | number | bigint | boolean | Date | Uint8Array | PlistValue[] | { [key: string]: PlistValue };

/** A plist dictionary. */
export type PlistDict = { [key: string]: PlistValue };

/** The kind of domain a job is loaded into (§3). */
export type DomainKind = 'system' | 'gui' | 'user';

/** launchd's session types for agents (§1.7, §7 D13). */
export type SessionType = 'Aqua' | 'Background' | 'LoginWindow' | 'StandardIO' | 'System';

/** One StartCalendarInterval entry. `undefined` is a wildcard. Month is 1-12; Weekday 0-6 (7 folded to 0). */
export interface CalendarInterval {
  readonly minute?: number;
  readonly hour?: number;
  readonly day?: number;
  readonly weekday?: number;
  readonly month?: number;
}

/** The KeepAlive conditions (§1.4). A bool KeepAlive=true is `{ always: true }`. */
export interface KeepAliveSpec {
  /** KeepAlive=true (or OnDemand=false): restart after every exit. */
  readonly always: boolean;
  /** SuccessfulExit: restart while the last exit was (true) or was not (false) a clean exit 0. */
  readonly successfulExit?: boolean;
  /** Crashed: restart while the last exit was (true) or was not (false) a crash signal. */
  readonly crashed?: boolean;
  /** PathState: path -> keep alive while it exists (true) or does not (false). */
  readonly pathState: ReadonlyMap<string, boolean>;
  /** OtherJobEnabled: label -> keep alive while that job is loaded (true) or not (false). */
  readonly otherJobEnabled: ReadonlyMap<string, boolean>;
  /** OtherJobActive (undocumented, 842 source): label -> while that job has (true) or has no (false) process. */
  readonly otherJobActive: ReadonlyMap<string, boolean>;
  /** NetworkState: keep alive while the network is up (true) or down (false). Modern launchd ignores it. */
  readonly networkState?: boolean;
  /** AfterInitialDemand: hold the job until its first genuine demand (§1.4, §7 D12). */
  readonly afterInitialDemand: boolean;
}

export type SocketType = 'stream' | 'dgram' | 'seqpacket';
export type SocketFamily = 'IPv4' | 'IPv6' | 'IPv4v6' | 'Unix' | 'unspecified';

/** One socket dictionary inside a Sockets group (§1.8). */
export interface SocketSpec {
  readonly type: SocketType;
  /** SockPassive (default true): bind+listen. false: connect. */
  readonly passive: boolean;
  readonly nodeName?: string;
  /** SockServiceName: a port number or a service name from /etc/services. */
  readonly serviceName?: string;
  readonly family: SocketFamily;
  readonly protocol?: 'TCP' | 'UDP';
  /** SockPathName: implies a Unix socket. */
  readonly pathName?: string;
  /** SockPathMode, already converted from the decimal plist integer. */
  readonly pathMode?: number;
  readonly pathOwner?: number;
  readonly pathGroup?: number;
  /** SecureSocketWithKey: environment variable that receives a generated socket path. */
  readonly secureSocketWithKey?: string;
  readonly bonjour?: boolean | string | readonly string[];
  readonly multicastGroup?: string;
}

/** A named socket group: all its sockets are handed to the job under the group's name. */
export interface SocketGroup {
  readonly name: string;
  readonly sockets: readonly SocketSpec[];
}

/** The resource-limit names of Soft/HardResourceLimits (§1.2). */
export type ResourceLimitName =
  | 'Core'
  | 'CPU'
  | 'Data'
  | 'FileSize'
  | 'MemoryLock'
  | 'NumberOfFiles'
  | 'NumberOfProcesses'
  | 'ResidentSetSize'
  | 'Stack';

export type ProcessType = 'Background' | 'Standard' | 'Adaptive' | 'Interactive';

/** The normalised job. See the invariants at the top of this file. */
export interface JobSpec {
  readonly label: string;

  // What to execute (§1.1)
  /** Program, or ProgramArguments[0] when Program is absent. */
  readonly program: string;
  /** True when `program` came from the Program key (no PATH search). */
  readonly programIsExplicit: boolean;
  /** argv, including argv[0]. */
  readonly programArguments: readonly string[];
  readonly enableGlobbing: boolean;

  // Credentials and process context (§1.2)
  readonly userName?: string;
  readonly groupName?: string;
  /** InitGroups (default true): keep the user's supplementary groups. */
  readonly initGroups: boolean;
  readonly rootDirectory?: string;
  readonly workingDirectory?: string;
  /** Umask as a number (decimal in the plist, or an octal string with a leading 0). */
  readonly umask?: number;
  /** Nice, -20..20; out-of-range values were dropped with a warning. */
  readonly nice?: number;
  readonly sessionCreate: boolean;
  readonly softResourceLimits: Readonly<Partial<Record<ResourceLimitName, number>>>;
  readonly hardResourceLimits: Readonly<Partial<Record<ResourceLimitName, number>>>;
  readonly processType?: ProcessType;
  readonly lowPriorityIO: boolean;
  readonly lowPriorityBackgroundIO: boolean;
  /** EnvironmentVariables with non-string values dropped (§1.2, behaviour 42). */
  readonly environmentVariables: ReadonlyMap<string, string>;

  // Standard I/O (§1.6)
  readonly standardInPath?: string;
  readonly standardOutPath?: string;
  readonly standardErrorPath?: string;

  // Lifecycle, demand and timing (§1.3, §1.4)
  readonly runAtLoad: boolean;
  readonly keepAlive: KeepAliveSpec;
  /** Disabled as written in the plist (the override database wins, §2.6). */
  readonly disabled: boolean;
  readonly launchOnlyOnce: boolean;
  /** StartInterval in seconds (> 0), if set. */
  readonly startInterval?: number;
  /** Valid StartCalendarInterval entries (invalid dicts were skipped with a warning). */
  readonly startCalendarInterval: readonly CalendarInterval[];
  readonly watchPaths: readonly string[];
  readonly queueDirectories: readonly string[];
  readonly startOnMount: boolean;
  /** ThrottleInterval in seconds; undefined means the supervisor's default (10). */
  readonly throttleInterval?: number;
  /** ExitTimeOut in seconds; 0 = wait forever; undefined means the supervisor's default (§7 D1). */
  readonly exitTimeOut?: number;
  readonly abandonProcessGroup: boolean;
  readonly enableTransactions: boolean;
  readonly enablePressuredExit: boolean;
  readonly waitForDebugger: boolean;
  readonly debug: boolean;

  // Load filters (§1.7)
  /** LimitLoadToSessionType; empty means "not given" (agents then default to Aqua). */
  readonly limitLoadToSessionType: readonly SessionType[];
  readonly limitLoadToHosts: readonly string[];
  readonly limitLoadFromHosts: readonly string[];
  readonly limitLoadToHardware: ReadonlyMap<string, readonly string[]>;
  readonly limitLoadFromHardware: ReadonlyMap<string, readonly string[]>;

  // IPC endpoints (§1.8)
  readonly sockets: readonly SocketGroup[];
  /** inetdCompatibility; undefined when absent. Presence forces abandonProcessGroup and no throttle. */
  readonly inetdCompatibility?: { readonly wait: boolean };
  /** MachServices names (accepted and reported; no Mach on Linux). */
  readonly machServices: readonly string[];
  /** LaunchEvents stream names (accepted and reported). */
  readonly launchEventStreams: readonly string[];

  /** The dictionary exactly as parsed, for round trips and `print`. */
  readonly raw: PlistDict;
}
