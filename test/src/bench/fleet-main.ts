/**
 * `node test/dist/bench/fleet-main.js <ci|1000|5000|10000|N> [--runs R] [--sim-procs P] [--mix SPEC]
 *   [--anchor-clients M] [--restarts K] [--health-queries Q] [--start-rate N] [--cluster S] [--steady-s T] [--fast] [--out FILE]
 *   [--converge-timeout-s C] [--reconnect-timeout-s W] [--sim-connect-gate G] [--heartbeat-s S]
 *   [--roll-apply during|after] [--roll-pause-s P]`
 *
 * Runs the fleet benchmark (fleet-bench.ts) at one size. `ci`: 300 agents with every profile
 * (healthy, crash-looping, slow-start, churn), test timings, one run: the harness's smoke test.
 * Numeric sizes: all-healthy agents with production link timings. Exit 0 when every expected
 * agent ran every applied version; 1 otherwise; 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { runFleetBench, type FleetBenchOptions } from './fleet-bench.ts';

const usage =
  'usage: fleet-main.js <ci|1000|5000|10000|N> [--runs R] [--sim-procs P] [--mix SPEC] [--anchor-clients M] ' +
  '[--restarts K] [--health-queries Q] [--start-rate N] [--cluster S] [--steady-s T] [--fast] [--out FILE] ' +
  '[--converge-timeout-s C] [--reconnect-timeout-s W] [--sim-connect-gate G] [--heartbeat-s S] [--roll-apply during|after] [--roll-pause-s P]';

function fail(m: string): never {
  process.stderr.write(`fleet-bench: ${m}\n${usage}\n`);
  process.exit(2);
}

const parsed = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        runs: { type: 'string' },
        'sim-procs': { type: 'string' },
        mix: { type: 'string' },
        'anchor-clients': { type: 'string' },
        restarts: { type: 'string' },
        'health-queries': { type: 'string' },
        cluster: { type: 'string' },
        'steady-s': { type: 'string' },
        fast: { type: 'boolean' },
        'start-rate': { type: 'string' },
        'converge-timeout-s': { type: 'string' },
        'reconnect-timeout-s': { type: 'string' },
        'sim-connect-gate': { type: 'string' },
        'heartbeat-s': { type: 'string' },
        'roll-apply': { type: 'string' },
        'roll-pause-s': { type: 'string' },
        out: { type: 'string' },
      },
    });
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
})();
const size = parsed.positionals[0];
if (size === undefined) fail('give a size');
const v = parsed.values;
const num = (name: string, text: string | undefined, dflt: number, min = 0): number => {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}`);
  return n;
};

// Stopped by hand (Ctrl-C, timeout): exit, so that the exit hooks stop the controller, which
// runs detached (fleet-controller-proc.ts); without this a cut run left it running.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    process.stdout.write(`# stopped by ${sig}\n`);
    process.exit(130);
  });
const opts = fleetBenchOptions(size);
const r = await runFleetBench(opts);
// Complete only if every phase did what it was for: enrolment, each apply, and after each broker
// restart or rolling restart every session back and the apply made meanwhile on every node.
const restartsDone = r.reconnects.map(
  (x) =>
    `restart ${x.restart}: ${x.sessions}/${x.expectedSessions} sessions, ${x.awayApply?.running ?? 0}/${x.expectedAway} ran the away apply`,
);
const rollsDone = r.rollings.map(
  (x) =>
    `roll: ${x.sessions}/${x.onlineAgents} sessions${x.apply ? `, ${x.apply.running}/${x.apply.expected} ran its apply` : ', its apply failed'}`,
);
const complete =
  r.applies.every((a) => a.reached >= a.expected) &&
  r.enrolment?.enrolled === r.agents &&
  r.reconnects.every(
    (x) => x.sessions >= x.expectedSessions && (x.awayApply?.running ?? -1) >= x.expectedAway,
  ) &&
  r.rollings.every(
    (x) => x.sessions >= x.onlineAgents && x.apply !== undefined && x.apply.running >= x.apply.expected,
  );
process.stdout.write(
  `# ${complete ? 'complete' : 'INCOMPLETE'}: ${r.applies.map((a) => `${a.reached}/${a.expected}`).join(', ')} nodes running each applied version${[...restartsDone, ...rollsDone].map((t) => `; ${t}`).join('')}\n`,
);
process.exit(complete ? 0 : 1);

function fleetBenchOptions(s: string): FleetBenchOptions {
  const ci = s === 'ci';
  const agents = ci ? 300 : num('size', s, 0, 1);
  const print = (l: string): void => void process.stdout.write(`${l}\n`);
  return {
    agents,
    simProcs: num('sim-procs', v['sim-procs'], ci ? 1 : Math.max(1, Math.ceil(agents / 5000)), 1),
    runs: num('runs', v.runs, ci ? 1 : 3, 1),
    mix: v.mix ?? (ci ? 'healthy=70,crash=10,slow=10,churn=10' : 'healthy=100'),
    fast: v.fast ?? ci,
    anchorClients: num('anchor-clients', v['anchor-clients'], Math.min(agents, 2000)),
    restarts: num('restarts', v.restarts, 1),
    ...(v.cluster !== undefined && { cluster: num('cluster', v.cluster, 1, 1) }),
    steadyMs: num('steady-s', v['steady-s'], ci ? 10 : 60) * 1000,
    healthQueries: num('health-queries', v['health-queries'], ci ? 50 : 200, 1),
    enrolTimeoutMs: ci ? 60_000 : Math.max(120_000, agents * 60),
    // How long an apply and a restart wave are waited for (a larger fleet on this box needs longer).
    convergeTimeoutMs: num('converge-timeout-s', v['converge-timeout-s'], ci ? 30 : 120, 1) * 1000,
    reconnectTimeoutMs: num('reconnect-timeout-s', v['reconnect-timeout-s'], ci ? 20 : 120, 1) * 1000,
    startRatePerSec: num('start-rate', v['start-rate'], 0),
    simConnectGate: num('sim-connect-gate', v['sim-connect-gate'], 0),
    ...(v['heartbeat-s'] !== undefined && { heartbeatS: num('heartbeat-s', v['heartbeat-s'], 10, 1) }),
    ...(v['roll-apply'] !== undefined && {
      rollApply:
        v['roll-apply'] === 'during' || v['roll-apply'] === 'after'
          ? v['roll-apply']
          : fail(`--roll-apply must be during or after, not ${v['roll-apply']}`),
    }),
    ...(v['roll-pause-s'] !== undefined && { rollPauseMs: num('roll-pause-s', v['roll-pause-s'], 0) * 1000 }),
    ...(ci && { churn: { offlineMs: 3000, onlineMs: 6000 } }),
    ...(v.out !== undefined && { outFile: v.out }),
    print,
  };
}
