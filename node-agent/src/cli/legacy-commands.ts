/**
 * launchctl 1's verbs, still in modern launchctl (docs/launchd-semantics.md §5.1, §5.2): load, unload, start,
 * stop. They act on the caller's own context: the system domain for root, the caller's gui domain
 * otherwise (its user domain without a gui session), or `--domain`. As modern launchctl,
 * load and unload exit 0 except for usage errors ("Due to bugs in the previous
 * implementation..."), but print every problem.
 */
import { parseDomainTarget } from '../control/targets.ts';
import type { WireError } from '../control/wire.ts';
import { absolutePaths, parseFlags } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { errorString } from './error-strings.ts';

function usage(ctx: CliContext, text: string, why?: string): number {
  if (why !== undefined) ctx.err(why);
  ctx.err(`usage: lfctl ${text}`);
  return EXIT.usage;
}

/** One problem in 842's words where it has them, else modern's `<Verb> failed: <code>: <string>`. */
function legacyLine(verb: 'Load' | 'Unload', f: WireError): string {
  const who = f.label ?? f.path ?? '';
  if (f.code === 37) return `${who}: Already loaded`;
  if (f.code === 3 || (verb === 'Unload' && f.code === 113)) return `${who}: Not loaded`;
  if (f.code === 122) return `${f.path ?? who}: ${f.message}`;
  const detail = f.message !== '' && f.message !== f.error ? ` (${who ? `${who}: ` : ''}${f.message})` : '';
  return `${verb} failed: ${f.code}: ${errorString(f.code) ?? f.error}${detail}`;
}

async function loadUnload(
  ctx: CliContext,
  args: readonly string[],
  verb: 'Load' | 'Unload',
): Promise<number> {
  const U =
    verb === 'Load'
      ? 'load [-wF] [--domain <domain-target>] paths...'
      : 'unload [-w] [--domain <domain-target>] paths...';
  const p = parseFlags(args, verb === 'Load' ? 'wF' : 'w', [], ['domain']);
  if (p.unknown !== undefined) return usage(ctx, U, `unknown option ${p.unknown}`);
  if (p.rest.length === 0) return usage(ctx, U);
  const domain = p.values.get('domain');
  if (domain !== undefined && !parseDomainTarget(domain))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(domain)}`);
  const r = await ctx.call(
    verb,
    {
      ...(domain !== undefined ? { domain } : {}),
      paths: absolutePaths(ctx.cwd, p.rest),
      writeOverride: p.flags.has('w'),
      force: p.flags.has('F'),
    },
    { wait: verb === 'Unload' },
  );
  if (r.error) {
    ctx.err(legacyLine(verb, r.error));
    return 0;
  }
  for (const f of r.failures ?? []) ctx.err(legacyLine(verb, f));
  if ((r.labels ?? []).length === 0 && (r.failures ?? []).length === 0)
    ctx.err(verb === 'Load' ? 'nothing found to load' : 'nothing found to unload');
  return 0;
}

export const load = (ctx: CliContext, args: readonly string[]): Promise<number> =>
  loadUnload(ctx, args, 'Load');
export const unload = (ctx: CliContext, args: readonly string[]): Promise<number> =>
  loadUnload(ctx, args, 'Unload');

async function startStop(ctx: CliContext, args: readonly string[], verb: 'Start' | 'Stop'): Promise<number> {
  const U = `${verb.toLowerCase()} [--domain <domain-target>] <label>`;
  const p = parseFlags(args, '', [], ['domain']);
  if (p.unknown !== undefined || p.rest.length !== 1) return usage(ctx, U);
  const domain = p.values.get('domain');
  if (domain !== undefined && !parseDomainTarget(domain))
    return usage(ctx, U, `Unrecognized target specifier: ${JSON.stringify(domain)}`);
  const r = await ctx.call(verb, { label: p.rest[0]!, ...(domain !== undefined ? { domain } : {}) });
  if (r.error) {
    ctx.err(
      r.error.code === 3
        ? r.error.message
        : `${verb} failed: ${r.error.code}: ${errorString(r.error.code) ?? r.error.error} (${r.error.message})`,
    );
    return r.error.code;
  }
  return 0;
}

export const start = (ctx: CliContext, args: readonly string[]): Promise<number> =>
  startStop(ctx, args, 'Start');
export const stop = (ctx: CliContext, args: readonly string[]): Promise<number> =>
  startStop(ctx, args, 'Stop');
