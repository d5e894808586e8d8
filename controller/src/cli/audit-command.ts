/** `launchfleet audit`: who changed what, when, with what outcome (admin only). */
import type { Command } from 'commander';
import { type Opts, apiOptions, runApi } from './api-command.ts';
import { table, time, text } from './table.ts';

export function registerAuditCommand(program: Command): void {
  apiOptions(
    program
      .command('audit')
      .description('the audit stream, newest first')
      .option('--limit <n>', 'entries to show (at most 1000)', '50')
      .option('--method <name>', 'only this API method (ApplyJob, DeleteJob, RevokeNode, ...)'),
  ).action(async (o: Opts) =>
    runApi(o, async (api) => {
      const r = await api.call('ListAuditEntries', {
        limit: Number(o['limit']) || 50,
        method: text(o['method']),
      });
      const rows = r.entries.map((e) => [
        time(e.atMs),
        e.who,
        e.role || '-',
        e.method,
        e.target || '-',
        e.outcome,
        e.detail,
      ]);
      return {
        json: r,
        text: rows.length
          ? table(['when', 'who', 'role', 'method', 'target', 'outcome', 'detail'], rows)
          : 'no audit entries\n',
      };
    }),
  );
}
