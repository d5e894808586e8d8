/**
 * Builds the SpawnRequest for one start of a job from its JobSpec and its domain (docs/launchd-semantics.md
 * §1.2, §2.3 "Child setup order" and "Environment"). Who does what: this module resolves
 * credentials through the UserDb and builds the complete environment (PATH default,
 * XPC_SERVICE_NAME, HOME/USER/LOGNAME/SHELL/TMPDIR unless set, then the domain's global
 * environment, then EnvironmentVariables last); the spawner's exec shim only applies them.
 */
import type { JobSpec } from '@launchfleet/shared/job';
import type { SpawnFailure, SpawnRequest } from '../ports/process-spawner.ts';
import type { UserDb, UserRecord } from '../ports/user-db.ts';
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

export async function buildSpawnRequest(
  spec: JobSpec,
  domain: SpawnDomain,
  users: UserDb,
  config: MachineConfig,
  extras: { readonly passFds?: readonly number[]; readonly listenFdNames?: readonly string[] } = {},
): Promise<SpawnPlan> {
  const warnings: string[] = [];
  const fail = (stage: string, message: string): SpawnPlan => ({
    ok: false,
    failure: { stage, errno: 'ESRCH', exitStatus: config.credentialFailureStatus, message },
  });
  let credentials: SpawnRequest['credentials'];
  let envUser: UserRecord | undefined;

  if (domain.kind === 'system') {
    const canSwitch = domain.agentUid === 0;
    if (spec.userName !== undefined && !canSwitch) {
      warnings.push('UserName ignored: the agent is not root');
    } else if (spec.userName !== undefined) {
      const u = await users.userByName(spec.userName);
      if (!u) return fail('user', `The specified username does not exist: ${spec.userName}`);
      let gid = u.gid;
      if (spec.groupName !== undefined) {
        const g = await users.groupByName(spec.groupName);
        if (!g) return fail('group', `The specified group does not exist: ${spec.groupName}`);
        gid = g.gid;
      }
      envUser = u;
      credentials = { uid: u.uid, gid, userName: u.name, initGroups: spec.initGroups };
    } else if (spec.groupName !== undefined && canSwitch) {
      // GroupName without UserName: run as root with that group (core.c:5029-5031).
      const g = await users.groupByName(spec.groupName);
      if (!g) return fail('group', `The specified group does not exist: ${spec.groupName}`);
      if (g.gid !== 0) credentials = { uid: 0, gid: g.gid, initGroups: false };
    }
    envUser ??= await users.userById(domain.agentUid);
  } else {
    // Agents run as the domain's user; UserName/GroupName are ignored for them (man launchd.plist).
    if (spec.userName !== undefined) warnings.push('UserName ignored: agents run as their domain user');
    if (spec.groupName !== undefined) warnings.push('GroupName ignored: agents run as their domain user');
    const u = await users.userById(domain.uid);
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
  for (const [k, v] of Object.entries(domain.globalEnvironment ?? {})) env[k] = v;
  for (const [k, v] of spec.environmentVariables) env[k] = v;

  const req: SpawnRequest = {
    label: spec.label,
    program: spec.program,
    argv: spec.programArguments,
    // Program is exec'd as given; ProgramArguments[0] without a slash is searched in the child's
    // final PATH (posix_spawnp after EnvironmentVariables, §7 D16).
    searchPath: !spec.programIsExplicit && !spec.program.includes('/'),
    enableGlobbing: spec.enableGlobbing,
    env,
    ...(spec.workingDirectory !== undefined ? { workingDirectory: spec.workingDirectory } : {}),
    ...(spec.rootDirectory !== undefined && domain.agentUid === 0
      ? { rootDirectory: spec.rootDirectory }
      : {}),
    ...(credentials ? { credentials } : {}),
    ...(spec.umask !== undefined ? { umask: spec.umask } : {}),
    ...(spec.nice !== undefined ? { nice: spec.nice } : {}),
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
    ...(extras.listenFdNames ? { listenFdNames: extras.listenFdNames } : {}),
    startSuspended: spec.waitForDebugger,
  };
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
