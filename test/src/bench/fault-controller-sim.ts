/**
 * The controller killed mid-rollout over simulated nodes (issue 17, docs/fault-suite.md): the
 * local fleet (real nats-server, controller, one real agent: test/src/support/local-fleet.ts)
 * plus N simulated nodes (the fleet simulator, test/src/sim, one process, production link timings,
 * all healthy), and a second controller process on the same NATS, keys and tokens.
 *
 * A job is applied to every node (v1); a rollout of v2 is started through the first controller
 * (canary 1, then waves of `--waves`, a `--min-healthy` health window); once it holds the
 * rollout's lease the second controller starts; once `--kill-at` of the nodes were written the
 * first controller is SIGKILLed (its process group: no shutdown of any kind). Checked:
 * - the rollout ends `succeeded`, through the second controller;
 * - every write to the job's desired keys, counted as it passes the broker (a subscription on
 *   `$KV.lf_desired.*.<label>`): exactly one per node, none skipped, none twice;
 * - the stream's own history of every node's key: [v1, v2] (read back after the rollout);
 * - the real agent runs v2, once;
 * - the rollout ended once: of the rollout events the controllers publish
 *   (`lf.events.controller.rollout`, counted on the broker as they pass) exactly one says
 *   `succeeded` and none `failed`, `aborted` or `rolled-back`.
 *
 *   scripts/fault-controller-sim.sh [--nodes 1000] [--kill-at 0.3] [--waves 25%] [--min-healthy 5s] [--out FILE]
 *
 * Exit 0 when every check passed, 1 otherwise; the figures are printed either way and written as
 * JSON to `--out`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kvm } from '@nats-io/kv';
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
import { applyToAll, controllerConn, faultPlist, instances, listedPids } from '../support/fault-fleet.ts';
import { repoRoot } from '../support/paths.ts';

const { values: v } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    'kill-at': { type: 'string', default: '0.3' },
    waves: { type: 'string', default: '25%' },
    'min-healthy': { type: 'string', default: '5s' },
    out: { type: 'string' },
  },
});
const nodes = Number(v.nodes);
const killAt = Number(v['kill-at']);
if (!(nodes > 0) || !(killAt > 0 && killAt < 1)) {
  process.stderr.write('fault-controller-sim: --nodes > 0 and 0 < --kill-at < 1\n');
  process.exit(2);
}
const out =
  v.out ?? join('/tmp', `lf-fault-controller-sim-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const label = 'com.fault.simrollout';
const base = 60_000 + Math.floor(Math.random() * 3000) * 10;
const cmd = (n: number) => `sleep ${base + n}`;
const t0 = Date.now();
const say = (s: string) =>
  console.log(`[fault-controller-sim ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = await f().catch(() => undefined);
    if (x) return x;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(500);
  }
}

async function main(): Promise<void> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    say(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  };
  const fleet: LocalFleet = await startLocalFleet({});
  let sim: ChildProcess | undefined;
  const result: Record<string, unknown> = {
    at: new Date(t0).toISOString(),
    node: process.version,
    nodes,
    killAt,
  };
  try {
    const t = await fleet.cli(['tokens', 'create', '--ttl', '1h', '--uses', String(nodes), '--json']);
    if (t.code !== 0) throw new Error(`tokens create: ${t.stderr}`);
    const tok = JSON.parse(t.stdout) as { token: string; enrollCredentials: string };
    const tokenFile = join(fleet.dir, 'sim-tokens.txt');
    writeFileSync(tokenFile, `${Array(nodes).fill(tok.token).join('\n')}\n${tok.enrollCredentials}`, {
      mode: 0o600,
    });
    sim = spawn(
      process.execPath,
      [
        '--conditions=launchfleet-testing',
        join(repoRoot, 'test', 'dist', 'sim', 'main.js'),
        ...['--agents', String(nodes), '--nats', fleet.natsUrl, '--token-file', tokenFile],
        ...['--mix', 'healthy=100', '--report-sec', '10', '--start-concurrency', '20'],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
    );
    const tEnrol = Date.now();
    const listed = async () => {
      const l = await fleet.cli(['nodes', 'list', '--json']);
      return l.code === 0 ? ((JSON.parse(l.stdout) as { nodes?: { nodeId: string }[] }).nodes ?? []) : [];
    };
    const all = await until(
      async () => {
        const l = await listed();
        return l.length >= nodes + 1 ? l : undefined;
      },
      600_000,
      `${nodes + 1} nodes enrolled`,
    );
    const nodeIds = all.map((n) => n.nodeId);
    const enrolS = (Date.now() - tEnrol) / 1000;
    result['enrolS'] = enrolS;
    say(`${nodeIds.length} nodes enrolled in ${enrolS} s`);

    const nc = await controllerConn(fleet);
    await applyToAll(fleet, label, faultPlist(label, `exec ${cmd(1)}`));
    await until(async () => (await listedPids(fleet)).get(label), 60_000, 'v1 runs on the real agent');
    // Every node reports v1 running (the controller's own view) before the rollout's health
    // gate judges them.
    const tRun = Date.now();
    await until(
      async () => {
        const h = await fleet.cli(['jobs', 'health', label, '--json']);
        if (h.code !== 0) return undefined;
        const sub = (JSON.parse(h.stdout) as { subStates?: Record<string, number> }).subStates ?? {};
        return (sub['running'] ?? 0) >= nodes + 1;
      },
      180_000,
      `the controller sees v1 running on all ${nodes + 1} nodes`,
    );
    say(
      `the controller sees v1 running on all ${nodes + 1} nodes (${((Date.now() - tRun) / 1000).toFixed(1)} s)`,
    );
    await sleep(2000);

    const token = encodeLabelToken(label);
    const writes = new Map<string, number>();
    let total = 0;
    const sub = nc.subscribe(`$KV.${buckets.desired}.*.${token}`, {
      callback: (_e, m) => {
        const id = m.subject.split('.')[2] ?? '';
        writes.set(id, (writes.get(id) ?? 0) + 1);
        total++;
      },
    });
    // The rollout's events as they pass the broker (reason -> count), for "finished exactly once".
    const rolloutEvents = new Map<string, number>();
    const evSub = nc.subscribe(subjects.event(controllerEventSource, 'rollout'), {
      callback: (_e, m) => {
        const d = decodeNodeEvent(m.data);
        if (!d.ok || !(d.value.detail ?? '').startsWith('kill9sim:')) return;
        const r = d.value.reason ?? '?';
        rolloutEvents.set(r, (rolloutEvents.get(r) ?? 0) + 1);
      },
    });
    await nc.flush();
    const f = join(fleet.dir, 'v2.plist');
    writeFileSync(f, faultPlist(label, `exec ${cmd(2)}`));
    const tStart = Date.now();
    const started = await fleet.cli(
      [
        ...['rollout', 'start', f, '--all', '--id', 'kill9sim', '--canary', '1', '--waves', v.waves ?? '25%'],
        ...[
          '--max-unavailable',
          String(Math.max(1, Math.ceil(nodes / 4))),
          '--max-unhealthy',
          String(Math.ceil(nodes / 20)),
        ],
        ...['--min-healthy', v['min-healthy'] ?? '5s', '--deadline', '10m'],
      ],
      120_000,
    );
    if (started.code !== 0) throw new Error(`rollout start: ${started.stderr}`);
    const rollouts = await new Kvm(nc).open(buckets.rollouts);
    const lease = await until(
      async () => {
        const e = await rollouts.get(keys.rolloutLease('kill9sim'));
        return e && e.operation === 'PUT' ? e.json<{ holder: string }>() : undefined;
      },
      30_000,
      'the first controller holds the lease',
    );
    const second = await fleet.startSecondController();
    say(`rollout started; lease held by ${lease.holder}; second controller up at ${second}`);
    await until(
      () => Promise.resolve(total >= Math.ceil(killAt * (nodes + 1))),
      600_000,
      `${killAt} of the nodes written`,
    );
    const atKill = total;
    const killedAt = Date.now();
    await fleet.killController('controller');
    say(
      `SIGKILLed the first controller after ${atKill} of ${nodes + 1} node writes (${((killedAt - tStart) / 1000).toFixed(1)} s into the rollout)`,
    );
    const status = async () => {
      const r = await fleet.cli(['rollout', 'status', 'kill9sim', '--json', '--server', second]);
      if (r.code !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout) as { phase?: string; outcome?: string };
    };
    const done = await until(
      async () => {
        const s = await status();
        return s.phase && /^(succeeded|failed|aborted|rolled[-_]back)$/.test(s.phase) ? s : undefined;
      },
      900_000,
      'the rollout ends',
    );
    const endS = (Date.now() - killedAt) / 1000;
    await sleep(3000);
    await nc.flush();
    sub.unsubscribe();
    evSub.unsubscribe();
    say(
      `rollout ${done.phase} ${endS.toFixed(1)} s after the kill (${((Date.now() - tStart) / 1000).toFixed(1)} s after its start)`,
    );
    const twice = [...writes].filter(([, n]) => n > 1);
    const skipped = nodeIds.filter((id) => !writes.has(id));
    const strangers = [...writes.keys()].filter((id) => !nodeIds.includes(id));
    check(
      done.phase === 'succeeded',
      `the rollout succeeded (phase ${done.phase}, ${JSON.stringify(done.outcome ?? '')})`,
    );
    const evs = Object.fromEntries(rolloutEvents);
    check(
      (rolloutEvents.get('succeeded') ?? 0) === 1 &&
        ['failed', 'aborted', 'rolled-back'].every((k) => !rolloutEvents.has(k)),
      `the rollout ended exactly once (its events by reason: ${JSON.stringify(evs)})`,
    );
    check(total > atKill, `the second controller wrote after the kill (${total - atKill} writes)`);
    check(
      twice.length === 0,
      `no node written twice (${twice.length}: ${twice
        .slice(0, 5)
        .map(([id, n]) => `${id} x${n}`)
        .join(', ')})`,
    );
    check(skipped.length === 0, `no node skipped (${skipped.length})`);
    check(strangers.length === 0 && total === nodeIds.length, `${total} writes for ${nodeIds.length} nodes`);
    // The stream's own history of every key.
    const desired = await new Kvm(nc).open(buckets.desired);
    const tHist = Date.now();
    let badHistory = 0;
    const examples: string[] = [];
    // One history read over every node's key of the label (one consumer, not one per node: the
    // account's consumer limit), grouped by key.
    const byKey = new Map<string, (number | null)[]>();
    for await (const e of await desired.history({ key: `*.${token}` })) {
      const p = e.operation === 'PUT' ? parseSignedBundle(e.value) : undefined;
      const l = byKey.get(e.key) ?? [];
      l.push(p?.ok ? p.signed.bundle.version : null);
      byKey.set(e.key, l);
    }
    for (const id of nodeIds) {
      const versions = byKey.get(keys.desired(id, label)) ?? [];
      if (versions.join(',') !== '1,2') {
        badHistory++;
        if (examples.length < 5) examples.push(`${id}: [${versions.join(',')}]`);
      }
    }
    check(
      badHistory === 0,
      `every key's history is [v1, v2] (${badHistory} not: ${examples.join('; ')}; read in ${((Date.now() - tHist) / 1000).toFixed(1)} s)`,
    );
    await until(() => Promise.resolve(instances(cmd(2)) === 1), 30_000, 'v2 runs on the real agent').catch(
      () => undefined,
    );
    check(
      instances(cmd(2)) === 1 && instances(cmd(1)) === 0,
      `the real agent runs v2 once (v2 ${instances(cmd(2))}, v1 ${instances(cmd(1))})`,
    );
    await nc.close();
    Object.assign(result, {
      writesAtKill: atKill,
      killAfterS: (killedAt - tStart) / 1000,
      endAfterKillS: endS,
      phase: done.phase,
      writes: total,
      twice: twice.length,
      skipped: skipped.length,
      badHistory,
      rolloutEvents: evs,
      failures,
    });
  } catch (e) {
    failures.push(String(e));
    say(`FAILED: ${String(e)}`);
    result['failures'] = failures;
  } finally {
    if (sim?.pid !== undefined && sim.exitCode === null) {
      try {
        process.kill(-sim.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await fleet.stop();
  }
  writeFileSync(out, JSON.stringify(result, null, 2));
  say(`${failures.length === 0 ? 'PASS' : `FAIL (${failures.length})`}; results: ${out}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

await main();
process.exit(process.exitCode ?? 0);
