/**
 * `launchfleet jobs apply|delete|list|get|health`: desired state and fleet-wide job health.
 */
import { type Command, Option } from 'commander';
import { readPlistText } from './plist-input.ts';
import { type Opts, apiOptions, runApi } from './api-command.ts';
import { type ResponseOf, targetOf } from './api-client.ts';
import { duration, presence, table, time, text } from './table.ts';

function targetText(t: ResponseOf<'GetJob'>['target']): string {
  if (t?.kind === 'all' || t?.all === true) return 'all';
  if (t?.kind === 'selector' || (t?.selector !== undefined && t.selector !== ''))
    return `selector ${t.selector ?? ''}`;
  const names = t?.nodes?.names ?? [];
  return names.length ? `nodes ${names.slice(0, 3).join(',')}${names.length > 3 ? ',…' : ''}` : '-';
}

type JobClearing = Pick<
  ResponseOf<'GetJob'>,
  'deleted' | 'clearingCount' | 'clearingNodeIds' | 'clearingUnlisted'
>;

/** How many nodes still to clear, for `jobs list`'s nodes column (`''` when none). */
export function clearingShort(j: JobClearing): string {
  if (j.clearingUnlisted) return 'some to clear';
  return j.clearingCount > 0 ? `${j.clearingCount} to clear` : '';
}

/**
 * `jobs get`'s line about the nodes the job is still to be taken away from (undefined when none):
 * at most `shown` ids (all with --json), each stripped of control characters (a record is JSON
 * anyone with write access to `lf_jobs` could have written).
 */
export function clearingLine(j: JobClearing, shown = 10): string | undefined {
  const retry = j.deleted ? 'run jobs delete again' : 'retry the apply';
  if (j.clearingUnlisted)
    return (
      `clearing: more nodes than the job record can name may still hold the job; ${retry} ` +
      "(it finds them by listing the label's keys)"
    );
  if (j.clearingCount === 0) return undefined;
  const ids = j.clearingNodeIds.slice(0, shown).map((id) => id.replace(/[\p{Cc}\p{Cf}]/gu, '?'));
  const more = j.clearingCount - ids.length;
  return (
    `clearing: ${j.clearingCount} ${j.clearingCount === 1 ? 'node' : 'nodes'} may still hold the job ` +
    `(their delete failed); ${retry}${ids.length ? `: ${ids.join(', ')}${more > 0 ? `, … (+${more})` : ''}` : ''}`
  );
}

/**
 * What `jobs delete` prints, and whether the job is off every node. Before 2026-12-07 a delete
 * that left the job on some nodes printed only how many it removed and exited 0: neither a person
 * nor a script could tell. Each warning (the controller's) means the same: delete it again.
 */
export function deleteReport(
  r: Pick<ResponseOf<'DeleteJob'>, 'label' | 'version' | 'nodesRemoved' | 'failures' | 'warnings'>,
): { text: string; cleared: boolean } {
  const lines = [
    `deleted ${r.label} (version ${r.version}): removed from ${r.nodesRemoved} nodes`,
    ...r.warnings.map((w) => `warning: ${w}`),
    ...r.failures.map((f) => `failed on ${f.nodeId}: ${f.reason}`),
  ];
  return { text: `${lines.join('\n')}\n`, cleared: r.failures.length === 0 && r.warnings.length === 0 };
}

