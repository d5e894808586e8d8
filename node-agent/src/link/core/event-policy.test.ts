import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type EventPolicyConfig, EventPolicy, type JobFacts, type PolicyOutput } from './event-policy.ts';

const cfg: EventPolicyConfig = {
  settleMs: 1000,
  burst: 20,
  refillMs: 3000,
  summaryMs: 60_000,
  maxSummaries: 20,
};
const ok = (pid?: number, lastExit?: number, version?: number): JobFacts => ({
  condition: 'ok',
  pid,
  lastExit,
  version,
});
const crashing = (pid?: number, lastExit = 1): JobFacts => ({
  condition: 'crash-looping',
  pid,
  lastExit,
  version: undefined,
});

/** Drives the policy to `until`, waking when it asks; returns everything it published. */
function run(p: EventPolicy<string>, from: number, until: number): PolicyOutput<string>[] {
  const out: PolicyOutput<string>[] = [];
  for (let t = from; ;) {
    const w = p.nextWake();
    if (w === undefined || w > until) break;
    t = Math.max(t, w);
    out.push(...p.due(t));
  }
  return out;
}

describe('event policy', () => {
  test('a job first seen is a transition after the settle time, with its state by then', () => {
    const p = new EventPolicy<string>(cfg);
    assert.deepEqual(p.observe('a', 'm', ok(), 0), []);
    p.observe('a', 'm2', ok(10), 400);
    assert.deepEqual(p.due(999), []);
    const out = p.due(1000);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], { type: 'transition', key: 'a', meta: 'm2', facts: ok(10), folded: 0 });
  });

  test('a crash-looping job: one transition into the loop, then one summary a minute', () => {
    const p = new EventPolicy<string>(cfg);
    const out: PolicyOutput<string>[] = [];
    // Running; then it crashes every 10 s (restarted by KeepAlive) and is crash-looping from 20 s.
    out.push(...p.observe('j', 'j', ok(1), 0), ...run(p, 0, 5000));
    let pid = 2;
    for (let t = 10_000; t <= 600_000; t += 10_000) {
      const f = t >= 20_000 ? crashing : (x?: number) => ok(x, 1);
      out.push(...run(p, t - 10_000, t - 1));
      out.push(...p.observe('j', 'j', f(undefined), t));
      out.push(...p.observe('j', 'j', f(pid++), t + 5));
    }
    out.push(...run(p, 600_000, 661_000));
    const transitions = out.filter((o) => o.type === 'transition');
    assert.deepEqual(
      transitions.map((o) => (o.type === 'transition' ? o.facts.condition : '')),
      ['ok', 'crash-looping'],
    );
    const summaries = out.filter((o) => o.type === 'summary');
    assert.ok(summaries.length >= 10 && summaries.length <= 12, `${summaries.length} summaries in ~11 min`);
    const total = summaries.reduce((a, o) => a + (o.type === 'summary' ? o.counts.failed : 0), 0);
    assert.equal(total, 60, 'every failed exit is counted once');
  });

  test('a new managed version is a transition; plain restarts are not', () => {
    const p = new EventPolicy<string>(cfg);
    p.observe('j', 'j', ok(1, undefined, 1), 0);
    assert.equal(run(p, 0, 2000).filter((o) => o.type === 'transition').length, 1);
    p.observe('j', 'j', ok(undefined, 0, 1), 3000);
    p.observe('j', 'j', ok(2, 0, 1), 3100);
    assert.deepEqual(
      run(p, 3100, 10_000).filter((o) => o.type === 'transition'),
      [],
      'a restart is activity, not a transition',
    );
    p.observe('j', 'j', ok(undefined, 0, 2), 11_000);
    p.observe('j', 'j', ok(3, 0, 2), 11_200);
    const t = run(p, 11_200, 15_000).filter((o) => o.type === 'transition');
    assert.equal(t.length, 1);
    assert.deepEqual(
      t[0]?.type === 'transition' && t[0].facts,
      ok(3, 0, 2),
      'the state after the settle time',
    );
  });

  test('a change and its undoing within the settle time say nothing', () => {
    const p = new EventPolicy<string>(cfg);
    p.observe('j', 'j', ok(1), 0);
    run(p, 0, 2000);
    p.observe('j', 'j', { ...ok(1), condition: 'throttled' }, 3000);
    p.observe('j', 'j', ok(1), 3500);
    assert.deepEqual(
      run(p, 3500, 10_000).filter((o) => o.type === 'transition'),
      [],
    );
    assert.equal(p.folded, 1);
  });

  test('many jobs with activity: at most maxSummaries summaries, the rest in one', () => {
    const p = new EventPolicy<string>({ ...cfg, maxSummaries: 3 });
    for (let i = 0; i < 10; i++) p.observe(`j${i}`, `j${i}`, ok(1), 0);
    for (let i = 0; i < 10; i++) {
      p.observe(`j${i}`, `j${i}`, ok(undefined, i < 2 ? 1 : 0), 10_000);
      p.observe(`j${i}`, `j${i}`, ok(2, i < 2 ? 1 : 0), 10_001);
    }
    const out = run(p, 0, 61_000).filter((o) => o.type !== 'transition');
    assert.equal(out.filter((o) => o.type === 'summary').length, 3);
    const first = out[0];
    assert.ok(first?.type === 'summary' && first.counts.failed === 1, 'jobs with failures first');
    const rest = out.find((o) => o.type === 'summary-rest');
    assert.ok(rest?.type === 'summary-rest' && rest.jobs === 7);
  });

  test('property: whatever the jobs do, transitions stay within the bucket and summaries within the cap', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 5000 }),
            job: fc.integer({ min: 0, max: 30 }),
            condition: fc.constantFrom(
              'ok',
              'throttled',
              'crash-looping',
              'spawn-failed',
              'disabled' as const,
            ),
            pid: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
            version: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          }),
          { maxLength: 600 },
        ),
        (steps) => {
          const c = { ...cfg, maxSummaries: 5 };
          const p = new EventPolicy<string>(c);
          const out: { t: number; o: PolicyOutput<string> }[] = [];
          let t = 0;
          for (const s of steps) {
            const next = t + s.dt;
            for (const o of run(p, t, next)) out.push({ t: next, o });
            t = next;
            const facts: JobFacts = { condition: s.condition, pid: s.pid, lastExit: 1, version: s.version };
            for (const o of p.observe(`j${s.job}`, 'm', facts, t)) out.push({ t, o });
          }
          const end = t + 120_000;
          for (const o of run(p, t, end)) out.push({ t: end, o });
          const transitions = out.filter((x) => x.o.type === 'transition').length;
          assert.ok(transitions <= c.burst + end / c.refillMs + 1, `${transitions} transitions in ${end} ms`);
          // Summaries: at most maxSummaries + 1 per window.
          const windows = Math.ceil(end / c.summaryMs) + 1;
          const summaries = out.filter((x) => x.o.type !== 'transition').length;
          assert.ok(summaries <= windows * (c.maxSummaries + 1), `${summaries} summaries`);
          // Nothing is left pending at the end: the latest of every job went out.
          assert.equal(p.nextWake(), undefined);
        },
      ),
      { numRuns: 200 },
    );
  });
});
