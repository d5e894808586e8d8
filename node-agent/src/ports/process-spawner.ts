import type { ResourceLimitName } from '@launchfleet/shared/job';

/**
 * Port: starting and signalling job processes. The only code that calls it is the supervisor
 * runtime. Real adapters: node-agent/src/adapters/direct-spawner.ts (the default: the job's own
 * process set up in the native addon, then one exec), posix-spawner.ts and process-spawner.ts
 * (the lf-exec shim started with posix_spawn or child_process). The setup is one C
 * implementation (native/src/lf-setup.c) doing what xpcproxy does on macOS: credentials,
 * rlimits, umask, chroot, stdio paths, process group, then exec, in the order of
 * docs/launchd-semantics.md §2.3. Fake: a scriptable spawner for unit tests.
 */

/** Where a standard stream of the job comes from or goes to. */
export type StdioTarget =
  | { readonly kind: 'null' }
  /** A file opened by the shim after dropping privileges: stdin O_RDONLY; stdout/err O_WRONLY|O_CREAT|O_APPEND, 0666 & ~umask. */
  | { readonly kind: 'path'; readonly path: string }
  /** An fd the agent already holds (an accepted connection for inetd jobs, a listening socket for Wait=true). */
  | { readonly kind: 'fd'; readonly fd: number };

/** Everything needed to start one process, already resolved from the JobSpec by the runtime. */
export interface SpawnRequest {
  /** The job's label (for logs and the shim's error reports). */
  readonly label: string;
  /** Path to exec, or a bare name to search in the child's PATH when `searchPath`. */
  readonly program: string;
  /** argv including argv[0]. */
  readonly argv: readonly string[];
  /** posix_spawnp semantics: search PATH of `env` (after EnvironmentVariables, §7 D16). */
  readonly searchPath: boolean;
  /** Glob argv elements in the child after dropping privileges (GLOB_NOCHECK|GLOB_TILDE). */
  readonly enableGlobbing: boolean;
  /** The complete environment of the child. */
  readonly env: Readonly<Record<string, string>>;
  readonly workingDirectory?: string;
  readonly rootDirectory?: string;
  /** Credentials to drop to; undefined = stay as the agent's user. */
  readonly credentials?: {
    readonly uid: number;
    readonly gid: number;
    /** The user name for initgroups/setlogin; undefined when only a group was given. */
    readonly userName?: string;
    /** Call initgroups(userName, gid): keep supplementary groups. */
    readonly initGroups: boolean;
  };
  readonly umask?: number;
  readonly nice?: number;
  readonly softLimits: Readonly<Partial<Record<ResourceLimitName, number>>>;
  readonly hardLimits: Readonly<Partial<Record<ResourceLimitName, number>>>;
  /** LowPriorityIO: the idle I/O class where the OS has one. */
  readonly lowPriorityIO: boolean;
  readonly stdin: StdioTarget;
  readonly stdout: StdioTarget;
  readonly stderr: StdioTarget;
  /** Fds the agent holds that the child receives at 3, 4, ... in this order (socket activation). */
  readonly passFds: readonly number[];
  /** Set LISTEN_PID to the child's own pid (the systemd protocol) right before exec. */
  readonly setListenPid: boolean;
  /** WaitForDebugger: stop the child (SIGSTOP) right before exec. */
  readonly startSuspended: boolean;
  /**
   * With `setListenPid`: the LISTEN_FDNAMES entries, one per passed fd (systemd protocol; a
   * launchd socket group's name repeated for each of its fds). Names must not contain ':'.
   * LISTEN_FDS is always set to passFds.length with `setListenPid`.
   */
  readonly listenFdNames?: readonly string[];
}

/** A setup step that failed without stopping the spawn (842: chdir, rlimits, nice, 842-mode stdio). */
export interface SpawnWarning {
  /** The setup stage, e.g. 'cwd', 'rlimit', 'nice', 'stdout'. */
  readonly stage: string;
  /** errno name, e.g. 'ENOENT'. */
  readonly errno: string;
  readonly message: string;
}

/** Why a spawn did not produce a running program. Mirrors launchd's spawn failures (§2.3). */
export interface SpawnFailure {
  /** The setup stage that failed, e.g. 'exec', 'user', 'group', 'chroot', 'stdout', 'cwd'. */
  readonly stage: string;
  /** errno name, e.g. 'ENOENT', 'EACCES', 'ESRCH'. */
  readonly errno: string;
  /** The exit status launchd would record (842: the errno value; setup failures: 78 EX_CONFIG). */
  readonly exitStatus: number;
  readonly message: string;
}

/** How a process ended, from its wait status. Exactly one of `code` and `signal` is set. */
export interface ProcessExit {
  readonly pid: number;
  readonly code: number | null;
  /** Signal name ('SIGTERM', 'SIGSEGV'...): names, not numbers, because they differ between OSes. */
  readonly signal: NodeJS.Signals | null;
}

export type SpawnResult =
  | {
      readonly ok: true;
      readonly pid: number;
      /** Setup steps that failed but did not stop the job (e.g. a missing WorkingDirectory). */
      readonly warnings?: readonly SpawnWarning[];
    }
  | { readonly ok: false; readonly failure: SpawnFailure };

export interface ProcessSpawner {
  /**
   * Starts the process; resolves once it has exec'd the program (ok) or failed before exec
   * (not ok). `onExit` is called exactly once, after `ok`, when the process is reaped.
   */
  spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult>;
  /**
   * Optional: does what `spawn` does with `req` before a process would exist (its checks, the
   * setup it prepares) and drops the result: no process, no state, `req` untouched. Called at a
   * socket job's load so that V8 compiles that code before the job's first activation, where a
   * client waits for it (issue 19; test/bench/RESULTS.md, eleventh session).
   */
  warm?(req: SpawnRequest): void;
  /** kill(pid, sig). False if the process does not exist. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
  /** kill(-pgid, sig): the job's process group (pgid == the job's pid). */
  signalGroup(pgid: number, signal: NodeJS.Signals): boolean;
}
