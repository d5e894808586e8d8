/**
 * The controller at 10,000 nodes on a real nats-server: an apply to all of them signs and stores
 * every node's bundle and lists it in the node's desired-state index, and a fleet-wide health
 * query over their status snapshots is answered from the in-memory index. How long these take is
 * measured by the fleet benchmark (test/bench/FLEET-RESULTS.md), not asserted here: this shared
 * 2-core machine can be many times slower from one run to the next. The nodes are synthetic (registry
 * records and status snapshots written in the node-messages format, as 10,000 agents would);
 * the controller, NATS and the API path are the real ones.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { jobStateReport } from '@launchfleet/shared/job';
import { Kvm } from '@nats-io/kv';
import {
  buckets,
  encodeLabelToken,
  encodeNodeStatus,
  keys,
  nodeIdFromRandom,
} from '@launchfleet/shared/messages';
import type { RunningController } from '@launchfleet/controller';
import { forEachBounded } from '@launchfleet/controller/desired';
import { ControllerFleet, RawApi, jobPlist } from '../support/controller-fleet.ts';

const N = 10_000;
const label = 'com.acme.fleetwide';

describe('controller: 10,000 nodes', () => {
  let fleet: ControllerFleet;
  let c: RunningController;
  let api: RawApi;
  const ids = Array.from({ length: N }, () => nodeIdFromRandom(randomBytes(13)));

  before(async () => {
    fleet = await ControllerFleet.start();
    c = await fleet.startController();
    api = new RawApi(c.grpcPort, undefined);
    const kvm = new Kvm(c.app.nc);
    const registry = await kvm.open(buckets.registry);
    const now = Date.now();
    await forEachBounded(ids, 512, async (nodeId, i) => {
      await registry.put(
        keys.registry(nodeId),
        JSON.stringify({
          v: 1,
          nodeId,
          publicKey: `U${'A'.repeat(55)}`,
          hostname: `mac-${i}`,
          inventory: { site: i % 4 === 0 ? 'ams' : 'fra' },
          tokenId: '0000000000000000',
          enrolledAt: now,
        }),
      );
    });
    await waitUntil(() => c.aggregator.index.size === N, 'registry watch of 10,000 nodes');
  });

  after(async () => {
    api?.close();
    await fleet?.close();
  });

  test('apply to 10,000 nodes: every bundle signed, stored and listed in its node index', async (t) => {
    const t0 = performance.now();
    const r = await api.call(
      'ApplyJob',
      { plist: jobPlist(label), target: { all: true } },
      fleet.tokens.operator,
    );
    const ms = performance.now() - t0;
    t.diagnostic(
      `apply to ${N} nodes: ${Math.round(ms)} ms end to end (controller: ${String(r['durationMs'])} ms)`,
    );
    assert.equal(r['nodesWritten'], N);
    assert.deepEqual(r['failures'], []);
    const desired = await new Kvm(c.app.nc).open(buckets.desired);
    const e = await desired.get(keys.desired(ids[N - 1] ?? '', label));
    assert.ok(e && e.operation === 'PUT');
    let listed = 0;
    await forEachBounded(ids, 256, async (id) => {
      if ((await c.app.desired.index.read(id))?.includes(encodeLabelToken(label))) listed++;
    });
    assert.equal(listed, N, 'every node index lists the label');
  });

  test('health over 10,000 status snapshots through the API: every node counted', async (t) => {
    const nodes = await new Kvm(c.app.nc).open(buckets.nodes);
    await forEachBounded(ids, 512, async (nodeId, i) => {
      const state =
        i % 500 === 0
          ? jobStateReport('spawn-scheduled', 'exit-code')
          : i % 777 === 0
            ? jobStateReport('exited', 'spawn-failed')
            : jobStateReport('running', 'success');
      await nodes.put(
        keys.nodeStatus(nodeId),
        encodeNodeStatus(
          {
            nodeId,
            health: 'ok',
            jobs: { [label]: state, 'com.acme.other': jobStateReport('waiting', 'success') },
            versions: { [label]: '1' },
          },
          Date.now(),
        ),
      );
    });
    await waitUntil(() => c.aggregator.index.jobHealth(label, Date.now(), 0).reporting === N, 'status watch');
    const times: number[] = [];
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      last = await api.call('JobHealth', { label }, fleet.tokens.viewer);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const p99 = times[98] ?? Infinity;
    t.diagnostic(`JobHealth over ${N} nodes: p50 ${times[49]?.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    assert.equal(last['nodesReporting'], N);
    assert.equal(last['nodesAtDesiredVersion'], N);
    assert.equal(last['throttled'], N / 500);
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
