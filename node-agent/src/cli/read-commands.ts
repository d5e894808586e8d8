/**
 * The verbs that only read: print (service or domain), print-disabled, list [label], blame.
 * Each takes `--json` for scripts (the reply as a JSON document; launchctl's text is "NOT API").
 */
import { parseDomainTarget, parseServiceTarget } from '../control/targets.ts';
import { formatPrintDisabled } from '../supervisor/domains/domain.ts';
import { parseFlags } from './args.ts';
import { EXIT, reportFailure, type CliContext } from './context.ts';
import {
  formatList,
  formatListDict,
  formatPrintDomain,
  formatPrintRetrying,
  formatPrintService,
} from './print-format.ts';

function usage(ctx: CliContext, text: string, why?: string): number {
  if (why !== undefined) ctx.err(why);
  ctx.err(`Usage: lfctl ${text}`);
  return EXIT.usage;
}

function json(ctx: CliContext, v: unknown): void {
  ctx.out(JSON.stringify(v, null, 2) + '\n');
}

/** 113 as launchctl prints it for print (docs/launchd-semantics.md §0.3 E2): "Bad request." then the detail. */
function notFound(ctx: CliContext, message: string): number {
  ctx.err('Bad request.');
  ctx.err(message);
  return 113;
}

export async function print(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'print [--json] <domain-target | service-target>';
  const p = parseFlags(args, '', ['json']);
  if (p.unknown !== undefined || p.rest.length !== 1) return usage(ctx, U);
  const target = p.rest[0]!;
  const asJson = p.flags.has('json');
  if (parseServiceTarget(target)) {
    const r = await ctx.call('PrintService', { target });
    if (r.error?.code === 113 && r.retrying) {
      // Not loaded, but the fleet link is retrying it: say so, then launchctl's 113.
      if (asJson) json(ctx, { target, retrying: r.retrying });
      else ctx.out(formatPrintRetrying(target, r.retrying, Date.now()));
    }
    if (r.error)
      return r.error.code === 113 ? notFound(ctx, r.error.message) : reportFailure(ctx, 'Print', r.error);
    if (!r.service)
      return reportFailure(ctx, 'Print', {
        code: 118,
        error: 'Bad response from server',
        message: 'no service in the reply',
      });
    if (asJson) json(ctx, r.service);
    else ctx.out(formatPrintService(r.service, Date.now()));
    return 0;
  }
  if (!parseDomainTarget(target))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(target)}`);
  const r = await ctx.call('PrintDomain', { domain: target });
  if (r.error) return reportFailure(ctx, 'Print', r.error);
  if (asJson) json(ctx, r);
  else ctx.out(formatPrintDomain(r, Date.now()));
  return 0;
}

export async function printDisabled(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'print-disabled [--json] <domain-target>';
  const p = parseFlags(args, '', ['json']);
  if (p.unknown !== undefined || p.rest.length !== 1) return usage(ctx, U);
  const domain = p.rest[0]!;
  if (!parseDomainTarget(domain))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(domain)}`);
  const r = await ctx.call('PrintDisabled', { domain });
  if (r.error) return reportFailure(ctx, 'Print-disabled', r.error);
  const entries = (r.entries ?? []).map((e) => [e.label, e.disabled === true] as [string, boolean]);
  if (p.flags.has('json')) json(ctx, { domain: r.domain, disabled: Object.fromEntries(entries) });
  else ctx.out(formatPrintDisabled(entries) + '\n');
  return 0;
}

export async function list(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'list [--json] [--domain <domain-target>] [label]';
  const p = parseFlags(args, '', ['json'], ['domain']);
  if (p.unknown !== undefined || p.rest.length > 1) return usage(ctx, U);
  const domain = p.values.get('domain');
  if (domain !== undefined && !parseDomainTarget(domain))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(domain)}`);
  const label = p.rest[0];
  const r = await ctx.call('List', {
    ...(domain !== undefined ? { domain } : {}),
    ...(label !== undefined ? { label } : {}),
  });
  if (r.error) {
    if (r.error.code === 113) {
      ctx.err(`Could not find service "${label ?? ''}" in domain for ${r.domain ?? 'port'}`);
      return 113;
    }
    return reportFailure(ctx, 'List', r.error);
  }
  if (label !== undefined) {
    if (!r.service) return 113;
    if (p.flags.has('json')) json(ctx, r.service);
    else ctx.out(formatListDict(r.service));
    return 0;
  }
  if (p.flags.has('json')) json(ctx, { domain: r.domain, jobs: r.rows ?? [] });
  else ctx.out(formatList(r.rows ?? []));
  return 0;
}

export async function blame(ctx: CliContext, args: readonly string[]): Promise<number> {
  const U = 'blame [--json] <service-target>';
  const p = parseFlags(args, '', ['json']);
  if (p.unknown !== undefined || p.rest.length !== 1) return usage(ctx, U);
  const target = p.rest[0]!;
  if (!parseServiceTarget(target))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(target)}`);
  const r = await ctx.call('Blame', { target });
  if (r.error)
    return r.error.code === 113 ? notFound(ctx, r.error.message) : reportFailure(ctx, 'Blame', r.error);
  const running = r.running === true;
  if (p.flags.has('json')) json(ctx, { running, reason: r.reason ?? '' });
  else ctx.out(running ? `${r.reason ?? ''}\n` : '(not running)\n');
  return 0;
}
