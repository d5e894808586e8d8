// The trim schedule: once after start-up, then at every interval, never after stop().
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMemoryTrim } from './memory-trim.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('memory trim', () => {
  it('releases after the first delay, then every interval, and stops', async () => {
    let calls = 0;
    const t = startMemoryTrim({ firstAfterMs: 30, everyMs: 20, release: () => (calls++, true) });
    await sleep(15);
    assert.equal(calls, 0, 'not before the first delay');
    await sleep(100);
    assert.ok(calls >= 2, `first + at least one interval, got ${calls}`);
    t.stop();
    const at = calls;
    await sleep(60);
    assert.equal(calls, at, 'nothing after stop()');
  });

  it('stop() before the first trim cancels it', async () => {
    let calls = 0;
    startMemoryTrim({ firstAfterMs: 20, release: () => (calls++, true) }).stop();
    await sleep(50);
    assert.equal(calls, 0);
  });
});
