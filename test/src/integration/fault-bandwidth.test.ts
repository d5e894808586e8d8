/**
 * Fault suite (docs/fault-suite.md): the agent's link squeezed by a bandwidth limit. The agent
 * process runs in its own network namespace (netns.ts, a veth pair on a private /30) and its link
 * is shaped both ways with a token bucket (`tc qdisc ... tbf`: the namespace's end for agent ->
 * broker, the host's end for broker -> agent) at 8 kbit/s, a 1,600-byte bucket (about one
 * packet) and at most 1 s of queue (packets beyond it are dropped), for 60 s, while a job is
 * applied four more times.
 * Nothing is cut. Real nats-server, controller and agent processes; jobs are real processes.
 *
 * Promised to the user and checked:
 * - the limit really was on the agent's path (each shaper sent bytes and held some over the limit);
 * - the agent and the steady job keep their pids; never two instances of the churned job (any
 *   version) or of the steady job machine-wide (sampled every 200 ms);
 * - after the limit is lifted the last apply runs, once, and the older versions nowhere (no lost
 *   update), and the node is online;
 * - no event lost or doubled: every event this agent start published has a message id
 *   `<node>.<boot>.<sequence>` (event-ids.ts); the events stream holds sequences 1..N of this
 *   boot, each once; and the agent logged no event dropped after failed publishes. (An event
 *   dropped from a full outbox before its first publish has no id and is not seen by this check;
 *   a job-state event replaced by a newer one of the same job is folding, by design.)
 * Printed, not asserted (the figures of the degradation): each version's apply-to-run latency, the
 * node's presence samples, disconnects, and what the shapers sent, dropped and held back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { eventsStream } from '@launchfleet/shared/messages';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { alive, eventually, sleep } from '../support/agent.ts';
import {
  applyToAll,
  controllerConn,
  faultPlist,
  instances,
  listedPids,
  presence as nodePresence,
} from '../support/fault-fleet.ts';
import { type AgentNetns, makeAgentNetns, netnsUnavailable, tbfUnavailable } from '../support/netns.ts';

const base = 30_000 + Math.floor(Math.random() * 3000) * 10;
const steady = 'com.fault.bw.steady';
const churn = 'com.fault.bw.churn';
const steadyCmd = `sleep ${base}`;
const churnCmd = (v: number) => `sleep ${base + 3}${v}`;
/** As in fault-partition: each version outlives its stop by ExitTimeOut, so an overlap would show. */
const churnPlist = (v: number) =>
  faultPlist(churn, `trap '' TERM; exec ${churnCmd(v)}`, '\n  <key>ExitTimeOut</key><integer>2</integer>');
