/**
 * Order statistics and histograms for the fleet benchmarks. These machines are noisy
 * (docs/engineering.md, "Benchmarks"), so numbers are medians and p99s, never means alone. Pure.
 */

/** Quantiles of one sample set, in the samples' unit. */
export interface Quantiles {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank quantile of sorted data (never invents a value between samples). NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export function quantiles(samples: readonly number[]): Quantiles {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? Number.NaN,
  };
}

/** The median of numbers (NaN when empty). */
export function median(xs: readonly number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** One histogram bucket: [fromMs, toMs) and its count. */
export interface Bucket {
  readonly fromMs: number;
  readonly toMs: number;
  readonly count: number;
}

/** Fixed-width histogram from 0 to the largest sample (at most `maxBuckets` buckets). */
export function histogram(samples: readonly number[], widthMs: number, maxBuckets = 40): Bucket[] {
  if (samples.length === 0) return [];
  const max = Math.max(...samples);
  const width = Math.max(widthMs, Math.ceil((max + 1) / maxBuckets));
  const n = Math.floor(max / width) + 1;
  const counts = new Array<number>(n).fill(0);
  for (const x of samples) {
    const i = Math.min(n - 1, Math.max(0, Math.floor(x / width)));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts.map((count, i) => ({ fromMs: i * width, toMs: (i + 1) * width, count }));
}

/** The narrowest window holding `fraction` of the samples (how tightly they bunch: a herd). */
export function densestWindow(samples: readonly number[], fraction: number): number {
  const s = [...samples].sort((a, b) => a - b);
  const k = Math.max(1, Math.ceil(fraction * s.length));
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i + k - 1 < s.length; i++) best = Math.min(best, (s[i + k - 1] ?? 0) - (s[i] ?? 0));
  return Number.isFinite(best) ? best : Number.NaN;
}
