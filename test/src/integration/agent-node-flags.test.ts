/**
 * The agent runs with its Node flags (node-agent/src/agent/node-flags.ts) however it is started,
 * and says so in its start log:
 * - the bin run itself (as the Docker image, scripts/local-fleet.sh and the tarball's launcher
 *   do): all of them from its #! line;
 * - the single-file agent (the .deb's): all of them from its sea-config execArgv, where the Node
 *   it embeds honours that (22 and 24); on Node 20 the agent sets those V8 takes after start;
 * - `node <bin>` (as the test helpers start it): the agent sets those V8 takes after start, and
 *   warns about the rest.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AGENT_NODE_FLAGS } from '@launchfleet/node-agent';
import { builtAgent } from '../support/agent-build.ts';
import { agentBin, makeAgentDirs, startAgentProcess, type AgentDirs } from '../support/agent.ts';

const all = `node flags: ${AGENT_NODE_FLAGS.join(' ')}`;
/** The bin's `#!/usr/bin/env -S node` finds the Node that runs the tests first. */
const pathWithThisNode = `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
const seaHonoursExecArgv = Number(process.versions.node.split('.')[0]) >= 22;

/** The agent's start log line about its Node flags, started by `executable` (default: node <bin>). */
async function flagsLine(dirs: AgentDirs, executable?: string): Promise<string> {
  const a = await startAgentProcess(dirs, {
    ...(executable !== undefined && { executable }),
    env: { PATH: pathWithThisNode },
  });
  try {
    return /^.* agent: node flags: .*$/m.exec(a.log)?.[0] ?? `no node flags line in:\n${a.log}`;
  } finally {
    assert.equal(await a.stop(), 0, a.log);
  }
}

describe("the agent's Node flags, each way it starts", { timeout: 600_000 }, () => {
  const cleanup: AgentDirs[] = [];
  const dirs = (): AgentDirs => {
    const d = makeAgentDirs();
    cleanup.push(d);
    return d;
  };
  after(() => {
    for (const d of cleanup) rmSync(d.dir, { recursive: true, force: true });
  });

  test('the bin run itself: every flag from its #! line', async () => {
    const line = await flagsLine(dirs(), agentBin);
    assert.ok(line.endsWith(` INFO  agent: ${all}`), line);
  });

  test('node <bin>: the agent sets --no-opt and --no-flush-bytecode itself and warns about the rest', async () => {
    const line = await flagsLine(dirs());
    assert.match(line, / WARN {2}agent: node flags: \(none\); set at start: --no-opt --no-flush-bytecode; /);
    assert.match(line, /running without: --max-semi-space-size=1 --optimize-for-size /);
  });

  test(`the single-file agent (Node ${process.version}): ${seaHonoursExecArgv ? 'every flag from its execArgv' : 'those V8 takes after start'}`, async () => {
    const bin = join(await builtAgent(), 'launchfleet-agent');
    const line = await flagsLine(dirs(), bin);
    if (seaHonoursExecArgv) assert.ok(line.endsWith(` INFO  agent: ${all}`), line);
    else assert.match(line, /set at start: --no-opt --no-flush-bytecode; /);
  });
});
