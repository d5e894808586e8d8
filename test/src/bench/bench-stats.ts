/**
 * Order statistics for the benchmarks. The machines are noisy (docs/engineering.md, "Benchmarks"), so every
 * number is reported as a median and a p99 over many samples, never as a mean alone.
 */

/** Summary of one sample set, in the samples' own unit. */
export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
  readonly mean: number;
}

/**
 * The q-quantile (0..1) by nearest rank on sorted data: the smallest sample with at least q of the
 * samples at or below it. Nearest rank never invents a value between two samples, so a p99 over
 * 100 samples is the largest but one, exactly as a reader would count it. NaN for no samples.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Median, p90, p99, min, max and mean of the samples (any order). */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s.length > 0 ? (s[s.length - 1] ?? Number.NaN) : Number.NaN,
    min: s[0] ?? Number.NaN,
    mean: s.length > 0 ? sum / s.length : Number.NaN,
  };
}

/** The median of a few values (runs of a benchmark). */
export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Rounds for display and JSON: 3 significant decimals at most, integers stay integers. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `a / b` rounded, or NaN when b is 0. */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : round(a / b, 2);
}
