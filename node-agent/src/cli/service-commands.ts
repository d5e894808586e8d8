/**
 * The modern verbs that change state: bootstrap, bootout, enable, disable, kickstart, kill
 * (docs/launchd-semantics.md §5.1). Each prints nothing on success (kickstart -p prints the pid) and exits
 * with launchd's code on failure, printing `<Verb> failed: <code>: <string>` and the detail.
 */
import { parseDomainTarget, parseServiceTarget } from '../control/targets.ts';
import { absolutePaths, parseFlags } from './args.ts';
import { EXIT, reportFailure, type CliContext } from './context.ts';

function usage(ctx: CliContext, text: string, why?: string): number {
  if (why !== undefined) ctx.err(why);
  ctx.err(`Usage: lfctl ${text}`);
  return EXIT.usage;
}

function badTarget(ctx: CliContext, target: string, usageText: string): number {
  return usage(
    ctx,
    usageText,
    `Unrecognized target specifier: ${JSON.stringify(target)} (system/<label>, gui/<uid>/<label> or user/<uid>/<label>)`,
  );
}

export async function bootstrap(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'bootstrap <domain-target> [service-path ...]';
  const p = parseFlags(args, '');
  if (p.unknown !== undefined) return usage(ctx, U, `unknown option ${p.unknown}`);
  const [domain, ...paths] = p.rest;
  if (domain === undefined) return usage(ctx, U);
  if (!parseDomainTarget(domain))
    return usage(
      ctx,
      U,
      `Unrecognized target specifier: ${JSON.stringify(domain)} (system, gui/<uid> or user/<uid>)`,
    );
  const r = await ctx.call('Bootstrap', { domain, paths: absolutePaths(ctx.cwd, paths) });
  if (r.error) return reportFailure(ctx, 'Bootstrap', r.error, r.failures ?? []);
  return 0;
}

export async function bootout(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'bootout [--wait] <domain-target> [service-path ...] | <service-target>';
  const p = parseFlags(args, '', ['wait']);
  if (p.unknown !== undefined) return usage(ctx, U, `unknown option ${p.unknown}`);
  const [target, ...paths] = p.rest;
  if (target === undefined) return usage(ctx, U);
  const wait = p.flags.has('wait');
  const svc = parseServiceTarget(target);
  if (svc && paths.length > 0) return usage(ctx, U, 'a service target takes no paths');
  if (!svc && !parseDomainTarget(target))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(target)}`);
  if (wait && (svc ? false : paths.length !== 1))
    return usage(ctx, U, '--wait can only be used for booting-out a single service.');
  const r = await ctx.call('Bootout', { target, paths: absolutePaths(ctx.cwd, paths), wait }, { wait });
  if (r.error) return reportFailure(ctx, 'Boot-out', r.error, r.failures ?? []);
  return 0;
}

async function enableDisable(
  ctx: CliContext,
  args: readonly string[],
  verb: 'enable' | 'disable',
): Promise<number> {
  const U = `${verb} <service-target>`;
  const p = parseFlags(args, '');
  if (p.unknown !== undefined || p.rest.length !== 1) return usage(ctx, U);
  const target = p.rest[0]!;
  if (!parseServiceTarget(target)) return badTarget(ctx, target, U);
  const r = await ctx.call(verb === 'enable' ? 'Enable' : 'Disable', { target });
  if (r.error) return reportFailure(ctx, verb === 'enable' ? 'Enable' : 'Disable', r.error);
  return 0;
}

export const enable = (ctx: CliContext, args: readonly string[]): Promise<number> =>
  enableDisable(ctx, args, 'enable');
export const disable = (ctx: CliContext, args: readonly string[]): Promise<number> =>
  enableDisable(ctx, args, 'disable');

export async function kickstart(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'kickstart [-kp] <service-target>';
  const p = parseFlags(args, 'kp');
  if (p.unknown !== undefined) return usage(ctx, U, `unknown option ${p.unknown}`);
  if (p.rest.length !== 1) return usage(ctx, U);
  const target = p.rest[0]!;
  if (!parseServiceTarget(target)) return badTarget(ctx, target, U);
  const r = await ctx.call('Kickstart', { target, kill: p.flags.has('k'), reportPid: p.flags.has('p') });
  if (r.error) {
    if (r.error.code === 113) {
      ctx.err(r.error.message);
      return r.error.code;
    }
    return reportFailure(ctx, 'Kickstart', r.error);
  }
  if (p.flags.has('p') && r.pid !== undefined) ctx.out(`${r.pid}\n`);
  return 0;
}

export async function kill(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'kill <signal-name | signal-number> <service-target>';
  const p = parseFlags(args, '');
  if (p.unknown !== undefined || p.rest.length !== 2) return usage(ctx, U);
  const [signal, target] = p.rest as [string, string];
  if (!parseServiceTarget(target)) return badTarget(ctx, target, U);
  const r = await ctx.call('Kill', { signal, target });
  if (r.error) {
    if (r.error.code === 113) {
      ctx.err(r.error.message);
      return r.error.code;
    }
    return reportFailure(ctx, 'Kill', r.error);
  }
  return 0;
}
