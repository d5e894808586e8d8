/** `launchfleet events [--follow]`: node and controller events from the LF_EVENTS stream. */
import type { Command } from 'commander';
import { messageOf } from '@launchfleet/shared';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ApiClient, type CliError, type ResponseOf } from './api-client.ts';
import { type Opts, apiOptions } from './api-command.ts';
import { time, text } from './table.ts';

export function registerEventsCommand(program: Command): void {
  apiOptions(
    program
      .command('events')
      .description('recent events (refused bundles, trust updates, enrolment refusals, ...)')
      .option('--follow', 'keep printing new events until Ctrl-C')
      .option('--since <seconds>', 'stored events of the last N seconds first', '3600')
      .option('--source <node>', 'only events of this node id (or "controller")')
      .option('--label <label>', 'only events about this job'),
  ).action(async (o: Opts) => {
    let api: ApiClient;
    try {
      api = new ApiClient(o);
    } catch (e) {
      process.stderr.write(`launchfleet: ${messageOf(e)}\n`);
      process.exitCode = 1;
      return;
    }
    const call = api.stream('WatchEvents', {
      source: text(o['source']),
      label: text(o['label']),
      historySeconds: Math.max(0, Math.floor(Number(o['since']) || 0)),
      follow: o['follow'] === true,
    });
    const stop = () => call.cancel();
    process.once('SIGINT', stop);
    await new Promise<void>((resolve) => {
      call.on('data', (ev: ResponseOf<'WatchEvents'>) => {
        if (o.json) process.stdout.write(`${JSON.stringify(ev)}\n`);
        else
          process.stdout.write(
            `${time(ev.atMs)}  ${ev.source}  ${ev.kind}` +
              `${ev.label ? `  ${ev.label}` : ''}${ev.reason ? `  ${ev.reason}` : ''}` +
              `${ev.version ? `  v${ev.version}` : ''}${ev.detail ? `  ${ev.detail}` : ''}\n`,
          );
      });
      call.on('error', (e: ServiceError) => {
        if (e.code !== status.CANCELLED /* Ctrl-C */) {
          const err: CliError = api.explain(e);
          process.stderr.write(`launchfleet: ${err.message}\n`);
          process.exitCode = 1;
        }
        resolve();
      });
      call.on('end', () => resolve());
    });
    process.removeListener('SIGINT', stop);
    api.close();
  });
}