const rateKbit = 8;
const limitS = 60;
const versions = 5;
const t0 = Date.now();
const log = (s: string) => console.log(`[fault-bandwidth ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);

function instancesLike(prefix: string): string[] {
  const n: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmd.startsWith(prefix) && alive(Number(d))) n.push(cmd);
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

function cmdOf(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** The message ids (`<node>.<boot>.<seq>`) of every event of `nodeId` in the events stream. */
async function storedEventIds(nc: NatsConnection, nodeId: string): Promise<string[]> {
  const js = jetstream(nc);
  // One filter subject as a string (filter_subject; an array needs nats-server 2.10); headers only.
  const c = await js.consumers.get(eventsStream.name, {
    filter_subjects: `lf.events.${nodeId}.>`,
    headers_only: true,
  });
  const info = await c.info(true);
  const want = info.num_pending;
  const ids: string[] = [];
  if (want === 0) return ids;
  const msgs = await c.consume();
  for await (const m of msgs) {
    ids.push(m.headers?.get('Nats-Msg-Id') ?? '');
    if (m.info.pending === 0) break;
  }
  await msgs.close();
  return ids;
}

const reason = netnsUnavailable() ?? tbfUnavailable();

describe(
  'fault: the agent link under a bandwidth limit (tc tbf in its network namespace)',
  { timeout: 300_000, skip: reason ?? false },
  () => {
    let net: AgentNetns;
    let fleet: LocalFleet;
    let nc: NatsConnection;
    const presence = () => nodePresence(fleet);
    const online = async () => /online/i.test(await presence());
    const pidOf = async (label: string) => (await listedPids(fleet)).get(label);

    before(async () => {
      net = makeAgentNetns();
      log(`namespace ${net.name}: host ${net.hostAddress}, agent ${net.nsAddress}`);
      fleet = await startLocalFleet({ agentNetns: { name: net.name, hostAddress: net.hostAddress } });
      nc = await controllerConn(fleet);
      await applyToAll(fleet, steady, faultPlist(steady, `exec ${steadyCmd}`));
      await eventually(async () => await pidOf(steady), 60_000, 'the steady job runs in the namespace');
      await eventually(online, 30_000, 'the node is online');
    });

    after(async () => {
      const keep = process.env['LF_FAULT_LOGS'];
      if (keep && fleet) cpSync(join(fleet.dir, 'logs'), keep, { recursive: true });
      try {
        await nc?.close();
        await fleet?.stop();
      } finally {
        net?.unlimit();
        net?.remove();
      }
    });

    test(`${rateKbit} kbit/s each way for ${limitS} s: the link degrades and recovers, no job twice, the last apply runs, no event lost`, async () => {
      const agentPid = fleet.agentPid();
      const steadyPid = await pidOf(steady);
      assert.ok(agentPid && steadyPid);
      const logAt = (await fleet.agentLog()).length;
      let maxChurn = 0;
      let maxSteady = 0;
      const appliedAt = new Map<number, number>();
      const firstRan = new Map<number, number>();
      const sampler = setInterval(() => {
        const running = instancesLike(`sleep ${base + 3}`);
        maxChurn = Math.max(maxChurn, running.length);
        for (const c of running) {
          const v = Number(c.slice(`sleep ${base + 3}`.length));
          if (!firstRan.has(v)) firstRan.set(v, Date.now());
        }
        maxSteady = Math.max(maxSteady, instances(steadyCmd));
      }, 200);
      sampler.unref();
      const apply = async (v: number) => {
        const at = Date.now();
        await applyToAll(fleet, churn, churnPlist(v));
        appliedAt.set(v, at);
      };
      await apply(1);
      await eventually(async () => cmdOf(await pidOf(churn)) === churnCmd(1), 60_000, 'churn v1 runs');
      const states: string[] = [];
      let shaped: ReturnType<AgentNetns['shaped']> | undefined;
      let healedAt = 0;
      try {
        net.limit(rateKbit, 1600, 1000);
        const limitAt = Date.now();
        for (let v = 2; v <= versions; v++) {
          await apply(v);
          const next = limitAt + (v - 1) * 10_000;
          while (Date.now() < next) {
            states.push(await presence());
            await sleep(1000);
          }
        }
        while (Date.now() - limitAt < limitS * 1000) {
          states.push(await presence());
          await sleep(1000);
        }
        shaped = net.shaped();
        net.unlimit();
        healedAt = Date.now();
        await eventually(
          async () => cmdOf(await pidOf(churn)) === churnCmd(versions),
          60_000,
          `the last apply (v${versions}) runs`,
        );
        await eventually(online, 60_000, 'the node is online');
        log(
          `v${versions} running and online ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the limit was lifted`,
        );
        await sleep(3000);
      } finally {
        clearInterval(sampler);
        net.unlimit();
      }
      const agentLog = (await fleet.agentLog()).slice(logAt);
      const disconnects = (agentLog.match(/link: disconnected/g) ?? []).length;
      const offline = states.filter((p) => /offline/i.test(p)).length;
      const latency = (v: number) => {
        const a = appliedAt.get(v);
        const r = firstRan.get(v);
        return a !== undefined && r !== undefined
          ? `${((r - a) / 1000).toFixed(1)} s`
          : 'never ran (superseded)';
      };
      log(
        `apply-to-run latency: v1 ${latency(1)} (no limit); limited ${[2, 3, 4, 5].map((v) => `v${v} ${latency(v)}`).join(', ')}` +
          `; ran before the limit was lifted: ${[2, 3, 4, 5].filter((v) => (firstRan.get(v) ?? Infinity) < healedAt).join(',') || 'none'}`,
      );
      log(
        `during ${limitS} s at ${rateKbit} kbit/s: ${disconnects} disconnects logged, ${offline} of ${states.length} presence samples offline; ` +
          `at most ${maxChurn} churn and ${maxSteady} steady instances at once; shapers: ${JSON.stringify(shaped)}`,
      );
      // The limit was on the agent's path, both ways.
      assert.ok(shaped && shaped.out.bytes > 0 && shaped.in.bytes > 0, 'both shapers passed traffic');
      assert.ok(
        shaped.out.overlimits + shaped.in.overlimits > 0,
        'the shapers held packets over the limit (the link was squeezed)',
      );
      assert.equal(fleet.agentPid(), agentPid, 'the agent never exited');
      assert.equal(
        (agentLog.match(/event dropped/g) ?? []).length,
        0,
        'the agent dropped no event after failed publishes',
      );
      assert.equal(await pidOf(steady), steadyPid, 'the steady job kept its pid');
      assert.equal(maxSteady, 1, 'never two steady instances');
      assert.equal(maxChurn, 1, 'never two instances of the churned job');
      assert.equal(instances(churnCmd(versions)), 1, 'the last apply runs, once');
      for (let v = 1; v < versions; v++) assert.equal(instances(churnCmd(v)), 0, `v${v} stopped`);

      // No event lost or doubled: this boot's sequences 1..N, each stored once.
      const bootOf = (id: string) => id.split('.').slice(0, -1).join('.');
      const seqOf = (id: string) => Number(id.split('.').pop());
      let ids: string[] = [];
      await eventually(
        async () => {
          ids = await storedEventIds(nc, fleet.nodeId);
          return ids.length > 0;
        },
        30_000,
        'the agent events in the stream',
      );
      const last = ids[ids.length - 1] ?? '';
      const boot = bootOf(last);
      const seqs = ids.filter((id) => bootOf(id) === boot).map(seqOf);
      const sorted = [...seqs].sort((a, b) => a - b);
      const max = sorted[sorted.length - 1] ?? 0;
      const missing = Array.from({ length: max }, (_, i) => i + 1).filter((s) => !sorted.includes(s));
      const doubled = sorted.filter((s, i) => i > 0 && sorted[i - 1] === s);
      log(
        `events of this agent start in the stream: ${seqs.length}, sequences 1..${max}; missing ${missing.length}, doubled ${doubled.length}`,
      );
      assert.ok(
        ids.every((id) => id !== ''),
        'every stored event carries a message id',
      );
      assert.deepEqual(missing, [], 'no event of this agent start missing from the stream');
      assert.deepEqual(doubled, [], 'no event stored twice');
      assert.ok(max > 0 && seqs.length === max, `sequences 1..${max}, each once (${seqs.length})`);
    });
  },
);
