/**
 * A rolling restart of the benchmark's cluster, as an operator does it: one server at a time,
 * lame-duck mode first (the server stops taking clients and closes its own spread over its
 * lame_duck_duration, then exits), a new process on the same store, and the next server only
 * once this one reports healthy (`/healthz`: JetStream caught up). An apply is made while the
 * roll is under way (after the first server is back), or with `applyAfter` once it is over.
 *
 * Counted by sessions (the agents' own view, test/src/sim): every online agent has a working
 * session at the end; the time each one spent without a session (its outages since the roll
 * began); how the agents spread over the servers at the end; the apply reaching every node.
 */
import { type Printer, ms, report } from './fleet-report.ts';
import { quantiles, type Quantiles } from './fleet-stats.ts';
import type { BenchControlPlane } from './fleet-controller-proc.ts';
import type { SimProc } from './fleet-sim-proc.ts';
import { httpStatus } from '../support/nats-server.ts';
import { cpuSecBetween } from '../sim/proc-usage.ts';

export interface RollingResult {
  readonly servers: number;
  /**
   * Per server: the agent connections it held when its turn came, lame-duck to exit, and exit to
   * healthy again (ms).
   */
  readonly steps: {
    readonly server: string;
    readonly heldAtStart: number;
    readonly lameDuckMs: number;
    readonly backMs: number;
    /**
     * CPU-seconds from lame-duck mode to healthy again (with `sampleCpu`): the servers that stayed
     * up (they take the moves), the restarted server's new process (start to healthy), the
     * simulators. Steady-state work (heartbeats) is in them too.
     */
    readonly cpuSec?: {
      readonly otherServers: number;
      readonly restarted: number;
      readonly simulators: number;
    };
  }[];
  readonly rollMs: number;
  /** Online agents with a working session when the roll and the apply were done. */
  readonly sessions: number;
  readonly onlineAgents: number;
  /** Agents that lost their session at least once during the roll. */
  readonly agentsInterrupted: number;
  /** Per agent, the longest time without a session during the roll. */
  readonly outageMs: Quantiles;
  /** Agent connections per server at the end. */
  readonly perServer: Record<string, number>;
  readonly apply?: { readonly version: string; readonly running: number; readonly expected: number };
  readonly allDoneMs: number;
  readonly simulatorsAlive: number;
}

