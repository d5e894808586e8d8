/**
 * Collects the BENCH_RESULT lines of repeated runs (from files of benchmark output) and prints,
 * per benchmark, the median of every metric over the runs beside its anchor, the targets judged
 * on those medians, and each run's value of the headline metrics so the spread stays visible.
 *
 *   node test/dist/bench/summarize-runs.js <output-file>... [--json]
 */
import { readFileSync } from 'node:fs';
import { RESULT_PREFIX, cell, renderResult, table, type BenchResult } from './bench-output.ts';
import { median, round } from './bench-stats.ts';

/** Every result line in the text, in order; lines that do not parse are reported, not fatal. */
export function parseResults(text: string): { results: BenchResult[]; bad: number } {
  const results: BenchResult[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(RESULT_PREFIX)) continue;
    try {
      results.push(JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult);
    } catch {
      bad++;
    }
  }
  return { results, bad };
}

/** Median over runs of every metric (null, i.e. NaN in a run, is left out of that metric's median). */
export function medianMetrics(runs: readonly BenchResult[]): Record<string, number> {
  const keys = new Set(runs.flatMap((r) => Object.keys(r.metrics)));
  const out: Record<string, number> = {};
  for (const k of keys) {
    const vs = runs
      .map((r) => r.metrics[k])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    out[k] = vs.length > 0 ? round(median(vs)) : Number.NaN;
  }
  return out;
}

function main(): void {
  const args = process.argv.slice(2);
  const asJson = args.includes('--json');
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length === 0) throw new Error('usage: summarize-runs <output-file>... [--json]');
  const all: BenchResult[] = [];
  let bad = 0;
  for (const f of files) {
    const r = parseResults(readFileSync(f, 'utf8'));
    all.push(...r.results);
    bad += r.bad;
  }
  const byBench = new Map<string, BenchResult[]>();
  for (const r of all) byBench.set(r.bench, [...(byBench.get(r.bench) ?? []), r]);
  const summary: Record<string, unknown> = {};
  for (const [bench, runs] of byBench) {
    const first = runs[0];
    if (!first) continue;
    const med = medianMetrics(runs);
    summary[bench] = { runs: runs.length, metrics: med };
    if (asJson) continue;
    const m = first.machine;
    console.log(
      `##### ${bench}: median of ${runs.length} run(s)${first.quick ? ' (--quick)' : ''}; ` +
        `${m.nproc} CPUs ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}; ` +
        `load1 at start ${runs.map((r) => r.machine.load1).join(', ')}`,
    );
    console.log(`params: ${JSON.stringify(first.params)}`);
    console.log(renderResult(first, med));
    // The spread: each run's headline numbers.
    const keys = [
      ...new Set([
        ...first.targets.map((t) => t.metric),
        ...first.rows.slice(0, 4).flatMap((r) => [r.ours, r.anchor ?? '']),
      ]),
    ].filter((k) => k !== '');
    console.log('');
    console.log(
      table(
        ['metric', ...runs.map((_, i) => `run ${i + 1}`), 'median'],
        keys.map((k) => [k, ...runs.map((r) => cell(r.metrics[k])), cell(med[k])]),
      ),
    );
    console.log('');
  }
  if (asJson) console.log(JSON.stringify(summary));
  if (bad > 0) console.error(`summarize-runs: ${bad} result line(s) did not parse`);
  if (all.length === 0) {
    console.error('summarize-runs: no BENCH_RESULT lines found');
    process.exitCode = 1;
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`summarize-runs: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
