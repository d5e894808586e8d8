import { getSystemErrorName } from 'node:util';
import type { ResourceLimitName } from '@launchfleet/shared/job';
import type { SpawnFailure, SpawnRequest, SpawnWarning, StdioTarget } from '../ports/process-spawner.ts';

/**
 * The agent's side of the lf-exec protocol (node-agent/native/src/lf-exec.c has the full
 * description): the request becomes shim options in argv, and the shim reports on a
 * close-on-exec status channel with TAB-separated lines `W stage errno message`,
 * `F stage errno exit message` and `S` (stopped for WaitForDebugger).
 */

/** What to do when StandardIn/Out/ErrorPath cannot be opened (docs/launchd-semantics.md §7 D11). */
export type StdioOpenFailurePolicy =
  /** Modern launchd: the job does not spawn; exit status 78 (EX_CONFIG). */
  | 'refuse'
  /** launchd 842: log a warning and exec with the inherited (/dev/null) stream. */
  | 'warn';

const rlimitNames: Readonly<Record<ResourceLimitName, string>> = {
  Core: 'core',
  CPU: 'cpu',
  Data: 'data',
  FileSize: 'fsize',
  MemoryLock: 'memlock',
  NumberOfFiles: 'nofile',
  NumberOfProcesses: 'nproc',
  ResidentSetSize: 'rss',
  Stack: 'stack',
};

/** The largest rlim_t value below RLIM_INFINITY on 64-bit systems; larger means unlimited. */
const rlimInfinity = 2n ** 63n - 1n;

function rlimitValue(v: number | undefined): string | undefined {
  if (v === undefined) return '-';
  if (v === Infinity) return 'inf';
  if (!Number.isInteger(v) || v < 0) return undefined;
  const big = BigInt(v);
  return big >= rlimInfinity ? 'inf' : big.toString();
}

/** The shim's options for a request, plus the request fields it had to ignore (as warnings). */
export function buildShimArgs(
  req: SpawnRequest,
  statusFd: number,
  stdioPolicy: StdioOpenFailurePolicy,
): { readonly args: string[]; readonly warnings: SpawnWarning[] } {
  const { args, warnings } = buildSetupArgs(req, stdioPolicy);
  return { args: [`--status-fd=${statusFd}`, ...args], warnings };
}

/**
 * The setup options without the status fd: what the addon's direct spawn takes (it makes its own
 * status pipe), the same syntax and the same setup code as the shim (native/src/lf-setup.c).
 */
export function buildSetupArgs(
  req: SpawnRequest,
  stdioPolicy: StdioOpenFailurePolicy,
): { readonly args: string[]; readonly warnings: SpawnWarning[] } {
  const args = [`--nfds=${req.passFds.length}`, `--stdio-failure=${stdioPolicy}`];
  const warnings: SpawnWarning[] = [];
  if (req.label !== '') args.push(`--label=${req.label}`);
  if (req.nice !== undefined) {
    // setpriority takes -20..20 (PRIO_MIN..PRIO_MAX); 842 ignores other values with a warning.
    if (Number.isInteger(req.nice) && req.nice >= -20 && req.nice <= 20) args.push(`--nice=${req.nice}`);
    else
      warnings.push({
        stage: 'nice',
        errno: 'EINVAL',
        message: `Nice ${req.nice} is outside -20..20; ignored`,
      });
  }
  const softKeys = Object.keys(req.softLimits);
  const hardKeys = Object.keys(req.hardLimits);
  const limitKeys = softKeys.length + hardKeys.length > 0 ? new Set([...softKeys, ...hardKeys]) : [];
  for (const key of limitKeys) {
    const name = rlimitNames[key as ResourceLimitName] as string | undefined;
    const soft = rlimitValue(req.softLimits[key as ResourceLimitName]);
    const hard = rlimitValue(req.hardLimits[key as ResourceLimitName]);
    if (name === undefined || soft === undefined || hard === undefined) {
      warnings.push({
        stage: 'rlimit',
        errno: 'EINVAL',
        message: `resource limit ${key} is not valid; ignored`,
      });
      continue;
    }
    args.push(`--rlimit=${name}:${soft}:${hard}`);
  }
  if (req.lowPriorityIO) args.push('--low-priority-io');
  if (req.rootDirectory !== undefined) args.push(`--root=${req.rootDirectory}`);
  const cred = req.credentials;
  if (cred) {
    args.push(`--uid=${cred.uid}`, `--gid=${cred.gid}`);
    if (cred.userName !== undefined) args.push(`--user=${cred.userName}`);
    if (!cred.initGroups) args.push('--no-initgroups');
  }
  if (req.workingDirectory !== undefined) args.push(`--cwd=${req.workingDirectory}`);
  if (req.umask !== undefined) args.push(`--umask=${(req.umask & 0o7777).toString(8)}`);
  if (req.stdin.kind === 'path') args.push(`--stdin=${req.stdin.path}`);
  if (req.stdout.kind === 'path') args.push(`--stdout=${req.stdout.path}`);
  if (req.stderr.kind === 'path') args.push(`--stderr=${req.stderr.path}`);
  if (req.searchPath) args.push('--search-path');
  if (req.enableGlobbing) args.push('--glob');
  if (req.setListenPid) {
    args.push('--listen-pid');
    if (req.listenFdNames !== undefined) args.push(`--listen-fdnames=${req.listenFdNames.join(':')}`);
  }
  if (req.startSuspended) args.push('--suspend');
  args.push('--', req.program, ...req.argv);
  return { args, warnings };
}

