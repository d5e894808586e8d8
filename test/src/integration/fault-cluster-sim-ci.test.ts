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
    const lines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (s: string) => lines.push(...s.split('\n').filter(Boolean)));
    child.stderr.setEncoding('utf8').on('data', (s: string) => lines.push(...s.split('\n').filter(Boolean)));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      rmSync(out, { force: true });
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    for (const l of lines) t.diagnostic(l);
    const r = JSON.parse(readFileSync(out, 'utf8')) as { failures?: string[]; returnedBeforeKill?: boolean };
    assert.deepEqual(r.failures ?? [], [], 'every check of fault-cluster-sim passed');
    assert.equal(r.returnedBeforeKill, false, 'the kill landed during the apply');
    assert.equal(code, 0, 'fault-cluster-sim exited 0');
  },
);
