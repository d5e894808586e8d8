/**
 * The messages of control.proto as TypeScript sees them through @grpc/proto-loader (camelCase
 * names, int64 as number, unset fields absent). Both the server and lfctl use these types; the
 * .proto file stays the one schema.
 */

/** A launchd error (docs/launchd-semantics.md §5.3): absent on success. */
export interface WireError {
  readonly code: number;
  readonly error: string;
  readonly message: string;
  readonly path?: string;
  readonly label?: string;
}

export interface Reply {
  readonly error?: WireError;
}

export interface ServiceRequest {
  readonly target: string;
}
export interface DomainRequest {
  readonly domain: string;
}
export interface BootstrapRequest {
  readonly domain: string;
  readonly paths?: readonly string[];
}
export interface BootstrapReply extends Reply {
  readonly loaded?: readonly string[];
  readonly failures?: readonly WireError[];
}
export interface BootoutRequest {
  readonly target: string;
  readonly paths?: readonly string[];
  readonly wait?: boolean;
}
export interface BootoutReply extends Reply {
  readonly failures?: readonly WireError[];
}
export interface KickstartRequest {
  readonly target: string;
  readonly kill?: boolean;
  readonly reportPid?: boolean;
}
export interface KickstartReply extends Reply {
  readonly pid?: number;
}
export interface KillRequest {
  readonly signal: string;
  readonly target: string;
}

export interface WireHistoryEntry {
  readonly atMs: number;
  readonly event: string;
  readonly detail: string;
  readonly from: string;
  readonly to: string;
}

export interface WireTimers {
  readonly throttleMs?: number;
  readonly exitTimeoutMs?: number;
  readonly killGraceMs?: number;
  readonly nextIntervalMs?: number;
  readonly nextCalendarMs?: number;
}

export interface WireSpawnFailure {
  readonly atMs: number;
  readonly stage: string;
  readonly errno: string;
  readonly exitStatus: number;
  readonly message: string;
}

export interface WireSocketInfo {
  readonly name: string;
  readonly endpoints?: readonly string[];
  readonly held?: readonly WireHeldSocket[];
}

/** A socket the agent holds now, with its state and activations (HeldSocket in control.proto). */
export interface WireHeldSocket {
  readonly endpoint: string;
  readonly state: string;
  /** uint64 on the wire: proto-loader gives it as a number or a string. */
  readonly activations: number | string;
}

/** inetd Wait=false instances (InetdStatus in control.proto). */
export interface WireInetdStatus {
  readonly wait: boolean;
  readonly instances: number;
  readonly maxInstances: number;
  readonly accepted: number | string;
}

