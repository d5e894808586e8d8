/**
 * `scripts/fault-cluster-sim.sh` at CI size (docs/fault-suite.md): three nats-servers, the
 * controller as its own process, 60 simulated agents; the desired-state stream's leader SIGKILLed
 * in the middle of an apply (its writes one at a time, `--apply-concurrency 1`, so the kill lands
 * while it runs), then quorum lost for 10 s and brought back. Every check of the script must pass
 * (it exits 1 and names the failed ones otherwise): the kill came before the apply returned, the
 * retry re-delivered the same version, every apply without quorum failed clearly, every key's
 * history in the stream is [v1, v2, v3], every agent runs v3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.ts';

test(
  'fault-cluster-sim, CI size: leader killed mid-apply and quorum lost over 60 simulated agents, every key [v1, v2, v3]',
  { timeout: 240_000 },
  async (t) => {
    const out = join(tmpdir(), `lf-fault-cluster-sim-ci-${process.pid}.json`);
    const child = spawn(
      process.execPath,
      [
        '--conditions=launchfleet-testing',
        join(repoRoot, 'test', 'dist', 'bench', 'fault-cluster-sim.js'),
        ...['--nodes', '60', '--outage-s', '10', '--apply-concurrency', '1', '--out', out],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Passed on as they come (node --test prints a test process' stderr), not at the end: a run
    // cut by the test's timeout keeps what it said.
    child.stdout.pipe(process.stderr, { end: false });
    child.stderr.pipe(process.stderr, { end: false });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    t.after(async () => {
      // Cut by the timeout: the script prints what the servers report and stops its fleet.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
        await exited;
        clearTimeout(kill);
      }
      rmSync(out, { force: true });
    });
    const code = await exited;
    const r = JSON.parse(readFileSync(out, 'utf8')) as { failures?: string[]; returnedBeforeKill?: boolean };
    assert.deepEqual(r.failures ?? [], [], 'every check of fault-cluster-sim passed');
    assert.equal(r.returnedBeforeKill, false, 'the kill landed during the apply');
    assert.equal(code, 0, 'fault-cluster-sim exited 0');
  },
);
