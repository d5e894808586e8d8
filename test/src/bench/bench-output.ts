/**
 * What every benchmark prints: one JSON line (prefixed `BENCH_RESULT `, so scripts/bench.sh can
 * collect runs from mixed output) and a human table that puts our number beside its anchor and
 * the ratio, then the targets of issue 3 with met / not met and the margin.
 */
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { round } from './bench-stats.ts';

/** The machine a result was taken on (RESULTS.md records it beside every table). */
export interface MachineInfo {
  readonly nproc: number;
  readonly cpu: string;
  readonly memGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** 1-minute load average when the run started: a busy shared machine shows here. */
  readonly load1: number;
}

/** One line of the side-by-side table: our number, the anchor's, and ours / anchor. */
export interface Row {
  readonly what: string;
  readonly unit: string;
  /** Key of our value in `metrics`. */
  readonly ours: string;
  /** Key of the anchor's value in `metrics`; absent when there is no anchor for the line. */
  readonly anchor?: string;
  /** Who the anchor is (supervisord 4.2, bare posix_spawn...). */
  readonly anchorName?: string;
}

/** A pass/fail target (issues 3 and 19), evaluated on a metric. */
export interface Target {
  readonly name: string;
  readonly metric: string;
  readonly op: '<=' | '<' | '>=';
  readonly limit: number;
  readonly unit: string;
}

/** The JSON line of one run. */
export interface BenchResult {
  readonly bench: string;
  readonly quick: boolean;
  readonly at: string;
  readonly machine: MachineInfo;
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** Flat numbers, keyed `<system>.<quantity>` (e.g. `ours.rssMB`, `supervisord.rssMB`). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly rows: readonly Row[];
  readonly targets: readonly Target[];
  /** Facts a reader needs to judge the numbers (what was excluded, resolution...). */
  readonly notes: readonly string[];
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

export function machineInfo(): MachineInfo {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    load1: round(loadavg()[0] ?? 0, 2),
  };
}

/** Is the target met by `value`, and by how much (positive = headroom, negative = missed by)? */
export function judge(t: Target, value: number): { met: boolean; margin: number } {
  const met =
    Number.isFinite(value) &&
    (t.op === '<=' ? value <= t.limit : t.op === '<' ? value < t.limit : value >= t.limit);
  return { met, margin: round(t.op === '>=' ? value - t.limit : t.limit - value) };
}

/** Formats a number for a table cell. */
export function cell(x: number | null | undefined): string {
  if (x === undefined || x === null || Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return String(a >= 100 ? round(x, 1) : a >= 1 ? round(x, 2) : round(x, 3));
}

/** A plain-text table with aligned columns. */
export function table(header: readonly string[], lines: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (l: readonly string[]): string =>
    l
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

/** The side-by-side table and the targets of a result (metrics may be medians over runs). */
export function renderResult(
  r: Pick<BenchResult, 'bench' | 'rows' | 'targets' | 'notes'>,
  metrics: Readonly<Record<string, number>>,
): string {
  const rows = r.rows.map((row) => {
    const ours = metrics[row.ours];
    const anchor = row.anchor !== undefined ? metrics[row.anchor] : undefined;
    const ratio =
      typeof ours === 'number' && typeof anchor === 'number' && anchor !== 0 && Number.isFinite(ours / anchor)
        ? ours / anchor
        : undefined;
    return [
      row.what,
      row.unit,
      cell(ours),
      cell(anchor),
      row.anchorName ?? '',
      ratio !== undefined ? `${round(ratio, 2)}x` : '-',
    ];
  });
  const out = [
    `== ${r.bench}`,
    table(['measure', 'unit', 'ours', 'anchor', 'anchor is', 'ours/anchor'], rows),
  ];
  if (r.targets.length > 0) {
    const lines = r.targets.map((t) => {
      const v = metrics[t.metric] ?? Number.NaN;
      const j = judge(t, v);
      return [t.name, `${t.op} ${t.limit} ${t.unit}`, cell(v), j.met ? 'MET' : 'NOT MET', cell(j.margin)];
    });
    out.push('', table(['target', 'limit', 'measured', 'verdict', 'margin'], lines));
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

/** Prints the JSON line, then the human table. */
export function emit(r: BenchResult): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(r)}\n`);
  process.stdout.write(`${renderResult(r, r.metrics)}\n\n`);
}

/** A bad command line: say what is wrong and exit 64 (EX_USAGE), no stack trace. */
function usageError(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(64);
}

/** Command-line flags every benchmark takes: --quick, and --key=value overrides of its sizes. */
export function parseArgs(argv: readonly string[]): { quick: boolean; values: Map<string, string> } {
  const values = new Map<string, string>();
  let quick = false;
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else {
      const m = /^--([a-z-]+)=(.*)$/.exec(a);
      if (m?.[1] !== undefined && m[2] !== undefined) values.set(m[1], m[2]);
      else usageError(`unknown argument ${JSON.stringify(a)} (want --quick or --name=value)`);
    }
  }
  return { quick, values };
}

/** A positive integer flag, or the default. */
export function intArg(values: ReadonlyMap<string, string>, name: string, dflt: number): number {
  const v = values.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 1e7)
    usageError(`--${name} must be an integer in 1..1e7, got ${v}`);
  return n;
}