/** A problem with a request that makes it unspawnable, found before starting anything. */
export function checkRequest(req: SpawnRequest): SpawnFailure | undefined {
  // Runs before every spawn, on a socket activation's path between the wake-up and the fork: the
  // fields are checked where they are, without copying them into arrays first (issue 19).
  if (req.program === '') return badRequest('empty program');
  if (req.argv.length === 0) return badRequest('empty argv');
  const { stdin, stdout, stderr, credentials: cred } = req;
  if (
    hasNul(req.program) ||
    req.argv.some(hasNul) ||
    hasNul(req.workingDirectory) ||
    hasNul(req.rootDirectory) ||
    hasNul(req.label) ||
    hasNul(pathOf(stdin)) ||
    hasNul(pathOf(stdout)) ||
    hasNul(pathOf(stderr)) ||
    hasNul(cred?.userName)
  )
    return badRequest('a program, argument or path contains a NUL byte');
  const env = req.env;
  for (const k of Object.keys(env)) {
    const v = env[k] as string;
    if (k === '' || k.includes('=') || k.includes('\0') || v.includes('\0'))
      return badRequest(`invalid environment variable name or value: ${JSON.stringify(k)}`);
  }
  if (pathOf(stdin) === '' || pathOf(stdout) === '' || pathOf(stderr) === '')
    return badRequest('empty standard stream path');
  if (
    !req.passFds.every(isFd) ||
    (stdin.kind === 'fd' && !isFd(stdin.fd)) ||
    (stdout.kind === 'fd' && !isFd(stdout.fd)) ||
    (stderr.kind === 'fd' && !isFd(stderr.fd))
  )
    return badRequest('a file descriptor is not a non-negative integer');
  if (cred && [cred.uid, cred.gid].some((n) => !Number.isInteger(n) || n < 0 || n > 0xfffffffe))
    return badRequest('uid/gid out of range');
  if (req.listenFdNames?.some((n) => n.includes(':') || n.includes('\0')))
    return badRequest('a LISTEN_FDNAMES entry contains ":"');
  return undefined;
}

function badRequest(message: string): SpawnFailure {
  return { stage: 'request', errno: 'EINVAL', exitStatus: 78, message };
}

function hasNul(s: string | undefined): boolean {
  return s !== undefined && s.includes('\0');
}

function pathOf(t: StdioTarget): string | undefined {
  return t.kind === 'path' ? t.path : undefined;
}

function isFd(fd: number): boolean {
  return Number.isInteger(fd) && fd >= 0;
}

function errnoName(n: number): string {
  if (n === 0) return 'OK';
  try {
    return getSystemErrorName(-Math.abs(n));
  } catch {
    return `E${n}`;
  }
}

/** What the shim said on its status channel. */
export interface ShimReport {
  readonly warnings: SpawnWarning[];
  readonly failure?: SpawnFailure;
  /** It stopped itself before exec (WaitForDebugger). */
  readonly suspended: boolean;
}

/** Parses the complete or partial status text; unknown lines are ignored. */
export function parseShimStatus(text: string): ShimReport {
  // The direct spawn of a job that exec'd with nothing to say (every activation): no records.
  if (text === '') return { warnings: [], suspended: false };
  const warnings: SpawnWarning[] = [];
  let failure: SpawnFailure | undefined;
  let suspended = false;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'S' && f.length === 1) suspended = true;
    else if (f[0] === 'W' && f.length >= 4) {
      warnings.push({ stage: f[1] ?? '', errno: errnoName(Number(f[2])), message: f.slice(3).join(' ') });
    } else if (f[0] === 'F' && f.length >= 5 && failure === undefined) {
      const exitStatus = Number(f[3]);
      failure = {
        stage: f[1] ?? '',
        errno: errnoName(Number(f[2])),
        exitStatus: Number.isInteger(exitStatus) ? exitStatus : 78,
        message: f.slice(4).join(' '),
      };
    }
  }
  return failure ? { warnings, failure, suspended } : { warnings, suspended };
}
