/**
 * lfctl's text output in launchctl's formats (docs/launchd-semantics.md §5.2, §5.4): `list` rows, `list
 * <label>`'s NeXT-style dictionary, `print` of a service and of a domain, `print-disabled`. launchctl calls
 * its print output "NOT API"; scripts use `--json`.
 */
import type { PrintDomainReply, ServiceStatus, WireListRow, WireRetryingService } from '../control/wire.ts';

/** `list`: the header and one tab-separated row per job. */
export function formatList(rows: readonly WireListRow[]): string {
  return ['PID\tStatus\tLabel', ...rows.map((r) => `${r.pid}\t${r.status}\t${r.label}`)].join('\n') + '\n';
}

function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * `list <label>`: the NeXT-style dictionary (842 and modern print the same keys). LastExitStatus
 * is the raw wait status (exit code << 8, or the signal number), 0 before any exit: launchd
 * always reports it.
 */
export function formatListDict(s: ServiceStatus): string {
  const lines = ['{'];
  if (s.limitLoadToSessionType && s.limitLoadToSessionType.length > 0)
    lines.push(`\t"LimitLoadToSessionType" = ${q(s.limitLoadToSessionType[0]!)};`);
  else lines.push(`\t"LimitLoadToSessionType" = ${q(s.type === 'LaunchDaemon' ? 'System' : 'Aqua')};`);
  lines.push(`\t"Label" = ${q(s.label)};`);
  lines.push(`\t"OnDemand" = ${s.onDemand === false ? 'false' : 'true'};`);
  if (s.lastExitCode !== undefined) lines.push(`\t"LastExitStatus" = ${s.lastExitCode * 256};`);
  else if (s.lastTerminatingSignalNumber !== undefined)
    lines.push(`\t"LastExitStatus" = ${s.lastTerminatingSignalNumber};`);
  else lines.push('\t"LastExitStatus" = 0;');
  if (s.pid !== undefined) lines.push(`\t"PID" = ${s.pid};`);
  lines.push(`\t"Program" = ${q(s.program)};`);
  lines.push('\t"ProgramArguments" = (', ...(s.arguments ?? []).map((a) => `\t\t${q(a)};`), '\t);');
  lines.push('};');
  return lines.join('\n') + '\n';
}

function when(ms: number | undefined, now: number): string | undefined {
  if (ms === undefined) return undefined;
  const s = Math.round((ms - now) / 1000);
  return s >= 0 ? `in ${s} s` : `${-s} s ago`;
}

/**
 * `print <service-target>` (docs/launchd-semantics.md §5.4): top-level lines with one tab, nested blocks with
 * two.
 */
