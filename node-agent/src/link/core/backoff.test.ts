import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffCeiling, fullJitterDelay, jitteredPeriod, spreadDelay } from './backoff.ts';

const p = { baseMs: 100, capMs: 3000 };

/** A deterministic uniform generator (mulberry32) so the distribution test is repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the ceiling doubles from the base and stops at the cap', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 100].map((n) => backoffCeiling(n, p)),
    [100, 200, 400, 800, 1600, 3000, 3000, 3000],
  );
});

test('every delay lies in [0, ceiling); the extremes of u map to the ends', () => {
  for (let n = 0; n < 10; n++) {
    assert.equal(fullJitterDelay(n, p, 0), 0);
    assert.ok(fullJitterDelay(n, p, 0.999999) < backoffCeiling(n, p));
    assert.ok(fullJitterDelay(n, p, 1) < backoffCeiling(n, p), 'u = 1 is clamped below the ceiling');
  }
  assert.equal(fullJitterDelay(3, p, Number.NaN), 0);
});

test('full jitter: delays are uniform over [0, ceiling), not bunched near the ceiling', () => {
  const u = rng(42);
  const n = 20_000;
  const attempt = 5; // ceiling = cap = 3000
  const buckets = new Array<number>(10).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = fullJitterDelay(attempt, p, u());
    sum += d;
    buckets[Math.floor(d / 300)]!++;
  }
  // Mean of U(0, 3000) is 1500; each tenth holds ~10% (a thundering herd would put all in one).
  assert.ok(Math.abs(sum / n - 1500) < 40, `mean ${sum / n}`);
  for (const b of buckets) assert.ok(Math.abs(b / n - 0.1) < 0.015, `bucket share ${b / n}`);
  // And in the first attempt a tenth of the agents retry within the first tenth of the base.
  const early = Array.from({ length: n }, () => fullJitterDelay(0, p, u())).filter((d) => d < 10).length;
  assert.ok(Math.abs(early / n - 0.1) < 0.015, `early share ${early / n}`);
});

test('heartbeat periods are spread over [period, period * (1 + fraction))', () => {
  assert.equal(jitteredPeriod(10_000, 0.2, 0), 10_000);
  assert.ok(jitteredPeriod(10_000, 0.2, 0.999) < 12_000);
  assert.ok(jitteredPeriod(10_000, 0.2, 0.5) >= 10_999);
});

test('the first wait after a lost connection covers the whole spread window', () => {
  assert.equal(spreadDelay(30_000, 0), 0);
  assert.ok(spreadDelay(30_000, 0.9999999) < 30_000);
  assert.equal(spreadDelay(30_000, 0.5), 15_000);
  assert.equal(spreadDelay(30_000, Number.NaN), 0);
  assert.equal(spreadDelay(-5, 0.5), 0);
  // 10,000 agents with uniform draws land in every second of a 30 s window, none above it.
  let seed = 7;
  const u = (): number => ((seed = (seed * 48271) % 2147483647) - 1) / 2147483646;
  const perSecond = new Array<number>(30).fill(0);
  for (let i = 0; i < 10_000; i++) perSecond[Math.floor(spreadDelay(30_000, u()) / 1000)]!++;
  for (const c of perSecond) assert.ok(c > 250 && c < 420, `per-second count ${c}`);
});