export async function rollingRestart(x: {
  readonly cp: BenchControlPlane;
  readonly sims: readonly SimProc[];
  readonly label: string;
  /** Agents that are online (not churning on their own). */
  readonly onlineIds: ReadonlySet<string>;
  /** Online agents expected to run the job (not the crash-looping ones, running only for moments). */
  readonly runningIds: ReadonlySet<string>;
  /** Makes the apply; returns its version. */
  readonly apply: () => Promise<string | undefined>;
  /** Make the apply once the last server is back, not during the roll. */
  readonly applyAfter?: boolean;
  /**
   * Wait this long after a server is healthy before the next goes into lame-duck mode (what an
   * operator's roll does with a pause between servers, or Kubernetes' minReadySeconds): agents
   * moved off a server go back to it (their home) 1-5 min after, so with a long enough pause the
   * next server holds about its own share, not the fleet that moved onto it.
   */
  readonly pauseMs?: number;
  /** The argument that marks the applied version in a running job's argv. */
  readonly appliedArg: string;
  readonly timeoutMs: number;
  readonly print: Printer;
  /** What the agents without a session wait for, and the simulators' loop delay (one line). */
  readonly diagnose?: () => Promise<string | undefined>;
  /**
   * CPU used so far per process, by name: `nats-server` and `nats-server-<i>` for the servers (a
   * restart replaces the process), `simulator-<i>`. Given, each step says what it cost.
   */
  readonly sampleCpu?: () => Record<string, { readonly cpuMs: number } | undefined>;
}): Promise<RollingResult> {
  const { cp, sims, print } = x;
  const t0 = Date.now();
  const steps: RollingResult['steps'][number][] = [];
  let applied: Promise<string | undefined> | undefined;
  // Every 10 s through the roll: sessions up now, and why the others are without one (at 10,000
  // agents the outages were long and the final figures alone could not say where they went).
  let ticking = true;
  let wake: (() => void) | undefined;
  const ticker = (async () => {
    while (ticking) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 10_000).unref();
      });
      if (!ticking) break;
      const up = sessionsUp(await allRows(sims, x.label), x.onlineIds);
      print(`#   ${ms(Date.now() - t0)} into the roll: ${up}/${x.onlineIds.size} agent sessions up`);
      const why = await x.diagnose?.().catch(() => undefined);
      if (why !== undefined) print(`#     ${why}`);
    }
  })().catch((e: unknown) => print(`#   roll progress: ${e instanceof Error ? e.message : String(e)}`));
  for (const [i, server] of cp.servers.entries()) {
    if (i > 0 && (x.pauseMs ?? 0) > 0) {
      print(`#   pause ${ms(x.pauseMs ?? 0)} before the next server`);
      await new Promise((r) => setTimeout(r, x.pauseMs));
    }
    const tStep = Date.now();
    const held = await agentConnections(server.monitorPort).catch(() => -1);
    const cpu0 = x.sampleCpu?.();
    print(`#   rolling restart: ${server.name} (${held} agent connections) into lame-duck mode`);
    await server.restartLameDuck();
    const tBack = Date.now();
    await waitUntil(async () => (await httpStatus(server.monitorPort, '/healthz')) === 200, 120_000).catch(
      () => print(`#   ${server.name} not healthy within 120 s`),
    );
    const cpuSec = cpu0 && x.sampleCpu && stepCpu(cpu0, x.sampleCpu(), i);
    steps.push({
      server: server.name,
      heldAtStart: held,
      lameDuckMs: tBack - tStep,
      backMs: Date.now() - tBack,
      ...(cpuSec && { cpuSec }),
    });
    print(
      `#   ${server.name} back: lame duck + exit ${ms(tBack - tStep)}, healthy ${ms(Date.now() - tBack)} later` +
        (cpuSec
          ? `; CPU-s: servers that stayed up ${cpuSec.otherServers.toFixed(1)}, its new process ` +
            `${cpuSec.restarted.toFixed(1)}, simulators ${cpuSec.simulators.toFixed(1)}`
          : ''),
    );
    // The apply goes out while the roll is under way (after the first server, before the rest).
    if (i === 0 && x.applyAfter !== true) applied = x.apply().catch(() => undefined);
  }
  const rollMs = Date.now() - t0;
  if (x.applyAfter === true) {
    // Once every session is back (bounded), so the apply's load does not land on the moves and
    // reconnects of the last step: made at once after it, it stalled 5,000 agents' loops 13 s.
    const settled = await waitUntil(
      async () => sessionsUp(await allRows(sims, x.label), x.onlineIds) >= x.onlineIds.size,
      x.timeoutMs,
    ).then(
      () => true,
      () => false,
    );
    print(
      `#   the roll is over${settled ? ', every session back' : ', not every session back'}: its apply now`,
    );
    applied = x.apply().catch(() => undefined);
  }
  const version = await applied;
  let rows = await allRows(sims, x.label);
  const up = (): number => sessionsUp(rows, x.onlineIds);
  const running = (): number =>
    rows.filter((r) => x.runningIds.has(r.nodeId ?? '') && r.runningArgs?.includes(x.appliedArg) === true)
      .length;
  await waitUntil(async () => {
    rows = await allRows(sims, x.label);
    return up() >= x.onlineIds.size && (version === undefined || running() >= x.runningIds.size);
  }, x.timeoutMs).catch(() => print(`#   rolling restart: not every agent back within ${ms(x.timeoutMs)}`));
  const allDoneMs = Date.now() - t0;
  ticking = false;
  wake?.();
  await ticker;
  rows = await allRows(sims, x.label);
  const outages = rows
    .filter((r) => x.onlineIds.has(r.nodeId ?? ''))
    .map((r) => {
      const during = (r.outages ?? []).filter((o) => o.from >= t0).map((o) => o.to - o.from);
      // Still away at the end: counted up to now.
      if (r.disconnectedAt !== undefined && r.disconnectedAt >= t0 && (r.connectedAt ?? 0) < r.disconnectedAt)
        during.push(Date.now() - r.disconnectedAt);
      return during;
    });
  const perServer: Record<string, number> = {};
  for (const s of cp.servers) perServer[s.name] = await agentConnections(s.monitorPort).catch(() => -1);
  const result: RollingResult = {
    servers: cp.servers.length,
    steps,
    rollMs,
    sessions: up(),
    onlineAgents: x.onlineIds.size,
    agentsInterrupted: outages.filter((o) => o.length > 0).length,
    outageMs: quantiles(outages.filter((o) => o.length > 0).map((o) => Math.max(...o))),
    perServer,
    ...(version !== undefined && {
      apply: { version, running: running(), expected: x.runningIds.size },
    }),
    allDoneMs,
    simulatorsAlive: sims.filter((s) => s.alive()).length,
  };
  report(print, 'rolling-restart', { agents: x.onlineIds.size, ...result }, [
    ['servers', `${result.servers}, one at a time, lame-duck mode first (30 s, 10 s grace)`],
    ...steps.map(
      (s) =>
        [
          s.server,
          `held ${s.heldAtStart} agents, lame duck to exit ${ms(s.lameDuckMs)}, then healthy in ${ms(s.backMs)}` +
            (s.cpuSec && s.heldAtStart > 0
              ? `; servers that stayed up ${s.cpuSec.otherServers.toFixed(1)} CPU-s ` +
                `(${((s.cpuSec.otherServers * 1000) / s.heldAtStart).toFixed(2)} ms per agent it held, their idle share included), ` +
                `simulators ${s.cpuSec.simulators.toFixed(1)} CPU-s`
              : ''),
        ] as const,
    ),
    ['roll took', ms(rollMs)],
    ['agent sessions at the end', `${result.sessions}/${result.onlineAgents}, all by ${ms(allDoneMs)}`],
    ['agents interrupted', `${result.agentsInterrupted} (lost their session at least once)`],
    [
      'longest time without a session',
      `p50 ${ms(result.outageMs.p50)}, p99 ${ms(result.outageMs.p99)}, max ${ms(result.outageMs.max)} (per interrupted agent)`,
    ],
    ['agents per server at the end', JSON.stringify(perServer)],
    [
      'applied during the roll',
      result.apply
        ? `version ${result.apply.version}: ${result.apply.running}/${result.apply.expected} online nodes run it`
        : 'the apply failed',
    ],
    ['simulator processes alive', `${result.simulatorsAlive}/${sims.length}`],
  ]);
  return result;
}

