/**
 * The `launchfleet` command. Each subcommand lives in its own file and registers itself on the
 * program, so others can be added without touching the existing ones.
 * Exit codes: 0 success, 1 the check failed (a refused plist, a conformance disagreement) or
 * the controller refused / could not be reached, 2 the command itself could not run (bad
 * flags, unreadable manifest).
 */
import { Command } from 'commander';
import { messageOf } from '@launchfleet/shared';
import { registerConformanceCommand } from './conformance-command.ts';
import { registerLintCommand } from './lint-command.ts';
import { registerJobsCommand } from './jobs-command.ts';
import { registerNodesCommand } from './nodes-command.ts';
import { registerEventsCommand } from './events-command.ts';
import { registerTokensCommand } from './tokens-command.ts';
import { registerAuditCommand } from './audit-command.ts';
import { registerInitLocalCommand } from './init-local-command.ts';
import { registerRolloutCommand } from './rollout-command.ts';

const program = new Command('launchfleet')
  .description('Launchfleet: launchd-semantics supervision and signed rollouts for Mac fleets')
  .showHelpAfterError();
registerLintCommand(program);
registerConformanceCommand(program);
registerJobsCommand(program);
registerNodesCommand(program);
registerEventsCommand(program);
registerTokensCommand(program);
registerAuditCommand(program);
registerInitLocalCommand(program);
registerRolloutCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`launchfleet: ${messageOf(e)}\n`);
  process.exitCode = 2;
}
