// The Node flags the agent ships with (node-agent/bin/launchfleet-agent.js's `#!` line) keep the
// bytecode of a function the agent ran once and then not for many major GCs: the socket
// activation path it compiles at load (issue 19) must still be compiled at a first activation
// hours later. V8 flushes such bytecode after --bytecode-old-age major GCs by default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const bin = new URL('../../bin/launchfleet-agent.js', import.meta.url);

function shippedFlags(): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  assert.ok(m, `the bin's first line is not "#!/usr/bin/env -S node <flags>": ${first}`);
  return (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

// Runs lfMarker once, then allocates until 10 major GCs have run (allocation-driven, as in a long
// idle agent: a forced gc() leaves the functions' ages alone), then exits.
const script = `
const { PerformanceObserver, constants } = require('node:perf_hooks');
let majors = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
}).observe({ entryTypes: ['gc'] });
function lfMarker(x) { const o = { a: x, b: [x, x + 1] }; return JSON.stringify(o).length; }
lfMarker(3);
const until = Date.now() + 30000;
let ring = [];
(function churn() {
  if (majors >= 10 || Date.now() > until) { ring = []; console.log('majors ' + majors); return; }
  const c = [];
  for (let i = 0; i < 20000; i++) c.push({ i, s: 'x' + i });
  ring.push(c);
  if (ring.length > 4) ring.shift();
  setImmediate(churn);
})();
`;

/** Runs the script with `flags`; how many major GCs ran, and whether V8 flushed lfMarker. */
function run(flags: readonly string[]): { majors: number; flushed: boolean } {
  const r = spawnSync(process.execPath, [...flags, '--trace-flush-bytecode', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `node ${flags.join(' ')}: ${r.stderr}`);
  const majors = Number(/^majors (\d+)$/m.exec(r.stdout)?.[1] ?? NaN);
  return {
    majors,
    flushed: /discarding compiled metadata for .*<SharedFunctionInfo lfMarker>/.test(r.stdout),
  };
}

/** This Node's V8 traces bytecode flushing by age (Node 20; Node 22 and 24 only trace it by time). */
const tracesByAge =
  spawnSync(process.execPath, ['--trace-flush-bytecode', '-e', '0'], { encoding: 'utf8' }).status === 0;

describe('the shipped Node flags', () => {
  it('are all accepted by this Node (an unknown flag would stop the agent at its start)', () => {
    const flags = shippedFlags();
    const r = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `node ${flags.join(' ')}: ${r.stderr}`);
  });

  const why = tracesByAge ? false : `${process.version}: no --trace-flush-bytecode to see a flush by`;
  it('keep the bytecode of a function unused for 10 major GCs', { skip: why }, () => {
    const flags = shippedFlags();
    // The probe itself: with V8's default back, the same GCs flush it.
    const control = run([...flags, '--flush-bytecode']);
    // At least 10: the observer may report two at once, so the count can pass 10 before it is read.
    assert.ok(control.majors >= 10, `the allocation drives 10 major GCs (${control.majors})`);
    assert.ok(control.flushed, 'with --flush-bytecode, V8 flushes lfMarker after 10 major GCs');
    const shipped = run(flags);
    assert.ok(shipped.majors >= 10, `10 major GCs (${shipped.majors})`);
    assert.equal(shipped.flushed, false, `flags ${flags.join(' ')}: lfMarker's bytecode was flushed`);
  });
});
