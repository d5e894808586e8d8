/** `launchfleet nodes list|describe|revoke`. */
import type { Command } from 'commander';
import { type Opts, apiOptions, runApi } from './api-command.ts';
import { duration, jobStateOf, presence, table, time, text } from './table.ts';

type Obj = Record<string, unknown>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const s = text;
const labelsText = (l: unknown) =>
  Object.entries((l ?? {}) as Record<string, string>)
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
        selector: s(o['selector']),
        presence: o['online']
          ? 'PRESENCE_ONLINE'
          : o['offline']
            ? 'PRESENCE_OFFLINE'
            : 'PRESENCE_UNSPECIFIED',
      });
      const rows = arr(r['nodes']).map((n) => [
        s(n['nodeId']),
        s(n['hostname']),
        n['revoked'] ? 'revoked' : n['credentialsExpired'] ? 'expired' : presence(n['presence']),
        duration(Number(n['stalenessMs'])),
        s(n['health']),
        s(n['jobCount']),
        s(n['problemCount']),
        labelsText(n['labels']),
      ]);
      const text = rows.length
        ? `${table(['node', 'hostname', 'presence', 'last seen', 'health', 'jobs', 'problems', 'labels'], rows)}` +
          `${s(r['online'])} online, ${s(r['offline'])} offline\n`
        : 'no nodes\n';
      return { json: r, text };
    }),
  );

  apiOptions(
    nodes.command('describe').argument('<node>', 'node id or hostname').description('one node and its jobs'),
  ).action(async (node: string, o: Opts) =>
    runApi(o, async (api) => {
      const r = await api.call('DescribeNode', { node });
      const sm = (r['summary'] ?? {}) as Obj;
      const head = [
        `node:       ${s(sm['nodeId'])}`,
        `hostname:   ${s(sm['hostname'])}`,
        `presence:   ${sm['revoked'] ? 'revoked' : presence(sm['presence'])} (last seen ${duration(Number(sm['stalenessMs']))} ago)`,
        `credentials: ${credentialsText(sm, r)}`,
        `health:     ${s(sm['health'])}`,
        `labels:     ${labelsText(sm['labels'])}`,
        `enrolled:   ${time(Number(r['enrolledAtMs']))}`,
        `status:     ${time(Number(r['lastStatusMs']))}; heartbeat ${time(Number(r['lastHeartbeatMs']))}`,
      ];
      const jobs = arr(r['jobs']).map((j) => [
        s(j['label']),
        s(j['domain']) || '-',
        s(jobStateOf(j)['subState']),
        s(jobStateOf(j)['active']),
        s(jobStateOf(j)['result']),
        s(j['version']) || '-',
        j['hasLastExitStatus'] ? s(j['lastExitStatus']) : '-',
        j['crashLooping'] ? 'crash-looping' : j['loadFailed'] ? 'failed' : j['throttled'] ? 'throttled' : '-',
      ]);
      const text = `${head.join('\n')}\n\n${jobs.length ? table(['label', 'domain', 'state', 'active', 'result', 'version', 'last exit', 'problem'], jobs) : 'no jobs reported\n'}`;
      return { json: r, text };
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
export function revokeText(nodeId: string, r: Obj): string {
  const servers = arr(r['servers']);
  const acks = arr(r['acks']);
  const inForce = servers.filter((v) => v['inForce']).map((v) => s(v['server']));
  const notYet = servers.filter((v) => !v['inForce']).map((v) => s(v['server']));
  const lines = [
    `revoked ${nodeId}: credentials of user ${s(r['publicKey'])} issued at or before ` +
      `${time(Number(r['revokedAtMs']))} are refused; its connections were closed`,
    `account update acknowledged by ${acks.length} server(s): ${acks.map((a) => s(a['server'])).join(', ') || '-'}`,
    inForce.length > 0
      ? `in force on ${inForce.length} server(s): ${inForce.join(', ')} (kept in each server's resolver directory)`
      : 'no server confirmed the revocation yet',
  ];
  if (notYet.length > 0) lines.push(`NOT in force yet on: ${notYet.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** The credentials line of `nodes describe`. */
export function credentialsText(sm: Obj, r: Obj): string {
  const exp = Number(sm['credentialsExpireAtMs']);
  const renewals = Number(r['credentialRenewals']);
  const issuer = s(r['credentialsIssuer']);
  const issued =
    `issued ${time(Number(r['credentialsIssuedAtMs']))}${renewals > 0 ? `, renewed ${renewals} times` : ''}` +
    // Which account key signed them: after a key rotation, what the old key may be retired after.
    (issuer !== '' && issuer !== '-' ? `, signed by ${issuer}` : '');
  if (sm['revoked']) return `revoked (${issued})`;
  if (!(exp > 0)) return `never expire (enrolled before credentials expired; ${issued})`;
  if (sm['credentialsExpired'])
    return `EXPIRED at ${time(exp)}: the node is refused until it re-enrols with a new bootstrap token (launchfleet tokens create)`;
  return `expire ${time(exp)} (${issued}; the agent renews them before)`;
}
