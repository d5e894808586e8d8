/**
 * `lfctl`: launchctl's command line for launchfleet-agent, over the local control API
 * (proto/launchfleet/agent/v1/control.proto). Subcommands, targets, output formats and exit
 * codes follow launchctl (docs/launchd-semantics.md §5); `--json` on every read command.
 *
 * Called by the name `launchctl` (the script `lfctl install-launchctl` writes, or a symlink), it is launchctl
 * for scripts and configuration-management modules: no flags needed, the socket comes from the
 * caller's uid (root: the system socket; others: their own user socket) in the default run
 * directory ($LAUNCHFLEET_RUN_DIR or /var/run/launchfleet). See ../control/README.md.
 */
import { basename } from 'node:path';
import { messageOf } from '@launchfleet/shared/errors';
import { parseFlags } from './args.ts';
import {
  EXIT,
  defaultRunDir,
  launchctlRunDir,
  makeContext,
  reportCallError,
  type CliContext,
} from './context.ts';
import { installLaunchctl } from './install-launchctl.ts';
import { load, start, stop, unload } from './legacy-commands.ts';
import { HELP, error, help, lint, version } from './misc-commands.ts';
import { blame, list, print, printDisabled } from './read-commands.ts';
import { bootout, bootstrap, disable, enable, kickstart, kill } from './service-commands.ts';

type Command = (ctx: CliContext, args: readonly string[]) => Promise<number> | number;

const COMMANDS: Readonly<Record<string, Command>> = {
  bootstrap,
  bootout,
  enable,
  disable,
  kickstart,
  kill,
  print,
  'print-disabled': printDisabled,
  blame,
  list,
  load,
  unload,
  start,
  stop,
  error,
  lint,
  'install-launchctl': (ctx, args) => installLaunchctl(ctx, args),
  version,
  help,
};

/** Runs lfctl with `argv` (without node and the script); resolves with the exit status. */
export async function runLfctl(
  argv: readonly string[],
  io: {
    out: (t: string) => void;
    err: (t: string) => void;
    cwd: string;
    uid: number;
    env: NodeJS.ProcessEnv;
    /** The name it was called by: `launchctl` picks the socket from the uid alone. */
    name?: 'lfctl' | 'launchctl';
  },
): Promise<number> {
  const asLaunchctl = io.name === 'launchctl';
  // Global options come before the subcommand.
  let i = 0;
  let runDir: string | undefined;
  let socket: string | undefined;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--run-dir' || a === '--socket') {
      const v = argv[++i];
      if (v === undefined) {
        io.err(`${a} needs a value`);
        return EXIT.usage;
      }
      if (a === '--run-dir') runDir = v;
      else socket = v;
    } else if (a.startsWith('--run-dir=')) runDir = a.slice(10);
    else if (a.startsWith('--socket=')) socket = a.slice(9);
    else if (a === '--help' || a === '-h') {
      io.out(HELP + '\n');
      return 0;
    } else break;
  }
  const verb = argv[i];
  const args = argv.slice(i + 1);
  if (verb === undefined) {
    io.err(HELP);
    return EXIT.usage;
  }
  const cmd = COMMANDS[verb];
  if (!cmd) {
    io.err(`Unrecognized subcommand: ${verb}`);
    io.err(HELP);
    return EXIT.usage;
  }
  if (verb === 'help' && args[0] !== undefined && COMMANDS[args[0]] === undefined) {
    io.err(`Unrecognized subcommand: ${args[0]}`);
    return EXIT.usage;
  }
  const ctx = makeContext({
    uid: io.uid,
    cwd: io.cwd,
    runDir: runDir ?? (asLaunchctl ? launchctlRunDir(io.env) : defaultRunDir(io.env, io.cwd)),
    ...(socket !== undefined ? { socket } : {}),
    asLaunchctl,
    out: io.out,
    err: io.err,
  });
  try {
    return await cmd(ctx, args);
  } catch (e) {
    return reportCallError(ctx, e);
  } finally {
    ctx.close();
  }
}

// `parseFlags` is part of the CLI's public helpers (tests use it).
export { parseFlags };

/** The process entry (bin/lfctl.js): lfctl, or launchctl when called by that name. */
export function main(): void {
  // A symlink named launchctl, or the script `lfctl install-launchctl` writes (LFCTL_NAME).
  const called = process.env['LFCTL_NAME'] ?? basename(process.argv[1] ?? 'lfctl');
  const name = called === 'launchctl' ? 'launchctl' : 'lfctl';
  runLfctl(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    cwd: process.cwd(),
    uid: process.getuid?.() ?? 0,
    env: process.env,
    name,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${name}: ${messageOf(e)}\n`);
      process.exitCode = 1;
    },
  );
}
