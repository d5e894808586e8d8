#!/usr/bin/env node
// Runs the compiled test files with Node's own test runner.
//
// Tiers, named by where a test lives (docs/engineering.md, "Tests"):
//   unit         *.test.js beside the code in shared/, node-agent/, controller/ (pure, fast, run in parallel)
//   integration  test/dist/integration/**   (real processes, sockets, nats-server; run one file at a time)
//   e2e          test/dist/integration/e2e-*.test.js, a part of integration (whole fleets as processes)
//   all          unit, then integration (which includes e2e)
// A tier that finds no test file fails (with --tier all --grep, only when no tier finds one).
//
// Usage: node scripts/run-tests.mjs [--tier unit|integration|e2e|all] [--grep PATTERN] [--matrix]
//
// --matrix runs the chosen tiers once per runtime leg (scripts/test-matrix.mjs: the machine's
// Node 20 with its nats-server 2.9.10, the pinned Node 24 with nats-server 2.10.27, the unit tier
// on the pinned Node 22) and sums their counts.
//
// Each tier has a time budget (LF_TIER_TIMEOUT_MIN overrides it): a test file that never exits
// (a child process or a handle left behind) fails the run with a clear line instead of holding
// CI until its own limit. The whole process group of the tier is killed.
import { spawn } from 'node:child_process';
import { clearTimeout, setTimeout } from 'node:timers';
import { readdirSync, statSync, existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { tapFailures } from './tap-failures.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
if (args.includes('--matrix')) {
  const { runMatrix } = await import('./test-matrix.mjs');
  const rest = args.filter((a) => a !== '--matrix');
  process.exit(await runMatrix(root, rest));
}
const tier = valueOf('--tier') ?? 'all';
const grep = valueOf('--grep');

function valueOf(flag) {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const unit = ['shared', 'node-agent', 'controller'].flatMap((ws) => walk(join(root, ws, 'dist')));
const integrationFiles = walk(join(root, 'test', 'dist', 'integration'));
const isE2e = (f) => /^e2e-.*\.test\.js$/.test(f.split('/').pop() ?? '');
// Budgets: several times what each tier takes on a 2-core machine (unit ~1 min, integration ~5).
const tiers = {
  unit: { files: unit, concurrency: 2, budgetMin: 15 },
  integration: { files: integrationFiles, concurrency: 1, budgetMin: 40 },
  e2e: { files: integrationFiles.filter(isE2e), concurrency: 1, budgetMin: 30 },
};
const budgetOverride = Number(process.env.LF_TIER_TIMEOUT_MIN);

/** Runs the tier's node --test in its own process group; kills the group when over budget. */
function runTier(argv, budgetMin) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, LAUNCHFLEET_ROOT: root },
      detached: true,
    });
    // Detached, the group no longer gets the terminal's Ctrl-C: pass it on.
    const forward = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // gone already
      }
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(
        `\n# tier over its budget of ${budgetMin} min: killed. The file whose tests are printed last did not finish` +
          ' (or left a process or handle behind that kept it from exiting).',
      );
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }, budgetMin * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve({ status: timedOut ? 1 : (code ?? (signal ? 1 : 0)) });
    });
  });
}
const chosen = tier === 'all' ? ['unit', 'integration'] : [tier];
let failed = false;
let ran = 0;
const totals = { pass: 0, fail: 0, skipped: 0 };
const tapDir = mkdtempSync(join(tmpdir(), 'lf-tests-'));
for (const name of chosen) {
  const t = tiers[name];
  if (!t) {
    console.error(`unknown tier ${name}`);
    process.exit(2);
  }
  const files = t.files.filter((f) => !grep || f.includes(grep)).sort();
  if (files.length === 0) {
    // `all --grep X` naturally leaves some tiers empty; an explicit tier, or `all`, that runs
    // nothing is a mistake (a wrong path or name), never a pass.
    if (tier !== 'all' || !grep) {
      console.error(
        `# tier ${name}: FAILED: no test file${grep ? ` matching "${grep}"` : ''} (is it built?)`,
      );
      failed = true;
    }
    continue;
  }
  ran++;
  console.log(`\n# tier ${name}: ${files.length} files`);
  const r = await runTier(
    [
      '--test',
      // The test-only entry points (the packages' `./testing` exports) resolve only under this
      // condition; node --test passes it on to each test file's process.
      '--conditions=launchfleet-testing',
      `--test-concurrency=${t.concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${join(tapDir, `${name}.tap`)}`,
      ...files,
    ],
    budgetOverride > 0 ? budgetOverride : t.budgetMin,
  );
  if (r.status !== 0) failed = true;
  const tap = existsSync(join(tapDir, `${name}.tap`))
    ? readFileSync(join(tapDir, `${name}.tap`), 'utf8')
    : '';
  for (const key of ['pass', 'fail', 'skipped']) {
    const m = tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm'));
    if (m) totals[key] += Number(m[1]);
  }
  // Why each test failed, in one line each (the spec reporter's own summary is far up the log).
  for (const f of tapFailures(tap)) console.log(`# failed: ${f}`);
  console.log(
    `# tier ${name}: ${r.status === 0 ? 'ok' : 'FAILED'} (${files.map((f) => relative(root, f)).length} files)`,
  );
}
rmSync(tapDir, { recursive: true, force: true });
if (ran === 0 && !failed) {
  console.error(`# no tier found a test file${grep ? ` matching "${grep}"` : ''}: FAILED`);
  failed = true;
}
if (failed && totals.fail === 0) totals.fail = 1; // a runner crash counts as a failure
console.log(`\n${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
