/**
 * `launchfleet lint FILE...`: plutil -lint plus launchd's rules. Exit 0 when every file is
 * loadable, 1 when any is refused. The logic is in @launchfleet/shared/lint.
 */
import type { Command } from 'commander';
import type { DomainKind } from '@launchfleet/shared/job';
import { formatLintHuman, lintFile, lintJsonDocument } from '@launchfleet/shared/lint';

interface LintFlags {
  readonly json?: boolean;
  readonly domain?: string;
  readonly allowJson?: boolean;
  readonly maxBytes?: string;
}

const domains: readonly DomainKind[] = ['system', 'gui', 'user'];

export function registerLintCommand(program: Command): void {
  program
    .command('lint')
    .description('check launchd job plists: parse (XML, binary), launchd key rules, loadability')
    .argument('<files...>', 'plist files')
    .option('--json', 'print a JSON document instead of text')
    .option('--domain <kind>', 'the domain the jobs are for: system (daemons), gui or user (agents)')
    .option('--allow-json', "accept JSON plists (Launchfleet's API format; launchd refuses them)")
    .option('--max-bytes <n>', 'largest file to read (default 4194304)')
    .action(async (files: string[], flags: LintFlags) => {
      const domain = flags.domain as DomainKind | undefined;
      if (domain !== undefined && !domains.includes(domain)) {
        program.error(`--domain must be one of ${domains.join(', ')}`, { exitCode: 2 });
      }
      const maxBytes = flags.maxBytes === undefined ? undefined : Number(flags.maxBytes);
      if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)) {
        program.error('--max-bytes must be a positive integer', { exitCode: 2 });
      }
      const results = [];
      for (const file of files) {
        results.push(
          await lintFile(file, {
            ...(domain !== undefined ? { domain } : {}),
            ...(flags.allowJson === true ? { allowJson: true } : {}),
            ...(maxBytes !== undefined ? { parse: { maxBytes } } : {}),
          }),
        );
      }
      process.stdout.write(
        flags.json === true
          ? `${JSON.stringify(lintJsonDocument(results), null, 2)}\n`
          : formatLintHuman(results),
      );
      process.exitCode = results.every((r) => r.loadable) ? 0 : 1;
    });
}
