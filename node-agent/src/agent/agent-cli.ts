/**
 * `launchfleet-agent [--config FILE]`: the composition root of the agent process, run by
 * main.ts (a checkout, the Docker image) and by sea/sea-main.ts (the single-file agent).
 *
 * Runs standalone (no controller needed). Without --config it uses the defaults of
 * config/agent-config.ts: as root, /var/lib/launchfleet (state), /var/run/launchfleet (control
 * sockets), /Library/LaunchDaemons and /etc/launchfleet/LaunchDaemons; unprivileged (development),
 * everything under ./.launchfleet/agent and every job runs as the agent's own user.
 *
 * SIGTERM or SIGINT: stop every job (SIGTERM, SIGKILL after its ExitTimeOut), write the state
 * file, exit 0. SIGTERM with a detach request (`<runDir>/detach-on-stop`, written by the
 * package's upgrade): leave the jobs that can be adopted running for the next agent, record
 * them, exit 0 (docs/upgrades.md). Exit codes: 0 clean stop, 1 start failure, 64 usage, 78 bad config file.
 * Logs: one line per event on stderr; LAUNCHFLEET_LOG=debug|info|warn|error sets the level.
 */
import { readFileSync } from 'node:fs';
import { messageOf } from '@launchfleet/shared/errors';
import { startAgent, takeDetachRequest, type RunningAgent } from './agent.ts';
import { lineLog, parseLogLevel } from './log.ts';
import { applyAgentNodeFlags, describeNodeFlags } from './node-flags.ts';
import { defaultConfig, parseAgentConfig, type AgentConfig } from '../config/agent-config.ts';
import { packageVersion } from '../sea/sea-assets.ts';

const USAGE = `usage: launchfleet-agent [--config FILE]

  --config FILE   the agent's JSON configuration (see deploy/agent/agent.example.json)
  --help          this text
  --version       print the version

Runs the launchd-compatible supervisor and its local control API (lfctl).`;

function parseArgs(argv: readonly string[]): { config?: string } | { exit: number; text: string } {
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return { exit: 0, text: USAGE };
    if (a === '--version') return { exit: 0, text: packageVersion() };
    if (a === '--config' || a === '-c') {
      const v = argv[++i];
      if (v === undefined) return { exit: 64, text: `--config needs a file\n${USAGE}` };
      config = v;
    } else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else return { exit: 64, text: `unknown argument ${JSON.stringify(a)}\n${USAGE}` };
  }
  return config !== undefined ? { config } : {};
}

function loadConfig(file: string | undefined): AgentConfig {
  const defaults = defaultConfig({ isRoot: process.getuid?.() === 0, cwd: process.cwd() });
  if (file === undefined) return defaults;
  return parseAgentConfig(readFileSync(file, 'utf8'), file, defaults);
}

/** What the single-file agent does between reading the config and starting (sea/sea-main.ts). */
export type BeforeStart = (config: AgentConfig) => Promise<void>;

/** Runs the agent with `argv` (without node and the script) until a signal stops it. */
export async function runAgentCli(argv: readonly string[], beforeStart?: BeforeStart): Promise<void> {
  const args = parseArgs(argv);
  if ('exit' in args) {
    (args.exit === 0 ? process.stdout : process.stderr).write(args.text + '\n');
    process.exitCode = args.exit;
    return;
  }
  const log = lineLog(parseLogLevel(process.env['LAUNCHFLEET_LOG']) ?? 'info');
  // Before the agent loads anything; what it sets here holds for the bytecode compiled before too.
  const flags = describeNodeFlags(applyAgentNodeFlags());
  log(flags.level, 'agent', flags.text);
  let config: AgentConfig;
  try {
    config = loadConfig(args.config);
  } catch (e) {
    process.stderr.write(`launchfleet-agent: ${messageOf(e)}\n`);
    process.exitCode = 78;
    return;
  }
  let agent: RunningAgent | undefined;
  let stopping: Promise<void> | undefined;
  let pending = false;
  let signalled = 'SIGTERM';
  const shutdown = (a: RunningAgent): void => {
    const agentUid = process.getuid?.() ?? 0;
    const detach =
      signalled === 'SIGTERM'
        ? takeDetachRequest(config.runDir, agentUid).catch(() => false)
        : Promise.resolve(false);
    stopping = detach
      .then((d) => (d ? a.detach() : a.stop()))
      .then(
        () => process.exit(0),
        (e: unknown) => {
          log('error', 'agent', `shutdown failed: ${messageOf(e)}`);
          process.exit(1);
        },
      );
  };
  const stop = (signal: string): void => {
    if (stopping || pending) {
      log('warn', 'agent', `${signal} again: still stopping jobs (ExitTimeOut applies)`);
      return;
    }
    log('info', 'agent', `${signal}: shutting down`);
    signalled = signal;
    if (agent) shutdown(agent);
    else pending = true; // still starting: stop once there is something to stop
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => log('info', 'agent', 'SIGHUP ignored'));
  // A failed promise nobody handles is a bug, but Node's default (end the process) would take
  // the supervision of every job with it: say so loudly and go on.
  process.on('unhandledRejection', (e: unknown) =>
    log('error', 'agent', `unhandled rejection (a bug; the agent goes on): ${messageOf(e)}`),
  );
  try {
    await beforeStart?.(config);
    agent = await startAgent({ config, version: packageVersion(), log });
  } catch (e) {
    log('error', 'agent', `cannot start: ${messageOf(e)}`);
    process.exit(1);
  }
  if (pending) shutdown(agent);
  // The control servers keep the event loop alive until a signal stops the agent.
}
