/**
 * What every command that talks to the controller shares: the connection options and one way
 * to run, print and fail. Exit codes: 0 done, 1 the controller refused or could not be
 * reached (one readable line on stderr), 2 bad command line.
 */
import type { Command } from 'commander';
import { messageOf } from '@launchfleet/shared';
import type { ServiceProto } from '../api/proto.ts';
import { ApiClient, CliError, type GlobalOptions } from './api-client.ts';

/** Adds `--server`, `--token`, `--ca`, `--insecure` and `--json` to an API command. */
export function apiOptions(cmd: Command): Command {
  return cmd
    .option(
      '--server <host:port>',
      'controller gRPC address (env LAUNCHFLEET_SERVER, default 127.0.0.1:7400)',
    )
    .option('--token <token>', 'API token (env LAUNCHFLEET_TOKEN)')
    .option('--ca <file>', "PEM file of the CA that signed the controller's certificate (env LAUNCHFLEET_CA)")
    .option(
      '--insecure',
      'plaintext gRPC, for a controller on loopback without TLS (env LAUNCHFLEET_INSECURE=1)',
    )
    .option('--json', 'print JSON for scripts instead of a table');
}

/** A bad command line found once the command runs (exit 2). */
export class UsageError extends Error {}

/**
 * Runs `fn` with a client (of the service `proto` loads; the fleet service by default) and closes it. A
 * `CliError` is one line on stderr and exit 1, a `UsageError` the same and exit 2.
 */
export async function withApi(
  opts: GlobalOptions,
  fn: (api: ApiClient) => Promise<void>,
  proto?: () => ServiceProto,
): Promise<void> {
  let api: ApiClient | undefined;
  try {
    api = proto ? new ApiClient(opts, proto()) : new ApiClient(opts);
    await fn(api);
  } catch (e) {
    if (e instanceof UsageError || e instanceof CliError) {
      process.stderr.write(`launchfleet: ${e.message}\n`);
      process.exitCode = e instanceof UsageError ? 2 : 1;
      return;
    }
    throw new Error(messageOf(e), { cause: e });
  } finally {
    api?.close();
  }
}

/** Runs `fn` with a client; prints `fn`'s text (or JSON) and maps failures to exit codes. */
export function runApi(
  opts: GlobalOptions,
  fn: (api: ApiClient) => Promise<{ json: unknown; text: string }>,
): Promise<void> {
  return withApi(opts, async (api) => {
    const out = await fn(api);
    process.stdout.write(opts.json ? `${JSON.stringify(out.json, null, 2)}\n` : out.text);
  });
}

/** Commander's options of a command, typed loosely. */
export type Opts = GlobalOptions & Record<string, unknown>;

export { CliError };
