/**
 * Micro-benchmark: one `AlertEvaluator.evaluate()` pass (the controller's alert runtime runs one
 * every second, alert-runtime.ts) over a fleet of N nodes with 3 counter reasons each
 * (signatureRefusals.expired, drift.plist-changed, drift.job-unloaded), for the incremental
 * evaluator (the product) and its anchor, the evaluator as it was before (the test oracle
 * controller/src/alerts/core/alert-evaluator-reference.ts, which walks every node's counters on
 * every pass). Same samples for both, time advancing 1 s per pass, runs interleaved in chunks
 * so machine noise hits both alike.
 *
 *   unchanged   no node's counters change between passes (the same objects, as the fleet index
 *               hands them over while no status arrives)
 *   10 changed  10 nodes per pass get a new counters object with one drift increase
 *
 *   node test/dist/bench/alert-eval-bench.js [--quick] [--nodes=10000] [--passes=200]
 *
 * Results: test/bench/FLEET-RESULTS.md, "Alert evaluation at 10,000 nodes".
 */
import type { AgentCounters } from '@launchfleet/shared/messages';
import {
  AlertEvaluator,
  type NodeSample,
  ReferenceAlertEvaluator,
  defaultAlertSettings,
} from '@launchfleet/controller/alerts';
import { emit, intArg, machineInfo, parseArgs, type Row } from './bench-output.ts';
import { round, summarize } from './bench-stats.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const nodeCount = intArg(values, 'nodes', 10_000);
const passes = intArg(values, 'passes', quick ? 40 : 200);
const chunks = 10;

type Evaluator = Pick<AlertEvaluator, 'evaluate'>;
const systems = {
  incremental: () => new AlertEvaluator(defaultAlertSettings),
  reference: () => new ReferenceAlertEvaluator(defaultAlertSettings),
} as const;
type System = keyof typeof systems;

/** One fleet per evaluator: its nodes, and how many of them change per pass. */
class Fleet {
  readonly nodes: NodeSample[];
  readonly ev: Evaluator;
  now = 1_700_000_000_000;
  #next = 0;

  readonly changedPerPass: number;

  constructor(ev: Evaluator, changedPerPass: number) {
    this.changedPerPass = changedPerPass;
    this.ev = ev;
    this.nodes = Array.from({ length: nodeCount }, (_, i) => ({
      nodeId: `n${String(i).padStart(20, 'a')}`,
      hostname: `host-${i}`,
      lastSeen: this.now,
      counters: {
        signatureRefusals: { expired: i % 3 },
        drift: { 'plist-changed': i % 5, 'job-unloaded': 1 },
      },
    }));
    ev.evaluate(this.sample()); // the baseline pass, not timed
  }

  sample() {
    return { now: this.now, jobs: [], nodes: this.nodes };
  }

  /** One timed pass, in ms. */
  pass(): number {
    this.now += 1000;
    for (let k = 0; k < this.changedPerPass; k++) {
      const i = this.#next++ % this.nodes.length;
      const n = this.nodes[i] as NodeSample;
      const c = n.counters as AgentCounters;
      const drift = { ...c.drift, 'plist-changed': (c.drift?.['plist-changed'] ?? 0) + 1 };
      this.nodes[i] = { ...n, lastSeen: this.now, counters: { ...c, drift } };
    }
    const s = this.sample();
    const t0 = process.hrtime.bigint();
    this.ev.evaluate(s);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }
}

const metrics: Record<string, number> = {};
const rows: Row[] = [];
const lines: string[] = [];
for (const [scenario, changed] of [
  ['unchanged', 0],
  ['10 changed', 10],
] as const) {
  const fleets = {
    incremental: new Fleet(systems.incremental(), changed),
    reference: new Fleet(systems.reference(), changed),
  };
  const samples: Record<System, number[]> = { incremental: [], reference: [] };
  // Warm-up (JIT), not counted.
  for (const sys of ['reference', 'incremental'] as const) for (let i = 0; i < 5; i++) fleets[sys].pass();
  for (let c = 0; c < chunks; c++)
    for (const sys of ['reference', 'incremental'] as const)
      for (let i = 0; i < Math.ceil(passes / chunks); i++) samples[sys].push(fleets[sys].pass());
  const inc = summarize(samples.incremental);
  const ref = summarize(samples.reference);
  const id = scenario.replace(' ', '');
  metrics[`incremental.${id}.p50Ms`] = round(inc.p50, 3);
  metrics[`incremental.${id}.p99Ms`] = round(inc.p99, 3);
  metrics[`reference.${id}.p50Ms`] = round(ref.p50, 3);
  metrics[`reference.${id}.p99Ms`] = round(ref.p99, 3);
  metrics[`speedup.${id}.p50`] = round(ref.p50 / inc.p50, 1);
  rows.push({
    what: `evaluate(), ${nodeCount} nodes x 3 reasons, ${scenario} (p50)`,
    unit: 'ms',
    ours: `incremental.${id}.p50Ms`,
    anchor: `reference.${id}.p50Ms`,
    anchorName: 'pre-change evaluator (alert-evaluator-reference.ts)',
  });
  lines.push(
    `${scenario}: incremental p50 ${round(inc.p50, 3)} ms (p99 ${round(inc.p99, 3)}, n=${inc.n}); ` +
      `reference p50 ${round(ref.p50, 3)} ms (p99 ${round(ref.p99, 3)}, n=${ref.n}); reference / incremental x${round(ref.p50 / inc.p50, 1)}`,
  );
}

emit({
  bench: 'alert-eval',
  quick,
  at: new Date().toISOString(),
  machine: machineInfo(),
  params: { nodes: nodeCount, reasonsPerNode: 3, passes, chunks },
  metrics,
  rows,
  targets: [],
  notes: ['One pass = one evaluate() of the whole fleet sample; time advances 1 s per pass.', ...lines],
});
