/**
 * `launchfleet rollout start|status|pause|resume|abort|rollback|history`: rollouts of a new job
 * version in steps behind a health gate (issue 7). `status --watch` redraws one progress bar per
 * step on a terminal and prints one plain line per change when stdout is piped.
 */
import { type Command, Option } from 'commander';
import { readPlistText } from './plist-input.ts';
import { type Opts, UsageError, apiOptions, withApi } from './api-command.ts';
import { loadRolloutProto } from '../api/proto.ts';
import { type ApiClient, type RequestOf, type ResponseOf, targetOf } from './api-client.ts';
import { parseCount, parseCounts, parseSeconds } from './rollout-args.ts';
import { renderHistory, renderRollout, watchLine } from './rollout-render.ts';
import { table, text, time } from './table.ts';

type Rollout = ResponseOf<'GetRollout'>;
const finished = new Set(['succeeded', 'failed', 'rolled-back', 'aborted']);

/** Bad flags: exit 2 with the sentence. */
function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new UsageError(r.error);
  return r.value;
}

/** Runs `fn` with a client of the rollout service; failures become one line on stderr and exit 1 (2 for bad flags). */
function withClient(o: Opts, fn: (c: ApiClient) => Promise<void>): Promise<void> {
  return withApi(o, fn, loadRolloutProto);
}

const print = (o: Opts, json: unknown, txt: string): void => {
  process.stdout.write(o.json ? `${JSON.stringify(json, null, 2)}\n` : txt);
};

/** Streams the rollout until it finishes: a redrawn view on a terminal, plain lines when piped, JSON lines with --json. */
async function watch(c: ApiClient, id: string, o: Opts): Promise<Rollout | undefined> {
  const tty = process.stdout.isTTY === true && !o.json;
  const s = c.stream('WatchRollout', { rolloutId: id });
  let drawn = 0;
  let lastLine = '';
  let last: Rollout | undefined;
  try {
    for await (const r of s as AsyncIterable<Rollout>) {
      last = r;
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else if (tty) {
        const out = renderRollout(r, true);
        // Move up over the previous drawing and clear it, then draw again.
        if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
        process.stdout.write(out);
        drawn = out.split('\n').length - 1;
      } else {
        const line = watchLine(r);
        const key = line.slice(line.indexOf(' ') + 1);
        if (key !== lastLine) process.stdout.write(line);
        lastLine = key;
      }
    }
  } catch (e) {
    throw c.explain(e as Parameters<ApiClient['explain']>[0]);
  }
  return last;
}

