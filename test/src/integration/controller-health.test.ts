/**
 * Fleet aggregation against a real nats-server: enrolled nodes write status snapshots,
 * inventory and heartbeats in the node-messages format with their own credentials; the
 * controller answers "where is this job throttled / crash-looping / failed?" from its index,
 * tracks presence and staleness, exports the catalog's metric names (problem jobs only per
 * node), and shrugs off malformed messages on every subject it listens to.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import {
  buckets,
  decodeEnrollReply,
  decodeNodeEvent,
  encodeEnvelope,
  encodeHeartbeat,
  encodeNodeStatus,
  keys,
  subjects,
} from '@launchfleet/shared/messages';
import { jobStateReport } from '@launchfleet/shared/job';
import type { RunningController } from '@launchfleet/controller';
import type { NodeIdentity } from '@launchfleet/node-agent/link';
import { ControllerFleet, RawApi, jobPlist } from '../support/controller-fleet.ts';
import { repoRoot } from '../support/paths.ts';

const label = 'com.acme.backup';
const running = jobStateReport('running', 'success');

describe('controller: fleet health, presence, metrics', () => {
  let fleet: ControllerFleet;
  let c: RunningController;
  let api: RawApi;
  let nodes: NodeIdentity[];
  const id = (i: number) => nodes[i]?.nodeId ?? '';

  before(async () => {
    fleet = await ControllerFleet.start({ offlineAfterSeconds: 2 });
    c = await fleet.startController();
    nodes = await fleet.enrollNodes(c, 6, (i) => ({ site: i < 3 ? 'ams' : 'fra' }));
    api = new RawApi(c.grpcPort, undefined);
    await waitUntil(() => nodes.every((n) => c.aggregator.index.node(n.nodeId)?.registered), 'registry');
    await api.call('ApplyJob', { plist: jobPlist(label), target: { all: true } }, fleet.tokens.operator);
    const v = { [label]: '1' };
    await fleet.putStatus(nodes[0] as NodeIdentity, {
      health: 'ok',
      jobs: { [label]: running },
      versions: v,
    });
    await fleet.putStatus(nodes[1] as NodeIdentity, {
      health: 'degraded',
      jobs: { [label]: jobStateReport('spawn-scheduled', 'exit-code') },
      versions: v,
      details: { [label]: { domain: 'system', lastExitStatus: 1, successiveCrashes: 1 } },
    });
    await fleet.putStatus(nodes[2] as NodeIdentity, {
      health: 'failing',
      jobs: { [label]: running, 'com.acme.other': jobStateReport('waiting', 'success') },
      versions: v,
      details: {
        [label]: { domain: 'system', crashLooping: true, lastExitStatus: -11, successiveCrashes: 7 },
      },
      counters: { signatureRefusals: { 'bad-signature': 2 }, drift: { unloaded: 1 } },
    });
    // Node 3 runs an agent from before the typed job state: its report is read all the same.
    await fleet.putRawStatus(nodes[3] as NodeIdentity, {
      health: 'degraded',
      jobs: { [label]: 'spawn_failed' },
      versions: {},
      details: { [label]: { domain: 'system', loadFailed: true, reason: 'spawn-failed' } },
    });
    await fleet.putStatus(nodes[4] as NodeIdentity, {
      health: 'ok',
      jobs: { [label]: running },
      versions: { [label]: '0' },
    });
    await fleet.putInventory(nodes[4] as NodeIdentity, {
      hostname: 'mac-four',
      labels: { site: 'ams', os: 'macos' },
    });
    await waitUntil(
      () => c.aggregator.index.jobHealth(label, Date.now(), 10).reporting === 5,
      'five statuses',
    );
  });

  after(async () => {
    api?.close();
    await fleet?.close();
  });

  test('job health: counts by state and the problem nodes with last exit and staleness', async () => {
    const h = await api.call('JobHealth', { label }, fleet.tokens.viewer);
    assert.deepEqual(h['states'], { active: 3, activating: 1, failed: 1 });
    assert.deepEqual(h['subStates'], { running: 3, 'spawn-scheduled': 1, exited: 1 });
    assert.equal(h['nodesReporting'], 5);
    assert.equal(h['desiredVersion'], 1);
    assert.equal(h['nodesTargeted'], 6);
    assert.equal(h['nodesMissing'], 1, 'node 5 never reported');
    assert.equal(h['nodesAtDesiredVersion'], 3);
    assert.deepEqual([h['crashLooping'], h['failed'], h['throttled']], [1, 1, 1]);
    const problems = h['problems'] as Record<string, unknown>[];
    assert.deepEqual(
      problems.map((p) => [p['nodeId'], p['problem'], p['hasLastExitStatus'] ? p['lastExitStatus'] : null]),
      [
        [id(2), 'crash_looping', -11],
        [id(3), 'failed', null],
        [id(1), 'throttled', 1],
      ],
    );
    assert.equal(problems[0]?.['successiveCrashes'], 7);
    assert.equal(problems[1]?.['reason'], 'spawn-failed');
    for (const p of problems) {
      assert.equal(p['presence'], 'PRESENCE_ONLINE');
      assert.ok((p['stalenessMs'] as number) >= 0 && (p['stalenessMs'] as number) < 2000);
    }
    assert.ok((h['queryMicros'] as number) < 200_000);
  });

  test('inventory from the node replaces the enrolment labels; selectors see it', async () => {
    const r = await api.call('ListNodes', { selector: 'os=macos' }, fleet.tokens.viewer);
    const listed = r['nodes'] as Record<string, unknown>[];
    assert.deepEqual(
      listed.map((n) => [n['nodeId'], n['hostname']]),
      [[id(4), 'mac-four']],
    );
    const d = await api.call('DescribeNode', { node: 'mac-four' }, fleet.tokens.viewer);
    const jobs = d['jobs'] as Record<string, unknown>[];
    assert.deepEqual(
      jobs.map((j) => [j['label'], j['state'], j['jobState'], j['version']]),
      [[label, 'active', running, '0']],
    );
  });

  test('a node whose heartbeat period cannot keep it online is named, once', async () => {
    const seen: string[] = [];
    const sub = c.app.nc.subscribe('lf.events.controller.control-error', {
      callback: (_e, m) => {
        const d = decodeNodeEvent(m.data);
        if (d.ok && d.value.reason === 'heartbeat-too-slow') seen.push(d.value.detail ?? '');
      },
    });
    try {
      await c.app.nc.flush();
      // A refused heartbeat just before: its event must not use up the slow beater's (one
      // limiter for every reason once swallowed this diagnostic for good).
      const junkConn = await fleet.nodeConn(nodes[3] as NodeIdentity);
      junkConn.publish(subjects.heartbeat(id(3)), 'junk');
      await junkConn.flush();
      await waitUntil(() => c.aggregator.refused.heartbeat > 0, 'the junk refused');
      // Offline after 2 s; this node says it beats every 5 s.
      await fleet.heartbeat(nodes[2] as NodeIdentity, 1, 5000);
      await fleet.heartbeat(nodes[2] as NodeIdentity, 2, 5000);
      // A node within the threshold is not named.
      await fleet.heartbeat(nodes[3] as NodeIdentity, 1, 1000);
      await waitUntil(() => seen.length > 0, 'the controller event');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(seen.length, 1, seen.join('\n'));
      assert.match(
        seen[0] ?? '',
        new RegExp(`node ${id(2)} sends a heartbeat every 5 s, but nodes are offline after 2 s`),
      );
    } finally {
      sub.unsubscribe();
    }
  });

  test('presence: nodes go offline after the timeout, heartbeats keep a node online, staleness grows', async () => {
    let seq = 0;
    const beat = setInterval(() => void fleet.heartbeat(nodes[0] as NodeIdentity, ++seq), 200);
    try {
      await waitUntilAsync(async () => {
        const r = await api.call('ListNodes', { presence: 'PRESENCE_OFFLINE' }, fleet.tokens.viewer);
        return (r['nodes'] as unknown[]).length === 5;
      }, 'five nodes offline');
      const all = await api.call('ListNodes', {}, fleet.tokens.viewer);
      assert.equal(all['online'], 1);
      assert.equal(all['offline'], 5);
      const byId = new Map((all['nodes'] as Record<string, unknown>[]).map((n) => [n['nodeId'], n]));
      assert.equal(byId.get(id(0))?.['presence'], 'PRESENCE_ONLINE');
      assert.equal(byId.get(id(5))?.['stalenessMs'], -1, 'never seen');
      assert.ok((byId.get(id(1))?.['stalenessMs'] as number) >= 2000);
      // Offline nodes stay in the answer, with their stale report.
      const h = await api.call('JobHealth', { label }, fleet.tokens.viewer);
      assert.equal(h['nodesReporting'], 5);
      assert.equal(h['nodesOffline'], 4);
      const p = (h['problems'] as Record<string, unknown>[]).find((x) => x['nodeId'] === id(1));
      assert.equal(p?.['presence'], 'PRESENCE_OFFLINE');
      assert.ok((p?.['stalenessMs'] as number) >= 2000);
    } finally {
      clearInterval(beat);
    }
  });

  test('/metrics: catalog names; per-node job series only for problem jobs; alert rule names all present', async () => {
    await api.call('JobHealth', { label }, fleet.tokens.viewer);
    const text = await (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
    const has = (s: string) => text.split('\n').some((l) => l.startsWith(s));
    assert.ok(has(`launchfleet_fleet_jobs{label="${label}",state="active"} 3`), text);
    assert.ok(has(`launchfleet_job_crash_looping{node="${id(2)}",domain="system",label="${label}"} 1`));
    assert.ok(has(`launchfleet_job_last_exit_status{node="${id(2)}",domain="system",label="${label}"} -11`));
    assert.ok(has(`launchfleet_job_successive_crashes{node="${id(2)}",domain="system",label="${label}"} 7`));
    assert.ok(has(`launchfleet_job_throttled{node="${id(1)}",domain="system",label="${label}"} 1`));
    assert.ok(has(`launchfleet_job_load_failed{node="${id(3)}",domain="system",label="${label}"} 1`));
    assert.ok(!text.includes(`node="${id(0)}",domain`), 'a healthy job has no per-node series');
    assert.ok(has('launchfleet_fleet_jobs{label="com.acme.other",state="inactive"} 1'));
    assert.ok(has(`launchfleet_agent_signature_refusals_total{node="${id(2)}",reason="bad-signature"} 2`));
    assert.ok(has(`launchfleet_agent_drift_total{node="${id(2)}",kind="unloaded"} 1`));
    assert.ok(has(`launchfleet_node_last_seen_timestamp_seconds{node="${id(0)}"}`));
    assert.match(text, /launchfleet_nodes\{presence="online"\} \d/);
    assert.match(text, /launchfleet_health_query_duration_seconds_count [1-9]/);
    assert.match(
      text,
      /launchfleet_api_request_duration_seconds_count\{method="JobHealth",code="OK"\} [1-9]/,
    );
    // Every metric the alert rules use (except the rollout engine's, and the agents' own info
    // series, which the rules read from the agents where they are scraped) is exported.
    const rules = await readFile(join(repoRoot, 'deploy/prometheus/rules/launchfleet-alerts.yml'), 'utf8');
    const names = new Set([...rules.matchAll(/\blaunchfleet_[a-z_]+/g)].map((m) => m[0]));
    for (const n of names) {
      if (n.startsWith('launchfleet_rollout_') || n === 'launchfleet_agent_info') continue;
      assert.ok(text.includes(`\n${n}{`) || text.includes(`\n${n} `), `alert rule metric ${n} missing`);
    }
  });

  test('malformed messages on status, inventory, heartbeat and enrolment subjects do not crash it', async () => {
    const kv = await new Kvm(c.app.nc).open(buckets.nodes);
    const before = { ...c.aggregator.refused };
    const junk: (string | Uint8Array)[] = [
      'not json',
      '{"v":1,"kind":"node.status","ts":1,"body":{"nodeId":"x"}}',
      encodeEnvelope('node.status', 1, { nodeId: id(0), health: 'ok', jobs: 'nope', versions: {} }),
      encodeEnvelope('node.status', 1, {
        nodeId: id(0),
        health: 'ok',
        jobs: {},
        versions: {},
        details: { a: { domain: 5 } },
      }),
      encodeNodeStatus({ nodeId: id(1), health: 'ok', jobs: {}, versions: {} }, 1), // another node's id
      new Uint8Array([0xff, 0xfe, 0x00]),
      'x'.repeat(300 * 1024),
    ];
    for (const j of junk.slice(0, -1)) await kv.put(keys.nodeStatus(id(0)), j);
    await kv.put(keys.nodeInventory(id(0)), '{"v":1,"kind":"node.inventory","ts":1,"body":{"labels":[1]}}');
    const nc = c.app.nc;
    for (const j of junk) nc.publish(subjects.heartbeat(id(0)), j);
    nc.publish(subjects.heartbeat('not-a-node'), encodeHeartbeat({ nodeId: id(0), seq: 1, health: 'ok' }, 1));
    nc.publish('lf.hb.x.y', 'junk');
    const enrollReplies = await Promise.all(
      ['junk', '{"v":1,"kind":"enroll.request","ts":1,"body":{"token":5}}'].map((d) =>
        nc.request(subjects.enroll, d, { timeout: 5000 }),
      ),
    );
    for (const r of enrollReplies) {
      const rep = decodeEnrollReply(r.data);
      assert.ok(rep.ok && !rep.value.ok && rep.value.error === 'invalid-request');
    }
    nc.publish(subjects.enroll, 'no reply subject');
    await nc.flush();
    await waitUntil(
      () =>
        c.aggregator.refused.status >= before.status + 5 &&
        c.aggregator.refused.heartbeat >= before.heartbeat + 7 &&
        c.aggregator.refused.inventory >= before.inventory + 1,
      'refusals counted',
    );
    // Still serving, and a good status still applies (node 0's last good one was replaced by
    // junk, which is refused: the index keeps the last good status).
    const h = await api.call('JobHealth', { label }, fleet.tokens.viewer);
    assert.equal(h['nodesReporting'], 5);
    await fleet.putStatus(nodes[0] as NodeIdentity, {
      health: 'ok',
      jobs: { [label]: jobStateReport('spawn-scheduled', 'crash') },
      versions: {},
    });
    await waitUntil(
      () => c.aggregator.index.problemOf(id(0), label) === 'throttled',
      'good status after junk',
    );
    const l = await api.call('ListNodes', {}, fleet.tokens.viewer);
    assert.equal((l['nodes'] as unknown[]).length, 6);
  });
});

async function waitUntil(check: () => boolean | undefined, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitUntilAsync(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
