/**
 * `launchfleet tokens create`: a bootstrap token for enrolling machines (through the API), and
 * `launchfleet api-tokens add`: an API token for people and scripts (written into the
 * controller's tokens file on the controller's machine; only its hash is stored).
 */
import { writeFile, chmod } from 'node:fs/promises';
import type { Command } from 'commander';
import { messageOf } from '@launchfleet/shared';
import { addApiToken } from '../auth/api-tokens.ts';
import { isRole } from '../auth/core/roles.ts';
import { CliError, type Opts, apiOptions, runApi } from './api-command.ts';
import { time, text } from './table.ts';

/** `90s`, `15m`, `24h`, `7d` or plain seconds. */
function seconds(text: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return n * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] ?? ''] ?? 1);
}

export function registerTokensCommand(program: Command): void {
  const tokens = program.command('tokens').description('bootstrap tokens that enrol new machines');
  apiOptions(
    tokens
      .command('create')
      .description('create a bootstrap token (shown once) and print the enrolment credentials')
      .option('--ttl <duration>', 'validity: 90s, 15m, 24h, 7d', '24h')
      .option('--uses <n>', 'how many machines may enrol with it', '1')
      .option('--creds-out <file>', "write the bootstrap user's NATS credentials to this file (mode 0600)"),
  ).action(async (o: Opts) =>
    runApi(o, async (api) => {
      const ttl = seconds(text(o['ttl']));
      const uses = Number(o['uses']);
      if (ttl === undefined || ttl <= 0)
        throw new CliError(`--ttl ${text(o['ttl'])}: expected 90s, 15m, 24h or 7d`);
      if (!Number.isInteger(uses) || uses < 1)
        throw new CliError(`--uses ${text(o['uses'])}: expected a whole number >= 1`);
      const r = await api.call('CreateEnrollmentToken', { ttlSeconds: ttl, maxUses: uses });
      const credsOut = o['credsOut'];
      if (typeof credsOut === 'string') {
        await writeFile(credsOut, r.enrollCredentials, { mode: 0o600 });
        await chmod(credsOut, 0o600);
      }
      const out = [
        `token:   ${r.token}`,
        `id:      ${r.id}`,
        `expires: ${time(r.expiresAtMs)} (${r.maxUses} use${r.maxUses === 1 ? '' : 's'})`,
        typeof credsOut === 'string'
          ? `enrolment credentials written to ${credsOut}`
          : 'enrolment credentials: run with --creds-out FILE (or --json) to get them',
        'The token is shown only now.',
      ].join('\n');
      return { json: r, text: `${out}\n` };
    }),
  );

  program
    .command('api-tokens')
    .description('manage API tokens in a controller tokens file (run on the controller host)')
    .command('add')
    .description('add a token with a role; prints the token once (the file keeps only its SHA-256)')
    .requiredOption('--file <file>', "the controller's apiTokensFile")
    .requiredOption('--name <name>', 'who the token is for (shown in the audit stream)')
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .action(async (o: { file: string; name: string; role: string }) => {
      if (!isRole(o.role)) {
        process.stderr.write(`launchfleet: --role ${o.role}: expected viewer, operator or admin\n`);
        process.exitCode = 2;
        return;
      }
      try {
        process.stdout.write(`${await addApiToken(o.file, o.name, o.role)}\n`);
      } catch (e) {
        process.stderr.write(`launchfleet: ${messageOf(e)}\n`);
        process.exitCode = 1;
      }
    });
}
