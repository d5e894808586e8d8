/**
 * The `launchfleet` command. Each subcommand lives in its own file and registers itself on the
 * program, so others can be added without touching the existing ones.
 * Exit codes: 0 success, 1 the check failed (a refused plist, a conformance disagreement),
 * 2 the command itself could not run (bad flags, unreadable manifest).
 */
import { Command } from 'commander';
import { messageOf } from '@launchfleet/shared';
import { registerConformanceCommand } from './conformance-command.ts';
import { registerLintCommand } from './lint-command.ts';

const program = new Command('launchfleet')
  .description('Launchfleet: launchd-semantics supervision and signed rollouts for Mac fleets')
  .showHelpAfterError();
registerLintCommand(program);
registerConformanceCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`launchfleet: ${messageOf(e)}\n`);
  process.exitCode = 2;
}
