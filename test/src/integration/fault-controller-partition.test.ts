/**
 * Fault suite (docs/fault-suite.md): the controller that drives a rollout on the minority side of
 * a partition. The controller process runs in its own network namespace (netns.ts, a veth pair on
 * a private /30; nats-server listens on the host's end); three agent processes, the broker and
 * (in test 2) a second controller stay on the host. Its link is cut with iptables DROP inside the
 * namespace, both ways, nothing reset; the namespace's loopback keeps working, so the CLI run in
 * the namespace still reaches the cut controller's API, as an operator next to it would.
 *
 * 1. One controller. A rollout (canary 1, waves of 1, 5 s health window) is cut right after the
 *    canary's write went past the broker, for 25 s (longer than the 15 s rollout lease). Promised
 *    and checked: while cut, nothing is written (every write to the job's desired keys is counted
 *    on the broker as it passes) and the stored rollout does not move; asked for the rollout's
 *    status, the cut controller says clearly that the broker did not answer (gRPC UNAVAILABLE)
 *    instead of showing a state it cannot read; after the heal the same controller resumes and
 *    the rollout succeeds, ending once (one `succeeded` rollout event).
 * 2. A second controller on the broker's side. A rollout started through the first controller,
 *    which holds its lease, is cut after the canary's write until the rollout is finished: the
 *    second controller takes the lease over once it expired and finishes the rollout (its status
 *    through the second controller); after the heal the first one writes nothing more.
 * Both: every node's key holds each version once in the stream's own history ([v1, v2, v3]: no
 * node written twice, none skipped); each agent runs the last version, one process machine-wide;
 * agents and controllers alive.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  buckets,
  controllerEventSource,
  decodeNodeEvent,
  encodeLabelToken,
  keys,
  subjects,
} from '@launchfleet/shared/messages';
import { parseSignedBundle } from '@launchfleet/shared/signing';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually, sleep } from '../support/agent.ts';
import { applyToAll, controllerConn, faultPlist, instances, listedPids } from '../support/fault-fleet.ts';
import { type AgentNetns, makeAgentNetns, netnsUnavailable } from '../support/netns.ts';

const label = 'com.fault.ctlpart';
const base = 30_000 + Math.floor(Math.random() * 20_000) * 10;
const cmd = (v: number): string => `sleep ${base + v}`;
const agents = ['agent', 'a2', 'a3'];
const leaseS = 15;
const t0 = Date.now();
const log = (s: string) =>
  console.log(`[fault-controller-partition ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);

interface RolloutView {
  phase?: string;
  outcome?: string;
}
const ended = (p: string | undefined) => /^(succeeded|failed|aborted|rolled[-_]back)$/.test(p ?? '');

const reason = netnsUnavailable();

describe(
  'fault: the rollout controller on the minority side of a partition',
  { timeout: 420_000, skip: reason ?? false },
  () => {
    let net: AgentNetns;
    let fleet: LocalFleet;
    let nc: NatsConnection;
    const nodeIds: string[] = [];
    const token = encodeLabelToken(label);
    /** Every write to the job's desired keys as it passes the broker: [at, node id]. */
    const writes: [number, string][] = [];
    /** The rollout events the controllers publish, as they pass the broker: [rollout id, reason]. */
    const rolloutEvents: [string, string][] = [];

    before(async () => {
      net = makeAgentNetns();
      log(`namespace ${net.name}: host ${net.hostAddress}, controller ${net.nsAddress}`);
      fleet = await startLocalFleet({
        controllerNetns: { name: net.name, hostAddress: net.hostAddress },
        extraAgents: agents.slice(1).map((name) => ({ name, labels: {} })),
      });
      nodeIds.push(fleet.nodeId, ...agents.slice(1).map((a) => fleet.extraNodeIds[a] ?? ''));
      nc = await controllerConn(fleet);
      nc.subscribe(`$KV.${buckets.desired}.*.${token}`, {
        callback: (_e, m) => {
          writes.push([Date.now(), m.subject.split('.')[2] ?? '']);
        },
      });
      nc.subscribe(subjects.event(controllerEventSource, 'rollout'), {
        callback: (_e, m) => {
          const d = decodeNodeEvent(m.data);
          if (d.ok) rolloutEvents.push([(d.value.detail ?? '').split(':')[0] ?? '', d.value.reason ?? '?']);
        },
      });
      await nc.flush();
      await applyToAll(fleet, label, faultPlist(label, `exec ${cmd(1)}`));
      for (const a of agents)
        await eventually(async () => (await listedPids(fleet, a)).get(label), 60_000, `v1 runs on ${a}`);
      log(
        `fleet up (controller in the namespace, pid ${fleet.controllerPid()}), v1 running on ${agents.length} agents`,
      );
    });

    after(async () => {
      try {
        net?.heal();
        await nc?.close();
        const keep = process.env['LF_FAULT_LOGS'];
        if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
        await fleet?.stop();
      } finally {
        net?.remove();
      }
    });

    const status = async (id: string, server?: string): Promise<RolloutView> => {
      const r = await fleet.cli(['rollout', 'status', id, '--json', ...(server ? ['--server', server] : [])]);
      if (r.code !== 0) throw new Error(`rollout status: ${r.stderr}`);
      return JSON.parse(r.stdout) as RolloutView;
    };
    const startRollout = async (id: string, v: number, minHealthy: string) => {
      const f = join(fleet.dir, `v${v}.plist`);
      writeFileSync(f, faultPlist(label, `exec ${cmd(v)}`));
      const r = await fleet.cli([
        ...['rollout', 'start', f, '--all', '--id', id, '--canary', '1', '--waves', '1'],
        ...['--max-unavailable', '1', '--min-healthy', minHealthy, '--deadline', '5m'],
      ]);
      assert.equal(r.code, 0, r.stderr);
    };
    const storedRollout = async (id: string) => {
      const e = await (await new Kvm(nc).open(buckets.rollouts)).get(keys.rollout(id));
      return e?.operation === 'PUT'
        ? (e.json<{ state: { phase: { kind: string } } }>() ?? undefined)
        : undefined;
    };
    const leaseOf = async (id: string) => {
      const e = await (await new Kvm(nc).open(buckets.rollouts)).get(keys.rolloutLease(id));
      return e?.operation === 'PUT' ? e.json<{ holder: string; expiresAt: number }>() : undefined;
    };
    const endsOf = (id: string) => {
      const m = new Map<string, number>();
      for (const [r, why] of rolloutEvents) if (r === id) m.set(why, (m.get(why) ?? 0) + 1);
      return Object.fromEntries(m);
    };
    /** Each agent runs `cmd(v)` once, v-1 nowhere (one process machine-wide per agent). */
    const runsOnce = async (v: number) => {
      await eventually(() => instances(cmd(v)) === agents.length, 60_000, `v${v} runs on every agent`);
      await sleep(2000);
      assert.equal(instances(cmd(v)), agents.length, `one v${v} instance per agent`);
      assert.equal(instances(cmd(v - 1)), 0, `v${v - 1} stopped everywhere`);
    };

    test(`one controller cut off for ${leaseS + 10} s mid-rollout: nothing written meanwhile, status says the broker did not answer, it resumes and the rollout ends once`, async () => {
      const from = writes.length;
      await startRollout('part1', 2, '5s');
      await eventually(() => writes.length > from, 30_000, 'the canary written');
      net.cutLink();
      const cutAt = Date.now();
      const atCut = writes.length;
      const phaseAtCut = (await storedRollout('part1'))?.state.phase.kind;
      log(
        `cut the controller's link after ${atCut - from} write(s) (the canary); stored phase ${phaseAtCut}`,
      );
      // What the operator next to the cut controller sees.
      await sleep(3000);
      const tAsk = Date.now();
      const asked = await fleet.cli(['rollout', 'status', 'part1', '--json'], 40_000);
      const askS = (Date.now() - tAsk) / 1000;
      log(
        `rollout status through the cut controller: exit ${asked.code} after ${askS.toFixed(1)} s: ${(asked.stderr || asked.stdout).trim().slice(0, 300)}`,
      );
      const phases = new Set<string>();
      while (Date.now() - cutAt < (leaseS + 10) * 1000) {
        phases.add((await storedRollout('part1'))?.state.phase.kind ?? '?');
        await sleep(1000);
      }
      const lease = await leaseOf('part1');
      const writtenWhileCut = writes.length - atCut;
      net.heal();
      const healedAt = Date.now();
      log(
        `healed after ${((healedAt - cutAt) / 1000).toFixed(1)} s; while cut: ${writtenWhileCut} writes, stored phases ${[...phases].join(',')}; ` +
          `lease ${lease ? `${lease.holder}, expired ${((healedAt - lease.expiresAt) / 1000).toFixed(1)} s before the heal` : 'none'}`,
      );
      assert.equal(writtenWhileCut, 0, 'nothing written while the controller was cut off');
      assert.deepEqual([...phases], [phaseAtCut], 'the stored rollout did not move while cut off');
      assert.notEqual(asked.code, 0, 'the cut controller does not show a state it cannot read');
      // Not "the controller did not answer in time": the controller answers, its broker does not.
      assert.match(
        asked.stderr,
        /UNAVAILABLE: the controller at .* answered: the message broker \(NATS\) did not answer/,
        'it says the broker did not answer',
      );
      // A read changed nothing: it must not say the change may or may not take effect.
      assert.match(asked.stderr, /this call only reads, nothing was changed/, 'worded for a read');
      assert.doesNotMatch(asked.stderr, /may or may not take effect/, 'not worded for a write');
      assert.ok(askS < 30, `it says so within 30 s (${askS.toFixed(1)} s)`);

      const done = await eventually(
        async () => {
          const s = await status('part1').catch(() => undefined);
          if (!s) await sleep(1000);
          return s && ended(s.phase) ? s : undefined;
        },
        120_000,
        'the rollout ends after the heal',
      );
      log(
        `rollout ${done.phase} ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the heal; events ${JSON.stringify(endsOf('part1'))}`,
      );
      assert.equal(done.phase, 'succeeded', JSON.stringify(done));
      await sleep(2000);
      const ends = endsOf('part1');
      assert.equal(ends['succeeded'], 1, `the rollout ended once (${JSON.stringify(ends)})`);
      for (const k of ['failed', 'aborted', 'rolled-back']) assert.equal(ends[k], undefined, `no ${k} event`);
      const mine = writes.slice(from).map(([, id]) => id);
      assert.deepEqual([...mine].sort(), [...nodeIds].sort(), 'one write per node, none skipped');
      await runsOnce(2);
    });

    test('a second controller on the broker side takes the cut rollout over and finishes it; the cut one writes nothing after the heal', async () => {
      const from = writes.length;
      await startRollout('part2', 3, '8s');
      const lease = await eventually(() => leaseOf('part2'), 20_000, 'the first controller holds the lease');
      const second = await fleet.startSecondController();
      log(`rollout part2 started; lease held by ${lease.holder}; second controller up at ${second}`);
      await eventually(() => writes.length > from, 30_000, 'the canary written');
      const s0 = await status('part2', second);
      assert.ok(
        !ended(s0.phase) && writes.length - from < nodeIds.length,
        `mid-rollout at the cut (${s0.phase})`,
      );
      net.cutLink();
      const cutAt = Date.now();
      log(`cut the first controller's link after ${writes.length - from} write(s); phase ${s0.phase}`);
      const done = await eventually(
        async () => {
          const s = await status('part2', second).catch(() => undefined);
          if (!s) await sleep(1000);
          return s && ended(s.phase) ? s : undefined;
        },
        150_000,
        'the second controller ends the rollout',
      );
      const doneS = (Date.now() - cutAt) / 1000;
      const takenBy = (await leaseOf('part2'))?.holder;
      net.heal();
      const healedAt = Date.now();
      const atHeal = writes.length;
      log(
        `rollout ${done.phase} through the second controller ${doneS.toFixed(1)} s after the cut (lease now ${takenBy ?? 'released'}); healed`,
      );
      assert.equal(done.phase, 'succeeded', JSON.stringify(done));
      // The first controller's link works again: it must write nothing (the rollout is not its own).
      await sleep(15_000);
      assert.equal(writes.length - atHeal, 0, 'the first controller wrote nothing after the heal');
      const seen = await eventually(
        async () => (await status('part2').catch(() => undefined))?.phase,
        60_000,
        'the first controller answers after the heal',
      );
      assert.equal(seen, 'succeeded', 'the first controller shows it succeeded');
      const ends = endsOf('part2');
      log(
        `after the heal: ${writes.length - atHeal} writes in ${((Date.now() - healedAt) / 1000).toFixed(1)} s; events ${JSON.stringify(ends)}`,
      );
      assert.equal(ends['succeeded'], 1, `the rollout ended once (${JSON.stringify(ends)})`);
      for (const k of ['failed', 'aborted', 'rolled-back']) assert.equal(ends[k], undefined, `no ${k} event`);
      const mine = writes.slice(from).map(([, id]) => id);
      assert.deepEqual([...mine].sort(), [...nodeIds].sort(), 'one write per node, none skipped');
      await runsOnce(3);

      // Over both tests, in the stream's own history of each key: v1, v2, v3, each once.
      const desired = await new Kvm(nc).open(buckets.desired);
      for (const id of nodeIds) {
        const versions: (number | null)[] = [];
        for await (const e of await desired.history({ key: keys.desired(id, label) })) {
          const p = e.operation === 'PUT' ? parseSignedBundle(e.value) : undefined;
          versions.push(p?.ok ? p.signed.bundle.version : null);
        }
        assert.deepEqual(versions, [1, 2, 3], `desired history of ${id}`);
      }
      for (const a of agents) assert.ok(fleet.agentPid(a), `${a} alive`);
      assert.ok(fleet.controllerPid('controller'), 'the first controller alive');
      assert.ok(fleet.controllerPid('controller-2'), 'the second controller alive');
    });
  },
);
