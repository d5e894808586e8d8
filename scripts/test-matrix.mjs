// The runtime matrix CI runs (scripts/test.sh -> run-tests.mjs --matrix). Each leg runs
// scripts/run-tests.mjs under its own Node, with that Node first on PATH (so scripts and tests
// that start `node` get the same one) and LF_NATS_SERVER_BIN naming its nats-server:
//
//   node20  the machine's Node (20, end of life but still on machines), nats-server from PATH
//           (Debian 12's 2.9.10): every tier chosen
//   node24  .tools/node-24 (scripts/fetch-node.sh 24, the supported LTS), nats-server 2.10.27
//           from .tools/ (scripts/fetch-nats-server.sh) when it was fetched: every tier chosen
//   node22  .tools/node-22 (scripts/fetch-node.sh 22): the unit tier only, to show 22 still
//           works without paying for the whole suite a third time
//
// Why this pairing: every tier runs on both 20 and 24, and the integration tier meets each
// nats-server once, within the CI budget (the suite takes ~7 min per leg on 2 cores; see the
// README's "Runtimes" section). LF_MATRIX_LEGS=node24,node20 picks legs (and their order).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

const NATS_2_10 = join('.tools', 'nats-server-2.10.27', 'usr', 'sbin', 'nats-server');

/** The legs, by name; `tiers: 'chosen'` runs whatever --tier asked for. */
function legs(root) {
  const nats210 = join(root, NATS_2_10);
  return {
    node20: {
      node: process.execPath,
      nats: undefined,
      tiers: 'chosen',
      about: "the machine's Node, PATH nats-server",
    },
    node24: {
      node: join(root, '.tools', 'node-24', 'bin', 'node'),
      nats: existsSync(nats210) ? nats210 : undefined,
      natsMissing: existsSync(nats210)
        ? undefined
        : `${NATS_2_10} not fetched (scripts/fetch-nats-server.sh)`,
      tiers: 'chosen',
      about: 'pinned Node 24, nats-server 2.10.27',
    },
    node22: {
      node: join(root, '.tools', 'node-22', 'bin', 'node'),
      nats: undefined,
      tiers: ['unit'],
      about: 'pinned Node 22, unit tier',
    },
  };
}

/** Runs one leg; resolves with its counts (parsed from its closing line) and exit status. */
function runLeg(root, name, leg, argv) {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      PATH: `${dirname(leg.node)}${delimiter}${process.env.PATH ?? ''}`,
    };
    if (leg.nats) env.LF_NATS_SERVER_BIN = leg.nats;
    const child = spawn(leg.node, [join(root, 'scripts', 'run-tests.mjs'), ...argv], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tail = '';
    let partial = '';
    const failures = [];
    child.stdout.on('data', (c) => {
      process.stdout.write(c);
      tail = (tail + c.toString()).slice(-4096);
      // run-tests prints `# failed: <test> (<where>): <error>` after each tier: kept for the end.
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('# failed: ')) failures.push(l.slice('# failed: '.length));
    });
    // Passed on, so that a Ctrl-C or CI's stop reaches the leg's own tier groups.
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      const m = tail.match(/^(\d+) passed, (\d+) failed, (\d+) skipped$/m);
      const counts = m ? { pass: +m[1], fail: +m[2], skipped: +m[3] } : { pass: 0, fail: 1, skipped: 0 };
      resolve({ status: code ?? (signal ? 1 : 0), counts, failures });
    });
  });
}

/** Runs every leg in turn; returns the exit status (0 only when every leg passed). */
export async function runMatrix(root, argv) {
  const all = legs(root);
  const names = (process.env.LF_MATRIX_LEGS ?? 'node20,node24,node22').split(',').filter(Boolean);
  const tierAt = argv.indexOf('--tier');
  const chosenTier = tierAt >= 0 ? argv[tierAt + 1] : 'all';
  const rest = tierAt >= 0 ? argv.filter((_, i) => i !== tierAt && i !== tierAt + 1) : argv;
  const totals = { pass: 0, fail: 0, skipped: 0 };
  const summary = [];
  const why = [];
  let failed = false;
  for (const name of names) {
    const leg = all[name];
    if (!leg) {
      console.error(`run-tests --matrix: unknown leg ${name} (known: ${Object.keys(all).join(', ')})`);
      return 2;
    }
    if (!existsSync(leg.node)) {
      console.error(
        `\n# leg ${name}: ${leg.node} is missing: run scripts/setup.sh (it fetches the pinned Nodes)`,
      );
      failed = true;
      totals.fail += 1;
      summary.push(`${name}: MISSING ${leg.node}`);
      continue;
    }
    const tiers =
      leg.tiers === 'chosen'
        ? [chosenTier]
        : leg.tiers.filter((t) => chosenTier === 'all' || t === chosenTier);
    if (tiers.length === 0) {
      summary.push(`${name}: nothing chosen`);
      continue;
    }
    const started = Date.now();
    console.log(`\n######## leg ${name} (${leg.about}): ${leg.node}`);
    if (leg.natsMissing) console.log(`# ${leg.natsMissing}: this leg uses the PATH's nats-server instead`);
    for (const tier of tiers) {
      const r = await runLeg(root, name, leg, ['--tier', tier, ...rest]);
      for (const k of Object.keys(totals)) totals[k] += r.counts[k];
      if (r.status !== 0) failed = true;
      for (const f of r.failures) why.push(`${name} ${tier}: ${f}`);
      const minutes = ((Date.now() - started) / 60_000).toFixed(1);
      summary.push(
        `${name} ${tier}: ${r.status === 0 ? 'ok' : 'FAILED'} (${r.counts.pass} passed, ${r.counts.fail} failed, ${minutes} min)`,
      );
    }
  }
  console.log(`\n# matrix\n${summary.map((s) => `#   ${s}`).join('\n')}`);
  // Repeated here, at the end, where a CI log's tail shows it.
  if (why.length > 0) console.log(`\n# why they failed\n${why.map((w) => `#   ${w}`).join('\n')}`);
  console.log(`\n${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
  return failed ? 1 : 0;
}
