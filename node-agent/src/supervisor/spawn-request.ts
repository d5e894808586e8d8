/**
 * Builds the SpawnRequest for one start of a job from its JobSpec and its domain (docs/launchd-semantics.md
 * §1.2, §2.3 "Child setup order" and "Environment"). Who does what: this module resolves
 * credentials through the UserDb and builds the complete environment (PATH default,
 * XPC_SERVICE_NAME, HOME/USER/LOGNAME/SHELL/TMPDIR unless set, then the domain's global
 * environment, then EnvironmentVariables last); the spawner's exec shim only applies them.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { SpawnFailure, SpawnRequest } from '../ports/process-spawner.ts';
import type { GroupRecord, KnownAnswer, UserDb, UserRecord } from '../ports/user-db.ts';
import type { MachineConfig } from './core/machine-config.ts';

/** The default PATH (_PATH_STDPATH), print's `default environment`. */
export const DEFAULT_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';

/** What the request builder needs to know about the domain the job runs in. */
export interface SpawnDomain {
  readonly kind: 'system' | 'gui' | 'user';
  /** The domain's user: 0 for system, the session user for gui/user domains. */
  readonly uid: number;
  /** The agent's own uid: credentials are only changed when it is root (launchd ignores UserName otherwise). */
  readonly agentUid: number;
  /** Per-domain global environment (launchctl setenv / config), applied before EnvironmentVariables. */
  readonly globalEnvironment?: Readonly<Record<string, string>>;
}

export type SpawnPlan =
  | { readonly ok: true; readonly req: SpawnRequest; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly failure: SpawnFailure };

/** Fds handed to the job at 3.. with their LISTEN_FDNAMES (socket activation). */
export interface SpawnExtras {
  readonly passFds?: readonly number[];
  readonly listenFdNames?: readonly string[];
}

/**
 * The request, built from the answers the account database has at hand (`UserDb.known*`, a cache
 * hit), or undefined when one it needs is not at hand (then use `buildSpawnRequest`). Same result
 * as `buildSpawnRequest`; the point is the turn: a job's start can fork in the turn of the event
 * loop that decided it, before the status work that step queued (job-spawn.ts).
 */
export function spawnRequestNow(
  spec: JobSpec,
  domain: SpawnDomain,
  users: UserDb,
  config: MachineConfig,
  extras: SpawnExtras = {},
): SpawnPlan | undefined {
  if (!users.knownUserByName || !users.knownUserById || !users.knownGroupByName) return undefined;
  return planWith(spec, domain, config, extras, {
    userByName: (name) => users.knownUserByName?.(name),
    userById: (uid) => users.knownUserById?.(uid),
    groupByName: (name) => users.knownGroupByName?.(name),
  });
}

export async function buildSpawnRequest(
  spec: JobSpec,
  domain: SpawnDomain,
  users: UserDb,
  config: MachineConfig,
  extras: SpawnExtras = {},
): Promise<SpawnPlan> {
  // The plan is built again after each answer, with the answers so far: the lookups are made
  // one at a time, in the order planWith asks for them (at most three).
  const answers = new Map<string, KnownAnswer<UserRecord | GroupRecord>>();
  for (;;) {
    const missing: { key?: string; lookup?: () => Promise<UserRecord | GroupRecord | undefined> } = {};
    const known = <T extends UserRecord | GroupRecord>(
      key: string,
      lookup: () => Promise<T | undefined>,
    ): KnownAnswer<T> | undefined => {
      const a = answers.get(key) as KnownAnswer<T> | undefined;
      if (a === undefined) Object.assign(missing, { key, lookup });
      return a;
    };
    const plan = planWith(spec, domain, config, extras, {
      userByName: (name) => known(`u:${name}`, () => users.userByName(name)),
      userById: (uid) => known(`i:${uid}`, () => users.userById(uid)),
      groupByName: (name) => known(`g:${name}`, () => users.groupByName(name)),
    });
    // planWith returns undefined only after asking for an answer it does not have.
    if (plan !== undefined || missing.key === undefined || missing.lookup === undefined)
      return plan ?? failedPlan(config, 'user', 'no account answer');
    answers.set(missing.key, { found: await missing.lookup() });
  }
}