export function registerJobsCommand(program: Command): void {
  const jobs = program.command('jobs').description('apply, delete and inspect jobs across the fleet');

  apiOptions(
    jobs
      .command('apply')
      .argument('<file>', 'the job plist (XML, binary or JSON)')
      .description('sign the job for the target nodes and make it their desired state')
      .option('--nodes <list>', 'comma-separated node ids or hostnames')
      .option('--selector <sel>', 'label selector over node labels: k=v,k2!=v2,k3,!k4')
      .option('--all', 'every enrolled node')
      .option('--domain <domain>', 'system, gui/<uid>, user/<uid>, gui/* or user/*', 'system')
      .option('--validity-days <n>', "how long the signed bundles stay valid (default: the controller's)"),
  ).action(async (file: string, o: Opts) => {
    const chosen = [o['nodes'], o['selector'], o['all']].filter((x) => x !== undefined).length;
    if (chosen !== 1) {
      process.stderr.write('launchfleet: jobs apply needs exactly one of --nodes, --selector or --all\n');
      process.exitCode = 2;
      return;
    }
    await runApi(o, async (api) => {
      const plist = await readPlistText(file);
      const target = targetOf(
        o['nodes'] !== undefined ? text(o['nodes']) : undefined,
        o['selector'] !== undefined ? text(o['selector']) : undefined,
      );
      const days = Number(o['validityDays'] ?? 0);
      const r = await api.call('ApplyJob', {
        plist,
        domain: text(o['domain']),
        target,
        validitySeconds: Number.isFinite(days) && days > 0 ? Math.round(days * 86_400) : 0,
      });
      const failures = r.failures;
      const lines = [
        `applied ${r.label} version ${r.version}: ${r.nodesWritten} of ${r.nodesTargeted} nodes written` +
          `${r.nodesUnchanged ? `, ${r.nodesUnchanged} already had it` : ''}` +
          `${r.nodesSuperseded ? `, ${r.nodesSuperseded} already newer` : ''}` +
          `${r.nodesRemoved ? `, removed from ${r.nodesRemoved}` : ''} in ${duration(r.durationMs)}`,
        ...r.warnings.map((w) => `warning: ${w}`),
        ...failures.map((f) => `failed on ${f.nodeId}: ${f.reason}`),
      ];
      if (failures.length > 0) process.exitCode = 1;
      return { json: r, text: `${lines.join('\n')}\n` };
    });
  });

  apiOptions(jobs.command('delete').argument('<label>').description('remove the job from every node')).action(
    async (label: string, o: Opts) =>
      runApi(o, async (api) => {
        const r = await api.call('DeleteJob', { label });
        const report = deleteReport(r);
        if (!report.cleared) process.exitCode = 1;
        return { json: r, text: report.text };
      }),
  );

  apiOptions(jobs.command('list').description('jobs applied through the controller')).action(
    async (o: Opts) =>
      runApi(o, async (api) => {
        const r = await api.call('ListJobs', {});
        const rows = r.jobs.map((j) => [
          j.label,
          j.domain,
          String(j.version),
          [j.deleted ? 'deleted' : String(j.nodeCount), clearingShort(j)].filter(Boolean).join(', '),
          targetText(j.target),
          time(j.updatedAtMs),
          j.updatedBy,
        ]);
        return {
          json: r,
          text: rows.length
            ? table(['label', 'domain', 'version', 'nodes', 'target', 'updated', 'by'], rows)
            : 'no jobs\n',
        };
      }),
  );

  apiOptions(
    jobs
      .command('get')
      .argument('<label>')
      .description('one job record')
      .option('--plist', 'print only the plist'),
  ).action(async (label: string, o: Opts) =>
    runApi(o, async (api) => {
      const r = await api.call('GetJob', { label });
      if (o['plist']) return { json: r, text: r.plist };
      const text = [
        `label:    ${r.label}`,
        `domain:   ${r.domain}`,
        `version:  ${r.version}${r.deleted ? ' (deleted)' : ''}`,
        `target:   ${targetText(r.target)}`,
        `nodes:    ${r.nodeCount}`,
        `updated:  ${time(r.updatedAtMs)} by ${r.updatedBy}`,
        ...[clearingLine(r)].filter((l) => l !== undefined),
      ].join('\n');
      return { json: r, text: `${text}\n` };
    }),
  );

  apiOptions(
    jobs
      .command('health')
      .argument('<label>')
      .description('where the job runs, and where it is throttled, crash-looping or failed')
      .option('--limit <n>', 'problem nodes to list (default 100)')
      // The old name, kept working (--limit is the name for "at most N" across launchfleet).
      .addOption(new Option('--max <n>', 'old name of --limit').hideHelp()),
  ).action(async (label: string, o: Opts) =>
    runApi(o, async (api) => {
      const limit = o['limit'] ?? o['max'];
      const r = await api.call('JobHealth', { label, maxProblems: Number(limit ?? 100) || 100 });
      const counts = (c: Readonly<Record<string, number>>) =>
        Object.entries(c).sort(([a], [b]) => a.localeCompare(b));
      const states = counts(r.states);
      const subStates = counts(r.subStates);
      const out: string[] = [];
      const desired = r.desiredVersion;
      out.push(
        `${label}: ${r.nodesReporting} nodes report it` +
          (desired > 0
            ? `; desired version ${desired} on ${r.nodesTargeted} nodes, ${r.nodesAtDesiredVersion} run it, ${r.nodesMissing} not reporting it yet`
            : '; not applied through this controller') +
          (r.nodesOffline ? `; ${r.nodesOffline} of them offline (stale reports)` : ''),
      );
      out.push('');
      out.push(
        states.length
          ? [
              table(
                ['state', 'nodes'],
                states.map(([k, v]) => [k, String(v)]),
              ).trimEnd(),
              '',
              table(
                ['sub-state', 'nodes'],
                subStates.map(([k, v]) => [k, String(v)]),
              ).trimEnd(),
            ].join('\n')
          : 'no node reports this job',
      );
      const problems = r.problems;
      out.push('');
      out.push(`problems: ${r.crashLooping} crash-looping, ${r.failed} failed, ${r.throttled} throttled`);
      if (problems.length) {
        out.push('');
        out.push(
          table(
            [
              'node',
              'hostname',
              'problem',
              'state',
              'result',
              'last exit',
              'crashes',
              'presence',
              'staleness',
              'version',
            ],
            problems.map((p) => [
              p.nodeId,
              p.hostname,
              p.problem.replace('_', '-'),
              p.jobState?.subState ?? '',
              p.jobState?.result ?? '',
              p.hasLastExitStatus ? String(p.lastExitStatus) : '-',
              String(p.successiveCrashes),
              presence(p.presence),
              duration(p.stalenessMs),
              p.version || '-',
            ]),
          ).trimEnd(),
        );
        if (r.problemsTruncated) out.push(`(more problem nodes than listed; --limit to see more)`);
      }
      out.push('');
      out.push(`answered in ${r.queryMicros} µs from the controller's fleet index`);
      return { json: r, text: `${out.join('\n')}\n` };
    }),
  );
}