/**
 * A step's CPU-seconds between two samples. Server `i`'s name is `nats-server` for 0 and
 * `nats-server-<i>` after; its process was replaced in the step, so only the new one's own total
 * (from its start) is counted for it: the old process's lame-duck work is not (it is gone).
 */
function stepCpu(
  a: Record<string, { readonly cpuMs: number } | undefined>,
  b: Record<string, { readonly cpuMs: number } | undefined>,
  i: number,
): NonNullable<RollingResult['steps'][number]['cpuSec']> {
  const restartedName = i === 0 ? 'nats-server' : `nats-server-${i}`;
  const sum = (pick: (k: string) => boolean): number => cpuSecBetween(a, b, Object.keys(b).filter(pick));
  return {
    otherServers: sum((k) => k.startsWith('nats-server') && k !== restartedName),
    restarted: (b[restartedName]?.cpuMs ?? Number.NaN) / 1000,
    simulators: sum((k) => k.startsWith('simulator')),
  };
}

/** Online agents whose session is up now (connected, and not disconnected since). */
function sessionsUp(rows: Awaited<ReturnType<typeof allRows>>, onlineIds: ReadonlySet<string>): number {
  return rows.filter(
    (r) =>
      onlineIds.has(r.nodeId ?? '') &&
      r.connectedAt !== undefined &&
      (r.disconnectedAt === undefined || r.disconnectedAt < r.connectedAt),
  ).length;
}

async function allRows(sims: readonly SimProc[], label: string) {
  return (await Promise.all(sims.map((s) => s.rows(label).catch(() => [])))).flat();
}

/** Agent connections a server holds (agents are named by their node id). */
async function agentConnections(port: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/connz?limit=200000`, {
    signal: AbortSignal.timeout(30_000),
  });
  const j = (await r.json()) as { connections?: { name?: string }[] };
  return (j.connections ?? []).filter((c) => /^n[0-9a-z]{20}$/.test(c.name ?? '')).length;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