function failedPlan(config: MachineConfig, stage: string, message: string): SpawnPlan {
  return {
    ok: false,
    failure: { stage, errno: 'ESRCH', exitStatus: config.credentialFailureStatus, message },
  };
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The account database's answers as planWith asks for them; undefined = not at hand. */
interface KnownAccounts {
  userByName(name: string): KnownAnswer<UserRecord> | undefined;
  userById(uid: number): KnownAnswer<UserRecord> | undefined;
  groupByName(name: string): KnownAnswer<GroupRecord> | undefined;
}

/** The plan from the answers; undefined as soon as one it needs is not at hand. */
function planWith(
  spec: JobSpec,
  domain: SpawnDomain,
  config: MachineConfig,
  extras: SpawnExtras,
  accounts: KnownAccounts,
): SpawnPlan | undefined {
  const warnings: string[] = [];
  const fail = (stage: string, message: string): SpawnPlan => failedPlan(config, stage, message);
  let credentials: SpawnRequest['credentials'];
  let envUser: UserRecord | undefined;

  if (domain.kind === 'system') {
    const canSwitch = domain.agentUid === 0;
    if (spec.userName !== undefined && !canSwitch) {
      warnings.push('UserName ignored: the agent is not root');
    } else if (spec.userName !== undefined) {
      const ua = accounts.userByName(spec.userName);
      if (!ua) return undefined;
      const u = ua.found;
      if (!u) return fail('user', `The specified username does not exist: ${spec.userName}`);
      let gid = u.gid;
      if (spec.groupName !== undefined) {
        const ga = accounts.groupByName(spec.groupName);
        if (!ga) return undefined;
        const g = ga.found;
        if (!g) return fail('group', `The specified group does not exist: ${spec.groupName}`);
        gid = g.gid;
      }
      envUser = u;
      credentials = { uid: u.uid, gid, userName: u.name, initGroups: spec.initGroups };
    } else if (spec.groupName !== undefined && canSwitch) {
      // GroupName without UserName: run as root with that group (core.c:5029-5031).
      const ga = accounts.groupByName(spec.groupName);
      if (!ga) return undefined;
      const g = ga.found;
      if (!g) return fail('group', `The specified group does not exist: ${spec.groupName}`);
      if (g.gid !== 0) credentials = { uid: 0, gid: g.gid, initGroups: false };
    }
    if (!envUser) {
      const aa = accounts.userById(domain.agentUid);
      if (!aa) return undefined;
      envUser = aa.found;
    }
  } else {
    // Agents run as the domain's user; UserName/GroupName are ignored for them (man launchd.plist).
    if (spec.userName !== undefined) warnings.push('UserName ignored: agents run as their domain user');
    if (spec.groupName !== undefined) warnings.push('GroupName ignored: agents run as their domain user');
    const ua = accounts.userById(domain.uid);
    if (!ua) return undefined;
    const u = ua.found;
    if (!u) return fail('user', `No account for uid ${domain.uid}`);
    envUser = u;
    if (domain.uid !== domain.agentUid) {
      if (domain.agentUid !== 0)
        return fail('user', `The agent (uid ${domain.agentUid}) cannot run jobs as uid ${domain.uid}`);
      credentials = { uid: u.uid, gid: u.gid, userName: u.name, initGroups: true };
    }
  }

  const env: Record<string, string> = { PATH: DEFAULT_PATH, XPC_SERVICE_NAME: spec.label };
  if (envUser) {
    env['HOME'] = envUser.home;
    env['USER'] = envUser.name;
    env['LOGNAME'] = envUser.name;
    env['SHELL'] = envUser.shell;
  }
  env['TMPDIR'] = '/tmp';
  const globalEnv = domain.globalEnvironment;
  if (globalEnv) for (const k of Object.keys(globalEnv)) env[k] = globalEnv[k] as string;
  for (const [k, v] of spec.environmentVariables) env[k] = v;

  // The optional fields are set one by one, not with conditional spreads: this runs for every
  // start, on a socket activation's path between the wake-up and the fork (issue 19).
  const req: Writable<SpawnRequest> = {
    label: spec.label,
    program: spec.program,
    argv: spec.programArguments,
    // Program is exec'd as given; ProgramArguments[0] without a slash is searched in the child's
    // final PATH (posix_spawnp after EnvironmentVariables, §7 D16).
    searchPath: !spec.programIsExplicit && !spec.program.includes('/'),
    enableGlobbing: spec.enableGlobbing,
    env,
    softLimits: spec.softResourceLimits,
    hardLimits: spec.hardResourceLimits,
    lowPriorityIO: spec.lowPriorityIO,
    stdin: spec.standardInPath !== undefined ? { kind: 'path', path: spec.standardInPath } : { kind: 'null' },
    stdout:
      spec.standardOutPath !== undefined ? { kind: 'path', path: spec.standardOutPath } : { kind: 'null' },
    stderr:
      spec.standardErrorPath !== undefined
        ? { kind: 'path', path: spec.standardErrorPath }
        : { kind: 'null' },
    passFds: extras.passFds ?? [],
    setListenPid: (extras.passFds?.length ?? 0) > 0,
    startSuspended: spec.waitForDebugger,
  };
  if (spec.workingDirectory !== undefined) req.workingDirectory = spec.workingDirectory;
  if (spec.rootDirectory !== undefined && domain.agentUid === 0) req.rootDirectory = spec.rootDirectory;
  if (credentials) req.credentials = credentials;
  if (spec.umask !== undefined) req.umask = spec.umask;
  if (spec.nice !== undefined) req.nice = spec.nice;
  if (extras.listenFdNames) req.listenFdNames = extras.listenFdNames;
  if (spec.rootDirectory !== undefined && domain.agentUid !== 0)
    warnings.push('RootDirectory ignored: the agent is not root');
  return { ok: true, req, warnings };
}

/**
 * Keys of docs/launchd-semantics.md §1 that are accepted but have no effect here, with why. Logged once at
 * load and shown in the status, so nobody is surprised.
 */
export function unsupportedKeyWarnings(spec: JobSpec): string[] {
  const w: string[] = [];
  if (spec.sessionCreate)
    w.push('SessionCreate: no audit sessions on Linux; the job still leads its own process group');
  if (spec.lowPriorityBackgroundIO)
    w.push('LowPriorityBackgroundIO: no Darwin-background state on Linux; ignored');
  if (spec.processType !== undefined)
    w.push(
      `ProcessType=${spec.processType}: no launchd resource classes on Linux; use Nice and resource limits`,
    );
  if (spec.enableTransactions)
    w.push('EnableTransactions: no transaction API; stop always sends SIGTERM first');
  if (spec.enablePressuredExit) w.push('EnablePressuredExit: no memory-pressure exits; ignored');
  if (spec.debug) w.push('Debug: accepted; the agent has no per-job log level, so nothing changes');
  if (spec.startOnMount) w.push('StartOnMount: mount events are not observed; ignored');
  if (spec.keepAlive.networkState !== undefined)
    w.push('KeepAlive.NetworkState: not implemented (modern launchd no longer implements it either)');
  if (spec.machServices.length > 0)
    w.push('MachServices: no Mach on Linux; the names are kept but never trigger a launch');
  if (spec.launchEventStreams.length > 0) w.push('LaunchEvents: no event publishers; ignored');
  if (spec.sockets.length > 0)
    w.push('Sockets: socket activation is not wired in this build; the job gets no sockets');
  if (spec.standardInPath !== undefined)
    w.push(
      'StandardInPath: opened for reading at spawn; its readability is not a demand source (modern behaviour, D10)',
    );
  if (spec.limitLoadToHosts.length > 0 || spec.limitLoadFromHosts.length > 0)
    w.push('LimitLoadToHosts/LimitLoadFromHosts: deprecated and ignored');
  if (spec.limitLoadToHardware.size > 0 || spec.limitLoadFromHardware.size > 0)
    w.push('LimitLoadTo/FromHardware: no hw.* sysctls on Linux; ignored');
  return w;
}
