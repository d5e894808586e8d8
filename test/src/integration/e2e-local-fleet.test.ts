/**
 * The README's main command must not rot: `scripts/local-fleet.sh --check` starts nats-server,
 * the controller and an agent, rolls out a job, waits until it runs and stops everything. The
 * setup step (apt, npm ci, build) is skipped with LAUNCHFLEET_SKIP_SETUP=1: the test runner has
 * built the tree already. The agent it starts runs with all its Node flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS } from '@launchfleet/node-agent';
import { repoRoot } from '../support/paths.ts';

test('scripts/local-fleet.sh --check runs a whole local fleet and passes', { timeout: 180_000 }, async () => {
  const child = spawn('bash', [join(repoRoot, 'scripts', 'local-fleet.sh'), '--check'], {
    cwd: repoRoot,
    env: { ...process.env, LAUNCHFLEET_SKIP_SETUP: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  // The script bounds every wait itself (at most ~3 minutes in all); this is the backstop.
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  }, 170_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 0, out.slice(-4000));
  assert.match(out, /setup skipped \(LAUNCHFLEET_SKIP_SETUP=1\)/);
  assert.doesNotMatch(out, /npm ci/, 'setup.sh did not run');
  assert.match(out, /check passed: the job runs on the node/);
  assert.match(out, /stopping the agent, the controller and nats-server/);
  // The script runs the agent's bin itself, so its #! line's Node flags apply (node-flags.ts).
  const agentLog = readFileSync(join(repoRoot, '.launchfleet', 'logs', 'agent.log'), 'utf8');
  assert.match(agentLog, new RegExp(` INFO  agent: node flags: ${AGENT_NODE_FLAGS.join(' ')}$`, 'm'));
});
