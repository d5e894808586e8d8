/**
 * `launchfleet conformance DIR`: runs the job model over a directory of plists and compares with
 * its MANIFEST.tsv. Exit 1 on a crash, a missing file, or a disagreement without a written
 * reason. The logic is in shared/src/job/conformance.ts.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { formatConformanceHuman, runConformanceFromFiles } from '@launchfleet/shared';

interface ConformanceFlags {
  readonly manifest?: string;
  readonly reasons?: string;
  readonly json?: boolean;
}

export function registerConformanceCommand(program: Command): void {
  program
    .command('conformance')
    .description('compare the job model with a plist corpus manifest')
    .argument('<dir>', 'directory of plists')
    .option('--manifest <file>', 'manifest TSV (default DIR/MANIFEST.tsv)')
    .option('--reasons <file>', 'written reasons for disagreements (file<TAB>reason)')
    .option('--json', 'print a JSON document instead of text')
    .action(async (dir: string, flags: ConformanceFlags) => {
      const report = await runConformanceFromFiles(
        dir,
        flags.manifest ?? join(dir, 'MANIFEST.tsv'),
        flags.reasons,
      );
      process.stdout.write(
        flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatConformanceHuman(report),
      );
      process.exitCode = report.ok ? 0 : 1;
    });
}
