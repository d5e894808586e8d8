/**
 * `lfctl`: launchctl's command line for launchfleet-agent, over the local control API
 * (proto/launchfleet/agent/v1/control.proto). Subcommands, targets, output formats and exit
 * codes follow launchctl (../shared/launchd/SPEC.md §5); `--json` on every read command.
 */
import { messageOf } from '@launchfleet/shared/errors';
import { parseFlags } from './args.ts';
import { EXIT, defaultRunDir, makeContext, reportCallError, type CliContext } from './context.ts';
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
  },
): Promise<number> {
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
    runDir: runDir ?? defaultRunDir(io.env, io.cwd),
    ...(socket !== undefined ? { socket } : {}),
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

const isMain = process.argv[1] !== undefined && /(?:^|\/)(lfctl|lfctl\.js)$/.test(process.argv[1]);
if (isMain) {
  runLfctl(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    cwd: process.cwd(),
    uid: process.getuid?.() ?? 0,
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`lfctl: ${messageOf(e)}\n`);
      process.exitCode = 1;
    },
  );
}