export function registerRolloutCommand(program: Command): void {
  const ro = program
    .command('rollout')
    .description('roll a new job version out in steps behind a health gate');

  apiOptions(
    ro
      .command('start')
      .argument('<file>', 'the new version of the job (plist: XML, binary or JSON)')
      .description('start a rollout of the job to the target')
      .option('--selector <sel>', 'target: label selector over node labels: k=v,k2!=v2,k3,!k4')
      // The old name, kept working (one name per idea across launchfleet: --selector).
      .addOption(new Option('--label-selector <sel>', 'old name of --selector').hideHelp())
      .option('--nodes <list>', 'target: comma-separated node ids or hostnames')
      .option('--all', 'target: every enrolled node')
      .option('--domain <domain>', 'system, gui/<uid> or user/<uid>', 'system')
      .option('--id <id>', 'rollout id (default: generated)')
      .option('--all-at-once', 'one step with every node')
      .option('--canary <count>', 'canary size: nodes (1) or a percentage (10%)', '1')
      .option(
        '--waves <counts>',
        "each wave's own size after the canary, nodes or % of the whole target, NOT running totals: " +
          '10%,25% = a wave of 10%, then waves of 25% (the last size repeats) until every node is done',
        '100%',
      )
      .option('--max-unavailable <count>', 'nodes in flux at once', '1')
      .option('--min-healthy <duration>', 'how long a node must run the version to be healthy', '30s')
      .option('--deadline <duration>', 'a step fails after this long without progress', '5m')
      .option('--max-unhealthy <count>', 'unhealthy nodes (of the step) that fail it', '1')
      .option('--job-kind <kind>', 'keep-alive, on-demand or timed (default: from the plist)')
      .option('--no-auto-rollback', 'leave touched nodes on the new version when a step fails')
      .option('--watch', 'follow the rollout until it ends'),
  ).action(async (file: string, o: Opts) => {
    await withClient(o, async (c) => {
      if (o['selector'] !== undefined && o['labelSelector'] !== undefined)
        throw new UsageError('--label-selector is the old name of --selector: give one');
      const selector = o['selector'] ?? o['labelSelector'];
      const chosen = [o['nodes'], selector, o['all']].filter((x) => x !== undefined).length;
      if (chosen !== 1)
        throw new UsageError('rollout start needs exactly one of --nodes, --selector or --all');
      const target = targetOf(
        o['nodes'] !== undefined ? text(o['nodes']) : undefined,
        selector !== undefined ? text(selector) : undefined,
      );
      const req: RequestOf<'StartRollout'> = {
        rolloutId: text(o['id']),
        plist: await readPlistText(file),
        domain: text(o['domain']),
        target,
        allAtOnce: o['allAtOnce'] === true,
        canary: must(parseCount(text(o['canary']), '--canary')),
        waves: must(parseCounts(text(o['waves']), '--waves')),
        maxUnavailable: must(parseCount(text(o['maxUnavailable']), '--max-unavailable')),
        minHealthySeconds: must(parseSeconds(text(o['minHealthy']), '--min-healthy')),
        progressDeadlineSeconds: must(parseSeconds(text(o['deadline']), '--deadline')),
        maxUnhealthy: must(parseCount(text(o['maxUnhealthy']), '--max-unhealthy')),
        noAutoRollback: o['autoRollback'] === false,
        jobKind: text(o['jobKind']),
      };
      const r = await c.call('StartRollout', req);
      print(o, r, `started rollout ${r.rolloutId}\n${renderRollout(r, process.stdout.isTTY === true)}`);
      if (o['watch'] === true) {
        const last = await watch(c, r.rolloutId, o);
        if (last && last.phase !== 'succeeded') process.exitCode = 1;
      }
    });
  });

  apiOptions(
    ro
      .command('status')
      .argument('<id>', 'rollout id')
      .description('where a rollout stands: steps, nodes, outcome, latest events')
      .option(
        '--watch',
        'follow it until it ends (a progress bar per step on a terminal, plain lines when piped)',
      ),
  ).action(async (id: string, o: Opts) => {
    await withClient(o, async (c) => {
      if (o['watch'] === true) {
        const last = await watch(c, id, o);
        if (last && !o.json && process.stdout.isTTY !== true)
          process.stdout.write(renderRollout(last, false));
        return;
      }
      const r = await c.call('GetRollout', { rolloutId: id });
      print(o, r, renderRollout(r, process.stdout.isTTY === true));
    });
  });

  for (const [verb, method, what] of [
    ['pause', 'PauseRollout', 'stop updating nodes (failures are still detected)'],
    ['resume', 'ResumeRollout', 'continue a paused rollout'],
    ['abort', 'AbortRollout', 'stop the rollout for good, leaving nodes as they are'],
    ['rollback', 'RollbackRollout', 'set every node the rollout touched back to its previous version'],
  ] as const) {
    apiOptions(
      ro
        .command(verb)
        .argument('<id>', 'rollout id')
        .description(what)
        .option('--reason <text>', 'why (recorded)'),
    ).action(async (id: string, o: Opts) => {
      await withClient(o, async (c) => {
        const r = await c.call(method, { rolloutId: id, reason: text(o['reason']) });
        const applied = r.commandApplied;
        const result = r.commandResult;
        const ignored = result.startsWith('ignored');
        print(
          o,
          r,
          `${verb} ${applied ? (ignored ? 'ignored' : 'applied') : 'queued (the driving controller has not applied it yet)'}: rollout ${id} is ${r.phase}` +
            `${ignored ? ` (${result.replace(/^ignored: /, '')})` : ''}\n`,
        );
        if (ignored) process.exitCode = 1;
      });
    });
  }

  apiOptions(
    ro
      .command('history')
      .argument('[id]', 'one rollout: its steps and events')
      .description('past and current rollouts, newest first (or one rollout in detail)')
      .option('--label <label>', 'only rollouts of this job')
      .option('--limit <n>', 'at most this many', '50'),
  ).action(async (id: string | undefined, o: Opts) => {
    await withClient(o, async (c) => {
      if (id) {
        const r = await c.call('GetRollout', { rolloutId: id });
        print(o, r, renderHistory(r));
        return;
      }
      const limit = Number(text(o['limit']));
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a positive integer');
      const res = await c.call('ListRollouts', { label: text(o['label']), limit });
      const rows = res.rollouts.map((r) => [
        r.rolloutId,
        r.label,
        r.toVersion,
        r.phase,
        `${Math.round(r.progress * 100)}%`,
        time(r.createdAtMs),
        r.createdBy,
        finished.has(r.phase) ? r.outcome : '',
      ]);
      print(o, res, table(['id', 'label', 'version', 'phase', 'progress', 'created', 'by', 'outcome'], rows));
    });
  });
}