export function formatPrintService(s: ServiceStatus, now: number): string {
  const out: string[] = [`${s.domain}/${s.label} = {`];
  const add = (k: string, v: string | number | undefined): void => {
    if (v !== undefined && v !== '') out.push(`\t${k} = ${v}`);
  };
  const block = (k: string, entries: readonly string[]): void => {
    if (entries.length > 0) out.push(`\t${k} = {`, ...entries.map((e) => `\t\t${e}`), '\t}');
  };
  add('active count', s.pid !== undefined ? 1 : 0);
  add('path', s.path);
  add('type', s.type);
  add('state', s.state);
  out.push('');
  add('program', s.program);
  block('arguments', s.arguments ?? []);
  out.push('');
  add('working directory', s.workingDirectory);
  add('stdout path', s.stdoutPath);
  add('stderr path', s.stderrPath);
  block(
    'environment',
    Object.entries(s.environment ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k} => ${v}`),
  );
  out.push('');
  add('domain', s.domain);
  add('username', s.username);
  add('minimum runtime', s.minimumRuntime ?? 0);
  add('exit timeout', s.exitTimeout ?? 0);
  add('runs', s.runs ?? 0);
  add('pid', s.pid);
  add('immediate reason', s.immediateReason);
  add('forks', s.forks ?? 0);
  add('successive crashes', s.successiveCrashes ?? 0);
  if (s.lastTerminatingSignal !== undefined)
    add(
      'last terminating signal',
      `${signalText(s.lastTerminatingSignal)}: ${s.lastTerminatingSignalNumber ?? 0}`,
    );
  else
    add(
      'last exit code',
      s.lastExitCode === undefined
        ? s.result === 'unknown'
          ? '(unknown: an adopted process, its status went to init)'
          : '(never exited)'
        : s.lastExitCode === 78
          ? '78: EX_CONFIG'
          : s.lastExitCode,
    );
  add('throttled until', when(s.throttledUntilMs, now));
  if (s.spawnFailure)
    add('spawn failure', `${s.spawnFailure.stage}: ${s.spawnFailure.errno} (${s.spawnFailure.message})`);
  if (s.crashLoopingSinceMs !== undefined)
    add(
      'crash-looping',
      `${s.crashLoopCount ?? 0} short runs since ${new Date(s.crashLoopingSinceMs).toISOString()}`,
    );
  const t = s.timers ?? {};
  block(
    'timers',
    [
      ['throttle', t.throttleMs],
      ['exit timeout', t.exitTimeoutMs],
      ['kill grace', t.killGraceMs],
      ['start interval', t.nextIntervalMs],
      ['calendar interval', t.nextCalendarMs],
    ].flatMap(([k, v]) => (v === undefined ? [] : [`${k} => ${when(v as number, now)}`])),
  );
  block('watch paths', s.watchPaths ?? []);
  block('queue directories', s.queueDirectories ?? []);
  // Each group: what the agent holds now (state, activations), else what the plist declares.
  const sockets = (s.sockets ?? []).flatMap((g) => [
    `${q(g.name)} = {`,
    ...((g.held ?? []).length > 0
      ? (g.held ?? []).map((h) => `\t${h.endpoint} state = ${h.state} activations = ${String(h.activations)}`)
      : (g.endpoints ?? []).map((e) => `\t${e}`)),
    '}',
  ]);
  block('sockets', sockets);
  if (s.inetd)
    add(
      'inetd',
      `wait = ${s.inetd.wait}, instances = ${s.inetd.instances}/${s.inetd.maxInstances}, accepted = ${String(s.inetd.accepted)}`,
    );
  add('job state', s.jobState);
  // Ours: the typed state the fleet sees (docs/job-states.md).
  add('sub state', s.subState);
  add('active state', s.active);
  add('result', s.result);
  if (s.disabled === true) add('disabled', 'true');
  if ((s.properties ?? []).length > 0) add('properties', (s.properties ?? []).join(' | '));
  block('warnings', s.warnings ?? []);
  out.push('}');
  // One blank line between groups, never two (a group may be empty).
  return out.filter((l, i) => l !== '' || (out[i - 1] ?? '') !== '').join('\n') + '\n';
}

/** `Terminated` for SIGTERM etc., as strsignal(3) says (launchd prints `Terminated: 15`). */
export function signalText(name: string): string {
  const t: Record<string, string> = {
    SIGHUP: 'Hangup',
    SIGINT: 'Interrupt',
    SIGQUIT: 'Quit',
    SIGILL: 'Illegal instruction',
    SIGTRAP: 'Trace/BPT trap',
    SIGABRT: 'Abort trap',
    SIGBUS: 'Bus error',
    SIGFPE: 'Floating point exception',
    SIGKILL: 'Killed',
    SIGUSR1: 'User defined signal 1',
    SIGSEGV: 'Segmentation fault',
    SIGUSR2: 'User defined signal 2',
    SIGPIPE: 'Broken pipe',
    SIGALRM: 'Alarm clock',
    SIGTERM: 'Terminated',
    SIGSYS: 'Bad system call',
  };
  return t[name] ?? name;
}

/**
 * `print <domain-target>`. launchd's blocks, and ours after the services: the controller's jobs
 * the fleet link is trying again by itself (only when there are some).
 */
export function formatPrintDomain(d: PrintDomainReply, now: number): string {
  const out = [`${d.domain ?? ''} = {`, `\ttype = ${d.type ?? ''}`];
  if (d.username !== undefined) out.push(`\tusername = ${d.username}`);
  out.push(`\tactive count = ${d.activeCount ?? 0}`, '');
  out.push(
    '\tservices = {',
    ...(d.services ?? []).map((r) => `\t\t${r.pid}\t${r.status}\t${r.label}`),
    '\t}',
    '',
  );
  const retrying = d.retrying ?? [];
  if (retrying.length > 0)
    out.push(
      '\tretrying services = {',
      ...retrying.map((r) => `\t\t${q(r.label)} => ${retryText(r, now)}`),
      '\t}',
      '',
    );
  const dis = Object.entries(d.disabled ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  out.push(
    '\tdisabled services = {',
    ...dis.map(([l, v]) => `\t\t${q(l)} => ${v ? 'disabled' : 'enabled'}`),
    '\t}',
  );
  out.push('}');
  return out.join('\n') + '\n';
}

/** `failed 2 times, next attempt in 3 s: <why>` (the fleet link retries these itself). */
/**
 * `print <service-target>` of a service that is not loaded but that the fleet link is trying to
 * load again (the reply's 113 carries `retrying`): what it is, why it failed, when it tries next.
 * Printed before launchctl's "Bad request." lines; the exit status stays 113 (not loaded).
 */
export function formatPrintRetrying(target: string, r: WireRetryingService, now: number): string {
  return (
    [
      `${target} = {`,
      '	state = not loaded (the fleet link is trying to load it again)',
      `	retrying = ${retryText(r, now)}`,
      '}',
    ].join('\n') + '\n'
  );
}

function retryText(r: WireRetryingService, now: number): string {
  const failures = r.failures ?? 0;
  const failed = failures > 0 ? `failed ${failures} time${failures === 1 ? '' : 's'}, ` : '';
  const next = r.nextAttemptAtMs ? `next attempt ${when(r.nextAttemptAtMs, now) ?? ''}` : 'being tried now';
  return `${failed}${next}${r.why ? `: ${r.why}` : ''}`;
}
