// The exposition writer: the text format's escaping rules and histogram lines, read back with
// the project's own reader (prom-text.ts) and checked against the format's examples.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricDef } from '@launchfleet/shared/metrics';
import { ExpositionWriter, FixedHistogram, formatValue } from './prom-exposition.ts';
import { parsePromText, sampleValue } from './prom-text.ts';

const gauge: MetricDef = { name: 'x_gauge', type: 'gauge', help: 'a "help"\\ with\nlines', labels: ['l'] };
const hist: MetricDef = { name: 'x_seconds', type: 'histogram', help: 'h', labels: [] };

describe('prom exposition', () => {
  it('escapes label values (backslash, quote, newline) and HELP (backslash, newline)', () => {
    const w = new ExpositionWriter();
    w.family(gauge);
    w.sample('x_gauge', { l: 'a\\b"c\nd' }, 1);
    const text = w.text();
    assert.equal(
      text,
      '# HELP x_gauge a "help"\\\\ with\\nlines\n# TYPE x_gauge gauge\nx_gauge{l="a\\\\b\\"c\\nd"} 1\n',
    );
    const p = parsePromText(text);
    assert.deepEqual(p.problems, []);
    assert.equal(sampleValue(p, 'x_gauge', { l: 'a\\b"c\nd' }), 1);
  });

  it('histogram buckets are cumulative, with +Inf, _sum and _count', () => {
    const h = new FixedHistogram([0.5, 0.1, 1]);
    for (const v of [0.05, 0.2, 0.2, 0.7, 3]) h.observe(v);
    const w = new ExpositionWriter();
    w.histogram(hist, h);
    const p = parsePromText(w.text());
    assert.deepEqual(p.problems, []);
    assert.equal(p.types.get('x_seconds'), 'histogram');
    assert.deepEqual(
      ['0.1', '0.5', '1', '+Inf'].map((le) => sampleValue(p, 'x_seconds_bucket', { le })),
      [1, 3, 4, 5],
    );
    assert.equal(sampleValue(p, 'x_seconds_count'), 5);
    assert.ok(Math.abs((sampleValue(p, 'x_seconds_sum') ?? 0) - 4.15) < 1e-9);
  });

  it('formats special values as Prometheus reads them', () => {
    assert.deepEqual([Infinity, -Infinity, NaN, 0.25, 7].map(formatValue), [
      '+Inf',
      '-Inf',
      'NaN',
      '0.25',
      '7',
    ]);
  });
});
