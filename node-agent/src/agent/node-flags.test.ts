// The agent's Node flags (node-flags.ts): every way of starting it carries the one list, and the
// flags do what they are there for. --no-flush-bytecode keeps the bytecode of a function the agent
// ran once and then not for many major GCs: the socket activation path it compiles at load
// (issue 19) must still be compiled at a first activation hours later. V8 flushes such bytecode
// after --bytecode-old-age major GCs by default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  AGENT_NODE_FLAGS,
  applyAgentNodeFlags,
  describeNodeFlags,
  planNodeFlags,
  startFlagsOf,
} from './node-flags.ts';

const bin = new URL('../../bin/launchfleet-agent.js', import.meta.url);
const repo = new URL('../../../', import.meta.url);
const flagsModule = new URL('./node-flags.js', import.meta.url).href;

function binFlags(): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  assert.ok(m, `the bin's first line is not "#!/usr/bin/env -S node <flags>": ${first}`);
  return (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

// Runs lfMarker once, then allocates until 10 major GCs have run (allocation-driven, as in a long
// idle agent: a forced gc() leaves the functions' ages alone), then exits. With SET_AT_START, the
// agent's own applyAgentNodeFlags runs first, as when it is started as `node <bin>`.
const script = `
const { PerformanceObserver, constants } = require('node:perf_hooks');
let majors = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
}).observe({ entryTypes: ['gc'] });
function lfMarker(x) { const o = { a: x, b: [x, x + 1] }; return JSON.stringify(o).length; }
function churnUntil10() {
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
}
if (process.env.SET_AT_START) import(process.env.SET_AT_START).then((m) => { m.applyAgentNodeFlags(); churnUntil10(); });
else churnUntil10();
`;

/** V8's trace of bytecode flushing: --trace-flush-bytecode on Node 20, --trace-flush-code on 22 and 24. */
const traceFlag = ['--trace-flush-code', '--trace-flush-bytecode'].find(
  (f) => spawnSync(process.execPath, [f, '-e', '0'], { encoding: 'utf8' }).status === 0,
);

/** Runs the script with `flags`; how many major GCs ran, and whether V8 flushed lfMarker. */
function run(flags: readonly string[], setAtStart = false): { majors: number; flushed: boolean } {
  assert.ok(traceFlag, `${process.version} traces no bytecode flushing`);
  const r = spawnSync(process.execPath, [...flags, traceFlag, '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SET_AT_START: setAtStart ? flagsModule : '' },
  });
  assert.equal(r.status, 0, `node ${flags.join(' ')}: ${r.stderr}`);
  return {
    majors: Number(/^majors (\d+)$/m.exec(r.stdout)?.[1] ?? NaN),
    flushed: /discarding compiled metadata for .*<SharedFunctionInfo lfMarker>/.test(r.stdout),
  };
}

describe("the agent's Node flags", () => {
  it("are the bin's #! line, word for word", () => {
    assert.deepEqual(binFlags(), [...AGENT_NODE_FLAGS]);
  });

  it('are all accepted by this Node (an unknown flag would stop the agent at its start)', () => {
    const r = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `node ${AGENT_NODE_FLAGS.join(' ')}: ${r.stderr}`);
  });

  it('reach the Docker image and local-fleet.sh: they run the bin itself, not node on it', () => {
    const docker = readFileSync(new URL('deploy/docker/agent.Dockerfile', repo), 'utf8');
    assert.match(docker, /^ENTRYPOINT \["\/app\/node-agent\/bin\/launchfleet-agent\.js"\]$/m);
    const fleet = readFileSync(new URL('scripts/local-fleet.sh', repo), 'utf8');
    assert.match(fleet, /^start agent node-agent\/bin\/launchfleet-agent\.js /m);
    for (const [name, text] of [
      ['deploy/docker/agent.Dockerfile', docker],
      ['scripts/local-fleet.sh', fleet],
    ] as const)
      assert.doesNotMatch(
        text,
        /(?:^|[\s"'[])node["']?[,\s][^\n]*launchfleet-agent\.js/m,
        `${name} runs node on the bin`,
      );
  });

  it('are split by whether the process has them, can be set after start, or only on the command line', () => {
    assert.deepEqual(planNodeFlags([...AGENT_NODE_FLAGS]), {
      given: [...AGENT_NODE_FLAGS],
      setAtStart: [],
      missing: [],
    });
    assert.deepEqual(planNodeFlags([]), {
      given: [],
      setAtStart: ['--no-opt', '--no-flush-bytecode'],
      missing: ['--max-semi-space-size=1', '--optimize-for-size'],
    });
    assert.deepEqual(planNodeFlags(startFlagsOf(['--no-opt'], ' --max-semi-space-size=1  --inspect ')), {
      given: ['--max-semi-space-size=1', '--no-opt'],
      setAtStart: ['--no-flush-bytecode'],
      missing: ['--optimize-for-size'],
    });
  });

  it('the agent sets those it can at start, and its log says which it runs without', () => {
    const set: string[] = [];
    const report = applyAgentNodeFlags(['--max-semi-space-size=1'], (f) => set.push(f));
    assert.deepEqual(set, ['--no-opt', '--no-flush-bytecode']);
    assert.deepEqual(describeNodeFlags(report), {
      level: 'warn',
      text:
        'node flags: --max-semi-space-size=1; set at start: --no-opt --no-flush-bytecode; running without: ' +
        '--optimize-for-size (only a command line sets them: run the bin itself, not node on it, or a single ' +
        'file built with Node 22 or 24)',
    });
    const all: string[] = [];
    assert.deepEqual(describeNodeFlags(applyAgentNodeFlags([...AGENT_NODE_FLAGS], (f) => all.push(f))), {
      level: 'info',
      text: `node flags: ${AGENT_NODE_FLAGS.join(' ')}`,
    });
    assert.deepEqual(all, []);
  });

  it('keep the bytecode of a function unused for 10 major GCs, given or set at start', () => {
    // The probe itself: with V8's default back, the same GCs flush it.
    const control = run([...AGENT_NODE_FLAGS, '--flush-bytecode']);
    // At least 10: the observer may report two at once, so the count can pass 10 before it is read.
    assert.ok(control.majors >= 10, `the allocation drives 10 major GCs (${control.majors})`);
    assert.ok(control.flushed, 'with --flush-bytecode, V8 flushes lfMarker after 10 major GCs');
    const shipped = run(AGENT_NODE_FLAGS);
    assert.ok(shipped.majors >= 10, `10 major GCs (${shipped.majors})`);
    assert.equal(
      shipped.flushed,
      false,
      `flags ${AGENT_NODE_FLAGS.join(' ')}: lfMarker's bytecode was flushed`,
    );
    // `node <bin>`: no flags on the command line; the agent sets them as it starts.
    const atStart = run([], true);
    assert.ok(atStart.majors >= 10, `10 major GCs (${atStart.majors})`);
    assert.equal(atStart.flushed, false, "set at start: lfMarker's bytecode was flushed");
  });
});
