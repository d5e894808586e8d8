/** `launchfleet nodes list|describe|revoke`. */
import type { Command } from 'commander';
import { type Opts, apiOptions, runApi } from './api-command.ts';
import { duration, presence, table, time, text } from './table.ts';
import type { ResponseOf } from './api-client.ts';

type NodeSummary = ResponseOf<'ListNodes'>['nodes'][number];
type NodeDetail = ResponseOf<'DescribeNode'>;
/** `describe` of a node the controller has no summary of: every field at its default. */
const emptySummary: NodeSummary = {
  nodeId: '',
  hostname: '',
  presence: 'PRESENCE_UNSPECIFIED',
  lastSeenMs: 0,
  stalenessMs: 0,
  health: '',
  jobCount: 0,
  problemCount: 0,
  labels: {},
  revoked: false,
  credentialsExpireAtMs: 0,
  credentialsExpired: false,
};

const labelsText = (l: Readonly<Record<string, string>>) =>
  Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

export function registerNodesCommand(program: Command): void {
  const nodes = program.command('nodes').description('enrolled nodes, their presence and their jobs');

  apiOptions(
    nodes
      .command('list')
      .description('every node with presence, last report and health')
      .option('--selector <sel>', 'only nodes whose labels match')
      .option('--online', 'only online nodes')
      .option('--offline', 'only offline nodes'),
  ).action(async (o: Opts) =>
    runApi(o, async (api) => {
      const r = await api.call('ListNodes', {
        selector: text(o['selector']),
        presence: o['online']
          ? 'PRESENCE_ONLINE'
          : o['offline']
            ? 'PRESENCE_OFFLINE'
            : 'PRESENCE_UNSPECIFIED',
      });
      const rows = r.nodes.map((n) => [
        n.nodeId,
        n.hostname,
        n.revoked ? 'revoked' : n.credentialsExpired ? 'expired' : presence(n.presence),
        duration(n.stalenessMs),
        n.health,
        String(n.jobCount),
        String(n.problemCount),
        labelsText(n.labels),
      ]);
      const out = rows.length
        ? `${table(['node', 'hostname', 'presence', 'last seen', 'health', 'jobs', 'problems', 'labels'], rows)}` +
          `${r.online} online, ${r.offline} offline\n`
        : 'no nodes\n';
      return { json: r, text: out };
    }),
  );

  apiOptions(
    nodes.command('describe').argument('<node>', 'node id or hostname').description('one node and its jobs'),
  ).action(async (node: string, o: Opts) =>
    runApi(o, async (api) => {
      const r = await api.call('DescribeNode', { node });
      const sm = r.summary ?? emptySummary;
      const head = [
        `node:       ${sm.nodeId}`,
        `hostname:   ${sm.hostname}`,
        `presence:   ${sm.revoked ? 'revoked' : presence(sm.presence)} (last seen ${duration(sm.stalenessMs)} ago)`,
        `credentials: ${credentialsText(sm, r)}`,
        `health:     ${sm.health}`,
        `labels:     ${labelsText(sm.labels)}`,
        `enrolled:   ${time(r.enrolledAtMs)}`,
        `status:     ${time(r.lastStatusMs)}; heartbeat ${time(r.lastHeartbeatMs)}`,
      ];
      const jobs = r.jobs.map((j) => [
        j.label,
        j.domain || '-',
        j.jobState?.subState ?? '',
        j.jobState?.active ?? '',
        j.jobState?.result ?? '',
        j.version || '-',
        j.hasLastExitStatus ? String(j.lastExitStatus) : '-',
        j.crashLooping ? 'crash-looping' : j.loadFailed ? 'failed' : j.throttled ? 'throttled' : '-',
      ]);
      const retrying = r.jobs.flatMap((j) =>
        j.retry ? [`  ${j.label}: ${j.retry.why}; ${retryWhen(j.retry, Date.now())}`] : [],
      );
      const out =
        `${head.join('\n')}\n\n${jobs.length ? table(['label', 'domain', 'state', 'active', 'result', 'version', 'last exit', 'problem'], jobs) : 'no jobs reported\n'}` +
        (retrying.length
          ? `\nretrying (the node tries these again by itself):\n${retrying.join('\n')}\n`
          : '');
      return { json: r, text: out };
    }),
  );

  apiOptions(
    nodes
      .command('revoke')
      .argument('<node-id>')
      .description("revoke a node's credentials: it is disconnected at once and refused afterwards"),
  ).action(async (nodeId: string, o: Opts) =>
    runApi(o, async (api) => {
      const r = await api.call('RevokeNode', { nodeId });
      return { json: r, text: revokeText(nodeId, r) };
    }),
  );
}

/** What `nodes revoke` prints: what was done, and on which servers it is in force. */
export function revokeText(nodeId: string, r: ResponseOf<'RevokeNode'>): string {
  const inForce = r.servers.filter((v) => v.inForce).map((v) => v.server);
  const notYet = r.servers.filter((v) => !v.inForce).map((v) => v.server);
  const lines = [
    `revoked ${nodeId}: credentials of user ${r.publicKey} issued at or before ` +
      `${time(r.revokedAtMs)} are refused; its connections were closed`,
    `account update acknowledged by ${r.acks.length} server(s): ${r.acks.map((a) => a.server).join(', ') || '-'}`,
    inForce.length > 0
      ? `in force on ${inForce.length} server(s): ${inForce.join(', ')} (kept in each server's resolver directory)`
      : 'no server confirmed the revocation yet',
  ];
  if (notYet.length > 0) lines.push(`NOT in force yet on: ${notYet.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** The credentials line of `nodes describe`. */
export function credentialsText(
  sm: Partial<Pick<NodeSummary, 'revoked' | 'credentialsExpired'>> & {
    readonly credentialsExpireAtMs: number | string;
  },
  r: Partial<Pick<NodeDetail, 'credentialRenewals'>> & {
    readonly credentialsIssuedAtMs: number | string;
    readonly credentialsIssuer: string;
  },
): string {
  const exp = Number(sm.credentialsExpireAtMs);
  const renewals = Number(r.credentialRenewals);
  const issuer = r.credentialsIssuer;
  const issued =
    `issued ${time(Number(r.credentialsIssuedAtMs))}${renewals > 0 ? `, renewed ${renewals} times` : ''}` +
    // Which account key signed them: after a key rotation, what the old key may be retired after.
    (issuer !== '' && issuer !== '-' ? `, signed by ${issuer}` : '');
  if (sm.revoked === true) return `revoked (${issued})`;
  if (!(exp > 0)) return `never expire (enrolled before credentials expired; ${issued})`;
  if (sm.credentialsExpired === true)
    return `EXPIRED at ${time(exp)}: the node is refused until it re-enrols with a new bootstrap token (launchfleet tokens create)`;
  return `expire ${time(exp)} (${issued}; the agent renews them before)`;
}

/** When a node's reconciler tries a job again (`nodes describe`, "retrying"). */
export function retryWhen(
  r: { readonly failures: number; readonly nextAttemptAtMs: number | string },
  nowMs: number,
): string {
  const at = Number(r.nextAttemptAtMs);
  const failed = r.failures > 0 ? `failed ${r.failures} time${r.failures === 1 ? '' : 's'} in a row; ` : '';
  if (!(at > 0)) return `${failed}being tried now`;
  return `${failed}next attempt ${at > nowMs ? `in ${duration(at - nowMs)}` : 'due now'} (${time(at)})`;
}
