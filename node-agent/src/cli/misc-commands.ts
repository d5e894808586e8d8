/**
 * Verbs that need no job: error (decode an exit code), lint (check plists without loading them:
 * the shared validator, as `launchfleet lint`), version and help.
 */
import type { DomainKind } from '@launchfleet/shared/job';
import { formatLintHuman, lintFile, lintJsonDocument } from '@launchfleet/shared/lint';
import { absolutePaths, parseFlags } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { errorString } from './error-strings.ts';
import { packageVersion } from '../sea/sea-assets.ts';

export const HELP = `Usage: lfctl <subcommand> ... | help [subcommand]

Subcommands (launchctl's names, targets and exit codes):
  bootstrap <domain> [path ...]     load plists (files or directories); root: create gui/<uid> or user/<uid>
  bootout [--wait] <service-target> | <domain> [path ...]
                                    unload (asynchronous unless --wait); root: remove a gui/user domain
  enable <service-target>           allow a service to load (persistent)
  disable <service-target>          refuse to load it (persistent; a running process is left alone)
  kickstart [-kp] <service-target>  run it now (-k: kill the running instance first, -p: print the pid)
  kill <signal> <service-target>    send a signal (name or number)
  print [--json] <domain | service-target>
  print-disabled [--json] <domain>
  blame [--json] <service-target>   why the service was last started
  list [--json] [--domain <d>] [label]
  load [-wF] paths... | unload [-w] paths...      (legacy; exit 0 except for usage errors)
  start <label> | stop <label>                    (legacy)
  error [posix|mach|bootstrap] <code>             decode an exit code
  lint [--json] [--domain system|gui|user] [--allow-json] file...   check plists without loading them
  install-launchctl [--dir DIR] [--remove]        make DIR/launchctl (default /usr/local/bin) this lfctl
                                    (Linux only: refused on macOS, whose launchctl is launchd's own)
  version | help

Targets: system | gui/<uid> | user/<uid>, and service targets <domain>/<label>. The legacy verbs act
on the system domain for root and on the caller's gui (or user) domain otherwise; --domain overrides.

Options before the subcommand: --run-dir DIR (default: $LAUNCHFLEET_RUN_DIR, /var/run/launchfleet),
--socket PATH (a control socket). Called as launchctl, no option is needed: root uses the system
socket, other users their own. Exit status: 0, launchd's error code (see \`lfctl error <code>\`),
64 for usage errors, 69 when the agent cannot be reached.`;

export function help(ctx: CliContext): number {
  ctx.out(HELP + '\n');
  return 0;
}

export function error(ctx: CliContext, args: readonly string[]): number {
  const rest = args[0] === 'posix' || args[0] === 'mach' || args[0] === 'bootstrap' ? args.slice(1) : args;
  const text = rest[0];
  if (rest.length !== 1 || text === undefined || !/^-?(0x[0-9a-f]+|\d+)$/i.test(text)) {
    ctx.err('Usage: lfctl error [posix|mach|bootstrap] <code>');
    return EXIT.usage;
  }
  const code = Number(text);
  ctx.out(`${errorString(code) ?? `Unknown error: ${code}`}\n`);
  return 0;
}

export async function version(ctx: CliContext, args: readonly string[]): Promise<number> {
  const p = parseFlags(args, '', ['json']);
  let agent: string | undefined;
  let scope: string | undefined;
  try {
    const r = await ctx.call('Version', {});
    agent = r.version;
    scope = r.scope;
  } catch {
    // the agent is not running: lfctl's own version still answers
  }
  if (p.flags.has('json'))
    ctx.out(JSON.stringify({ lfctl: packageVersion(), agent: agent ?? null, scope: scope ?? null }) + '\n');
  else {
    ctx.out(`lfctl ${packageVersion()}\n`);
    ctx.out(
      agent !== undefined
        ? `launchfleet-agent ${agent} (via ${scope ?? '?'} socket)\n`
        : 'launchfleet-agent: not reachable\n',
    );
  }
  return 0;
}

const domains: readonly DomainKind[] = ['system', 'gui', 'user'];

export async function lint(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'Usage: lfctl lint [--json] [--domain system|gui|user] [--allow-json] file...';
  const p = parseFlags(args, '', ['json', 'allow-json'], ['domain']);
  const domain = p.values.get('domain') as DomainKind | undefined;
  if (p.unknown !== undefined || p.rest.length === 0 || (domain !== undefined && !domains.includes(domain))) {
    ctx.err(U);
    return EXIT.usage;
  }
  const results = [];
  for (const file of absolutePaths(ctx.cwd, p.rest))
    results.push(
      await lintFile(file, {
        ...(domain !== undefined ? { domain } : {}),
        ...(p.flags.has('allow-json') ? { allowJson: true } : {}),
      }),
    );
  ctx.out(
    p.flags.has('json')
      ? `${JSON.stringify(lintJsonDocument(results), null, 2)}\n`
      : formatLintHuman(results),
  );
  return results.every((r) => r.loadable) ? 0 : 1;
}
