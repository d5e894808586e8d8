// The compact summary: bounded, problem jobs first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, type JobMetricsSnapshot } from './snapshot.ts';
import { parsePromText, sampleValue } from './prom-text.ts';

const agent = { natsConnected: true, desiredRevision: 3, signatureRefusals: {}, drift: {}, jobsLoaded: {} };

function job(label: string, over: Partial<JobMetricsSnapshot> = {}): JobMetricsSnapshot {
  return { domain: 'system', label, state: 'active', ...over };
}

describe('snapshot', () => {
  it('keeps problem jobs when truncating, and says how many were left out', () => {
    const jobs = [
      ...Array.from({ length: 10 }, (_, i) => job(`ok.${i}`)),
      job('z.throttled', { throttled: true, state: 'activating' }),
      job('y.loop', { crashLooping: true, runs: 9, exits: { crash: 9 } }),
      job('x.failed', { state: 'failed' }),
    ];
    const s = buildSnapshot(jobs, [], agent, 4);
    assert.deepEqual(
      s.jobs.map((j) => j.label),
      ['y.loop', 'x.failed', 'z.throttled', 'ok.0'],
    );
    assert.equal(s.omittedJobs, 9);
    assert.equal(buildSnapshot(jobs, [], agent).omittedJobs, 0);
    // Small: a job is well under 200 bytes of JSON.
    assert.ok(JSON.stringify(s).length < 1000, JSON.stringify(s));
  });
});

describe('prom-text reader', () => {
  it('reads escaped label values, special values and reports bad lines', () => {
    const t = parsePromText(
      [
        '# HELP a_total A counter.',
        '# TYPE a_total counter',
        'a_total{label="q\\"uote\\\\back\\nline",x="1"} 3',
        'b +Inf',
        'c{} NaN',
        'd{broken 1',
        'e 1 1700000000000',
      ].join('\n'),
    );
    assert.equal(t.types.get('a_total'), 'counter');
    assert.equal(t.help.get('a_total'), 'A counter.');
    assert.equal(sampleValue(t, 'a_total', { label: 'q"uote\\back\nline', x: '1' }), 3);
    assert.equal(sampleValue(t, 'b'), Infinity);
    assert.ok(Number.isNaN(sampleValue(t, 'c')));
    assert.equal(sampleValue(t, 'e'), 1);
    assert.deepEqual(t.problems, ['line 6: d{broken 1']);
  });
});
