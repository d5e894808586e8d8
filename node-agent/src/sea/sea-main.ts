/**
 * The entry of the single-file agent (scripts/build-agent.sh bundles this module and everything
 * it imports into one CommonJS file, which Node's single-executable support runs).
 *
 * One binary, two commands, chosen by the name it is run as (argv[0]) or by a first argument:
 *   launchfleet-agent [--config FILE]     the agent (agent/agent-cli.ts)
 *   lfctl ARGS | launchfleet-agent lfctl ARGS   the local control CLI (cli/lfctl.ts)
 *
 * Before the agent starts, its embedded native pieces are extracted below the config's stateDir
 * and checked (native-pieces.ts); a piece that fails is refused, and the agent exits 1 with the
 * reason instead of loading it.
 */
import { basename, join } from 'node:path';
import { messageOf } from '@launchfleet/shared/errors';
import { useNativeDir } from '../adapters/native-build.ts';
import { runAgentCli } from '../agent/agent-cli.ts';
import { runLfctl } from '../cli/lfctl.ts';
import { embeddedPieces, installNativePieces } from './native-pieces.ts';
import { seaAsset } from './sea-assets.ts';

async function lfctl(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await runLfctl(argv, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
      cwd: process.cwd(),
      uid: process.getuid?.() ?? 0,
      env: process.env,
    });
  } catch (e) {
    process.stderr.write(`lfctl: ${messageOf(e)}\n`);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (basename(process.argv0) === 'lfctl') return lfctl(argv);
  if (argv[0] === 'lfctl') return lfctl(argv.slice(1));
  await runAgentCli(argv, async (config) => {
    const pieces = embeddedPieces(seaAsset);
    if (!pieces)
      throw new Error(
        `${process.execPath} carries no native pieces: it was not built by scripts/build-agent.sh`,
      );
    const dir = await installNativePieces(join(config.stateDir, 'native'), pieces, {
      euid: process.geteuid?.() ?? 0,
      binary: process.execPath,
    });
    useNativeDir(dir);
  });
}

void main();
