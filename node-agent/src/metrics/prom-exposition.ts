/**
 * Writes the Prometheus text exposition format (version 0.0.4), the one /metrics serves, and a
 * fixed-bucket histogram to feed it. The agent renders its metrics from its own counts at scrape
 * time (agent-metrics.ts) instead of keeping prom-client objects: prom-client and the Node
 * modules it pulls in cost the agent about 3 MB at start, and its per-series objects and label
 * keys about 0.8 KB per loaded job (test/bench/RESULTS.md, "Where the memory goes"). The format:
 * https://prometheus.io/docs/instrumenting/exposition_formats/ (HELP and TYPE once per family,
 * before its samples; label values escape backslash, double quote and newline; HELP escapes
 * backslash and newline).
 */
import type { MetricDef } from '@launchfleet/shared/metrics';

/** What the /metrics endpoint needs from a source of metrics (prom-client's Registry has it too). */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A sample value as Prometheus reads it (Go's ParseFloat): +Inf, -Inf, NaN, or the number. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Accumulates one exposition. Families must be written whole, one after the other. */
export class ExpositionWriter {
  readonly #parts: string[] = [];

  /** The HELP and TYPE lines of a family. */
  family(d: MetricDef): void {
    this.#parts.push(`# HELP ${d.name} ${escapeHelp(d.help)}\n# TYPE ${d.name} ${d.type}\n`);
  }

  /** One sample line; labels in the order given. */
  sample(name: string, labels: Readonly<Record<string, string>> | undefined, value: number): void {
    let l = '';
    if (labels) {
      for (const k in labels) l += `${l === '' ? '' : ','}${k}="${escapeLabel(labels[k] ?? '')}"`;
    }
    this.#parts.push(l === '' ? `${name} ${formatValue(value)}\n` : `${name}{${l}} ${formatValue(value)}\n`);
  }

  /** A histogram family's samples (no labels besides `le`). */
  histogram(d: MetricDef, h: FixedHistogram): void {
    this.family(d);
    let cumulative = 0;
    h.buckets.forEach((le, i) => {
      cumulative += h.counts[i] ?? 0;
      this.sample(`${d.name}_bucket`, { le: formatValue(le) }, cumulative);
    });
    this.sample(`${d.name}_bucket`, { le: '+Inf' }, h.count);
    this.sample(`${d.name}_sum`, undefined, h.sum);
    this.sample(`${d.name}_count`, undefined, h.count);
  }

  text(): string {
    return this.#parts.join('');
  }
}

/** Observations counted into fixed upper bounds (Prometheus `le`), plus their sum and count. */
export class FixedHistogram {
  readonly buckets: readonly number[];
  /** Per bucket, the observations that fell into it (not cumulative). */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.counts = this.buckets.map(() => 0);
  }

  observe(v: number): void {
    const i = this.buckets.findIndex((le) => v <= le);
    if (i >= 0) this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += v;
    this.count += 1;
  }
}
