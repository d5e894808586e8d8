/**
 * The fault suite (docs/fault-suite.md): the controller that drives a rollout is SIGKILLed in
 * the middle of it while a second controller process runs beside it.
 *
 * Real: nats-server, two `launchfleet-controller` processes on the same NATS, keys and tokens,
 * four `launchfleet-agent` processes with real jobs, the `launchfleet` CLI. The rollout is
 * started through the first controller (canary 1, then waves of 1, a 2 s health window); the
 * second controller starts once the first holds the rollout's lease, so the test knows whom to
 * kill; it is SIGKILLed (its whole process group: no shutdown of any kind) once the canary has
 * passed and the rollout is in its waves.
 *
 * Promised and checked: the rollout finishes `succeeded` through the second controller (it takes
 * the lease over once the dead one's expires, 15 s by default); every node's desired key was
 * written exactly once by the rollout (its KV history is [v1, v2], and the test counts every
 * write to the job's keys as it goes past on the broker: one per node); no node is skipped
 * (each runs v2); each runs it once (one process machine-wide per node, not restarted after it
 * started); agents and the second controller stay up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { buckets, encodeLabelToken, keys } from '@launchfleet/shared/messages';
import { parseSignedBundle } from '@launchfleet/shared/signing';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually, sleep } from '../support/agent.ts';
import { applyToAll, controllerConn, faultPlist, instances, listedPids } from '../support/fault-fleet.ts';

const label = 'com.fault.rollout';
const base = 30_000 + Math.floor(Math.random() * 20_000) * 10;
const cmd = (v: number): string => `sleep ${base + v}`;
const agents = ['agent', 'a2', 'a3', 'a4'];
const t0 = Date.now();
const since = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

interface RolloutView {
  phase?: string;
  outcome?: string;
  progress?: number;
}

describe(
  'fault: the rollout controller SIGKILLed mid-rollout, a second controller running',
  { timeout: 240_000 },
  () => {
    let fleet: LocalFleet;
    let nc: NatsConnection;
    let second = '';
    const nodeIds: string[] = [];

    before(async () => {
      fleet = await startLocalFleet({
        extraAgents: agents.slice(1).map((name) => ({ name, labels: {} })),
      });
      nodeIds.push(fleet.nodeId, ...agents.slice(1).map((a) => fleet.extraNodeIds[a] ?? ''));
      nc = await controllerConn(fleet);
      await applyToAll(fleet, label, faultPlist(label, `exec ${cmd(1)}`));
      for (const a of agents)
        await eventually(async () => (await listedPids(fleet, a)).get(label), 60_000, `v1 runs on ${a}`);
      console.log(`[fault-controller] fleet up, v1 running on ${agents.length} agents at ${since()}`);
    });

    after(async () => {
      await nc?.close();
      const keep = process.env['LF_FAULT_LOGS'];
      if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
      await fleet?.stop();
    });

    test('kill -9 of the driving controller: the second one finishes the rollout, one write per node', async () => {
      // Every write to the job's desired keys, as it passes the broker.
      const token = encodeLabelToken(label);
      const writes: string[] = [];
      const sub = nc.subscribe(`$KV.${buckets.desired}.*.${token}`, {
        callback: (_e, m) => {
          writes.push(m.subject.split('.')[2] ?? '');
        },
      });
      await nc.flush();
      const f = join(fleet.dir, 'v2.plist');
      writeFileSync(f, faultPlist(label, `exec ${cmd(2)}`));
      const started = await fleet.cli([
        'rollout',
        'start',
        f,
        '--all',
        '--id',
        'kill9',
        '--canary',
        '1',
        '--waves',
        '1',
        '--max-unavailable',
        '1',
        '--min-healthy',
        '2s',
        '--deadline',
        '60s',
      ]);
      assert.equal(started.code, 0, started.stderr);
      // The first controller is the only one: it takes the lease. Then the second starts beside it.
      const rollouts = await new Kvm(nc).open(buckets.rollouts);
      const lease = await eventually(
        async () => {
          const e = await rollouts.get(keys.rolloutLease('kill9'));
          return e && e.operation === 'PUT' ? e.json<{ holder: string }>() : undefined;
        },
        20_000,
        'the first controller holds the lease',
      );
      second = await fleet.startSecondController();
      const status = async (server: string): Promise<RolloutView> => {
        const r = await fleet.cli(['rollout', 'status', 'kill9', '--json', '--server', server]);
        if (r.code !== 0) throw new Error(`rollout status: ${r.stderr}`);
        return JSON.parse(r.stdout) as RolloutView;
      };
      // Past the canary, into the waves: kill the driver with its work half done.
      await eventually(() => writes.length >= 2, 60_000, 'the canary passed and a wave began');
      const writesAtKill = writes.length;
      const killedAt = Date.now();
      await fleet.killController('controller');
      console.log(
        `[fault-controller] killed controller (lease holder ${lease.holder}) after ${writesAtKill} of ${nodeIds.length} node writes at ${since()}`,
      );
      const done = await eventually(
        async () => {
          const s = await status(second);
          return s.phase === 'succeeded' || s.phase === 'failed' || s.phase === 'rolled-back' ? s : undefined;
        },
        60_000,
        'the second controller finishes the rollout',
      );
      console.log(
        `[fault-controller] rollout ${done.phase} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill; ` +
          `writes: ${writes.length} (${writes.join(',')})`,
      );
      assert.equal(done.phase, 'succeeded', JSON.stringify(done));
      assert.ok(
        writes.length > writesAtKill,
        'the second controller (the only one alive) wrote after the kill',
      );
      // The finished rollout's lease is released (deleted); while it lived it was the second's.
      const le = await rollouts.get(keys.rolloutLease('kill9'));
      if (le?.operation === 'PUT' && le.length > 0)
        assert.notEqual(
          le.json<{ holder: string }>().holder,
          lease.holder,
          'the second controller took the lease over',
        );

      // Counted on the broker: exactly one write per node, to every node.
      await nc.flush();
      sub.unsubscribe();
      assert.deepEqual([...writes].sort(), [...nodeIds].sort(), 'one rollout write per node, none skipped');
      // And in the stream's own history of each key: the apply (v1), then the rollout (v2).
      const desired = await new Kvm(nc).open(buckets.desired);
      for (const id of nodeIds) {
        const versions: (number | null)[] = [];
        for await (const e of await desired.history({ key: keys.desired(id, label) })) {
          const p = e.operation === 'PUT' ? parseSignedBundle(e.value) : undefined;
          versions.push(p?.ok ? p.signed.bundle.version : null);
        }
        assert.deepEqual(versions, [1, 2], `desired history of ${id}`);
      }
      // Every node runs v2, once, and it is not restarted afterwards.
      const pids: number[] = [];
      for (const a of agents)
        pids.push(
          await eventually(
            async () => {
              const p = (await listedPids(fleet, a)).get(label);
              return p !== undefined && instances(cmd(2)) >= 1 ? p : undefined;
            },
            30_000,
            `v2 runs on ${a}`,
          ),
        );
      await eventually(() => instances(cmd(2)) === agents.length, 20_000, 'one v2 instance per agent');
      await sleep(3000);
      for (const [i, a] of agents.entries())
        assert.equal((await listedPids(fleet, a)).get(label), pids[i], `${a}: v2 not restarted`);
      assert.equal(instances(cmd(2)), agents.length, 'one v2 instance per agent');
      assert.equal(instances(cmd(1)), 0, 'v1 stopped everywhere');
      for (const a of agents) assert.ok(fleet.agentPid(a), `${a} alive`);
      assert.ok(fleet.controllerPid('controller-2'), 'the second controller alive');
      console.log(`[fault-controller] done at ${since()}`);
    });
  },
);