/** One job's print fields (see ServiceStatus in control.proto). */
export interface ServiceStatus {
  readonly label: string;
  readonly domain: string;
  readonly path?: string;
  readonly type: string;
  readonly state: string;
  readonly subState: string;
  readonly active: string;
  /** How the last run ended (shared/src/job/job-state.ts JOB_RESULTS). */
  readonly result: string;
  /** Modern print's `job state =` line, worded from the typed state (printJobState). */
  readonly jobState: string;
  readonly pid?: number;
  readonly runs?: number;
  readonly forks?: number;
  readonly lastExitCode?: number;
  readonly lastTerminatingSignal?: string;
  readonly lastTerminatingSignalNumber?: number;
  readonly immediateReason?: string;
  readonly throttledUntilMs?: number;
  readonly minimumRuntime?: number;
  readonly exitTimeout?: number;
  readonly successiveCrashes?: number;
  readonly disabled?: boolean;
  readonly timers?: WireTimers;
  readonly watchPaths?: readonly string[];
  readonly queueDirectories?: readonly string[];
  readonly armed?: readonly string[];
  readonly program: string;
  readonly arguments?: readonly string[];
  readonly warnings?: readonly string[];
  readonly history?: readonly WireHistoryEntry[];
  readonly spawnFailure?: WireSpawnFailure;
  readonly properties?: readonly string[];
  readonly sockets?: readonly WireSocketInfo[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly stdoutPath?: string;
  readonly stderrPath?: string;
  readonly workingDirectory?: string;
  readonly username?: string;
  readonly crashLoopingSinceMs?: number;
  readonly crashLoopCount?: number;
  readonly onDemand?: boolean;
  readonly limitLoadToSessionType?: readonly string[];
  readonly inetd?: WireInetdStatus;
}

export interface PrintServiceReply extends Reply {
  readonly service?: ServiceStatus;
  /** Not loaded (113), but the fleet link is trying to load it again (`print <domain>` lists it too). */
  readonly retrying?: WireRetryingService;
}

export interface WireListRow {
  readonly pid: string;
  readonly status: string;
  readonly label: string;
}

export interface PrintDomainReply extends Reply {
  readonly domain?: string;
  readonly type?: string;
  readonly uid?: number;
  readonly username?: string;
  readonly activeCount?: number;
  readonly services?: readonly WireListRow[];
  readonly disabled?: Readonly<Record<string, boolean>>;
  readonly retrying?: readonly WireRetryingService[];
}

/** A controller job the fleet link's reconciler is trying again (`print <domain>`). */
export interface WireRetryingService {
  readonly label: string;
  readonly failures?: number;
  readonly why?: string;
  /** Wall ms of the next attempt; 0 or absent while it is being tried. */
  readonly nextAttemptAtMs?: number;
}

export interface PrintDisabledReply extends Reply {
  readonly domain?: string;
  readonly entries?: readonly { readonly label: string; readonly disabled?: boolean }[];
}

export interface BlameReply extends Reply {
  readonly running?: boolean;
  readonly reason?: string;
}

export interface ListRequest {
  readonly domain?: string;
  readonly label?: string;
}
export interface ListReply extends Reply {
  readonly domain?: string;
  readonly rows?: readonly WireListRow[];
  readonly service?: ServiceStatus;
}

export interface LoadRequest {
  readonly domain?: string;
  readonly paths?: readonly string[];
  readonly writeOverride?: boolean;
  readonly force?: boolean;
}
export interface LoadReply extends Reply {
  readonly domain?: string;
  readonly labels?: readonly string[];
  readonly failures?: readonly WireError[];
}

export interface LegacyLabelRequest {
  readonly domain?: string;
  readonly label: string;
}

export type VersionRequest = Record<string, never>;
export interface VersionReply {
  readonly version: string;
  readonly agentUid?: number;
  readonly pid?: number;
  readonly scope?: string;
}

/** Every RPC: its request and reply types (the method names of ControlService). */
export interface ControlMethods {
  Bootstrap: [BootstrapRequest, BootstrapReply];
  Bootout: [BootoutRequest, BootoutReply];
  Enable: [ServiceRequest, Reply];
  Disable: [ServiceRequest, Reply];
  Kickstart: [KickstartRequest, KickstartReply];
  Kill: [KillRequest, Reply];
  PrintService: [ServiceRequest, PrintServiceReply];
  PrintDomain: [DomainRequest, PrintDomainReply];
  PrintDisabled: [DomainRequest, PrintDisabledReply];
  Blame: [ServiceRequest, BlameReply];
  List: [ListRequest, ListReply];
  Load: [LoadRequest, LoadReply];
  Unload: [LoadRequest, LoadReply];
  Start: [LegacyLabelRequest, Reply];
  Stop: [LegacyLabelRequest, Reply];
  Version: [VersionRequest, VersionReply];
}

export type ControlMethod = keyof ControlMethods;

/**
 * Verbs that only read: allowed on the system domain to anyone (docs/launchd-semantics.md §3.1 "Anyone may
 * read").
 */
export const READ_ONLY_METHODS: ReadonlySet<ControlMethod> = new Set([
  'PrintService',
  'PrintDomain',
  'PrintDisabled',
  'Blame',
  'List',
  'Version',
]);
