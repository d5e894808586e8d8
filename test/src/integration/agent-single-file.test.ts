/**
 * The agent as one file (scripts/build-agent.sh): a Node single-executable application that
 * carries the bundled agent and lfctl, the native addon and the lf-exec shim.
 *
 * - one command builds it; it answers --version, and lfctl both by its own name and as a
 *   subcommand;
 * - at start it extracts its native pieces below stateDir/native, owned by root and not writable
 *   by group or others, and runs jobs with them (the addon it loaded is the extracted one);
 * - a tampered addon, a world-writable shim, a piece replaced by a symlink and a world-writable
 *   native directory are refused with a clear error, and no job starts;
 * - it enrols with a real controller over a real nats-server and runs a job rolled out to it.
 *
 * The binary embeds the Node that runs this file (support/agent-build.ts).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { builtAgent } from '../support/agent-build.ts';
import { makeAgentDirs, shJob, startAgentProcess, writePlist, type AgentDirs } from '../support/agent.ts';
import { eventually } from '../support/eventually.ts';
import { startLocalFleet } from '../support/local-fleet.ts';
import { repoRoot } from '../support/paths.ts';

const run = promisify(execFile);

/** Runs the binary over `dirs` until it exits; resolves with its exit code and stderr. */
function runToExit(bin: string, dirs: AgentDirs): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['--config', dirs.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`the agent did not exit within 20 s:\n${stderr}`));
    }, 20_000);
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

/** The one directory below stateDir/native the agent extracted into. */
function nativeDirOf(dirs: AgentDirs): string {
  const names = readdirSync(join(dirs.stateDir, 'native')).filter((n) => /^[0-9a-f]{16}$/.test(n));
  assert.equal(names.length, 1, `one extracted build, got ${names.join(', ')}`);
  return join(dirs.stateDir, 'native', names[0]!);
}

describe('the single-file agent', { timeout: 600_000 }, () => {
  let bin: string;
  let lfctl: string;
  const cleanup: AgentDirs[] = [];

  before(async () => {
    const dir = await builtAgent();
    bin = join(dir, 'launchfleet-agent');
    lfctl = join(dir, 'lfctl');
  });
  after(() => {
    for (const d of cleanup) rmSync(d.dir, { recursive: true, force: true });
  });

  /** An agent tree with one RunAtLoad job, extracted once by a first run that is stopped again. */
  async function extractedTree(): Promise<{ dirs: AgentDirs; native: string }> {
    const dirs = makeAgentDirs();
    cleanup.push(dirs);
    writePlist(dirs.daemonDir, shJob('com.sea.sleep', 'exec sleep 300', { RunAtLoad: true }));
    const a = await startAgentProcess(dirs, { executable: bin });
    await a.waitForLog(/com\.sea\.sleep: spawning -> running/);
    assert.equal(await a.stop(), 0, a.log);
    return { dirs, native: nativeDirOf(dirs) };
  }

  test('is one executable with the version, and lfctl by its name or as a subcommand', async () => {
    assert.ok(statSync(bin).isFile());
    const v = await run(bin, ['--version']);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'node-agent', 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(v.stdout.trim(), pkg.version);
    assert.equal(lstatSync(lfctl).isSymbolicLink(), true);
    assert.match((await run(lfctl, ['help'])).stdout, /^Usage: lfctl <subcommand>/);
    assert.match(
      (await run(bin, ['lfctl', 'version'])).stdout,
      new RegExp(`lfctl ${pkg.version.replace(/\./g, '\\.')}`),
    );
  });

  test('extracts its native pieces owned by root, not writable by others, and runs a job with them', async () => {
    const dirs = makeAgentDirs();
    cleanup.push(dirs);
    writePlist(dirs.daemonDir, shJob('com.sea.sleep', 'exec sleep 300', { RunAtLoad: true }));
    const a = await startAgentProcess(dirs, { executable: bin });
    try {
      await a.waitForLog(/com\.sea\.sleep: spawning -> running \(pid (\d+)\)/);
      const native = nativeDirOf(dirs);
      for (const [name, mode] of [
        ['lfnative.node', 0o444],
        ['lf-exec', 0o555],
      ] as const) {
        const st = lstatSync(join(native, name));
        assert.ok(st.isFile(), name);
        assert.equal(st.uid, 0, `${name} owned by root`);
        assert.equal(st.mode & 0o7777, mode, `${name} mode`);
      }
      assert.equal(statSync(native).mode & 0o777, 0o700);
      assert.equal(statSync(join(dirs.stateDir, 'native')).mode & 0o777, 0o700);
      // The addon in the agent's address space is the extracted copy, not one from the tree.
      const maps = readFileSync(`/proc/${a.pid}/maps`, 'utf8');
      assert.ok(maps.includes(join(native, 'lfnative.node')), 'the extracted addon is loaded');
      assert.ok(!maps.includes('native/build'), 'no addon from a build tree is loaded');
      // The job runs, and lfctl of the same binary sees it.
      const list = await run(lfctl, ['--run-dir', dirs.runDir, 'list']);
      assert.match(list.stdout, /^\d+\t-\tcom\.sea\.sleep$/m);
    } finally {
      await a.stop();
    }
  });

  test('a tampered addon is refused with a clear error and no job starts', async () => {
    const { dirs, native } = await extractedTree();
    appendFileSync(join(native, 'lfnative.node'), 'x');
    const r = await runToExit(bin, dirs);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `refusing ${join(native, 'lfnative.node')}: it has SHA-256 [0-9a-f]{64}, but the copy embedded in this binary has [0-9a-f]{64} \\(the file was changed\\)`,
      ),
    );
    assert.match(r.stderr, /remove it \(rm .*lfnative\.node\) and start the agent again/);
    assert.doesNotMatch(r.stderr, /spawning/);
    // Left as found, for the admin to look at.
    assert.ok(readFileSync(join(native, 'lfnative.node')).at(-1) === 'x'.charCodeAt(0));
  });

  test('a shim writable by group or others is refused; once fixed, the agent starts', async () => {
    const { dirs, native } = await extractedTree();
    chmodSync(join(native, 'lf-exec'), 0o557);
    const r = await runToExit(bin, dirs);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`refusing ${join(native, 'lf-exec')}: it is writable by group or others \\(mode 0557\\)`),
    );
    assert.doesNotMatch(r.stderr, /spawning/);
    // The advice works: removing the copy lets the agent extract a fresh one.
    unlinkSync(join(native, 'lf-exec'));
    const a = await startAgentProcess(dirs, { executable: bin });
    await a.waitForLog(/com\.sea\.sleep: spawning -> running/);
    assert.equal(lstatSync(join(native, 'lf-exec')).mode & 0o7777, 0o555);
    await a.stop();
  });

  test('a piece replaced by a symlink, and a world-writable native directory, are refused', async () => {
    const { dirs, native } = await extractedTree();
    const elsewhere = join(dirs.dir, 'elsewhere-lf-exec');
    writeFileSync(elsewhere, readFileSync(join(native, 'lf-exec')), { mode: 0o555 });
    unlinkSync(join(native, 'lf-exec'));
    symlinkSync(elsewhere, join(native, 'lf-exec'));
    const r1 = await runToExit(bin, dirs);
    assert.equal(r1.code, 1, r1.stderr);
    assert.match(
      r1.stderr,
      new RegExp(`refusing ${join(native, 'lf-exec')}: it is a symlink, not a regular file`),
    );

    unlinkSync(join(native, 'lf-exec'));
    chmodSync(native, 0o777);
    const r2 = await runToExit(bin, dirs);
    assert.equal(r2.code, 1, r2.stderr);
    assert.match(
      r2.stderr,
      new RegExp(`refusing ${native}: it is writable by group or others \\(mode 0777\\)`),
    );
    chmodSync(native, 0o700);
  });

  test(
    'enrols with a real controller over nats-server and runs a job rolled out to it',
    { timeout: 300_000 },
    async () => {
      const fleet = await startLocalFleet({ agentExecutable: bin });
      try {
        const agentDir = join(fleet.dir, 'agent');
        // The node's identity came from the enrolment of this binary.
        const node = JSON.parse(readFileSync(join(agentDir, 'state', 'node.json'), 'utf8')) as {
          nodeId: string;
        };
        assert.equal(node.nodeId, fleet.nodeId);
        const plist = join(fleet.dir, 'com.sea.hello.plist');
        mkdirSync(fleet.dir, { recursive: true });
        writeFileSync(
          plist,
          `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>com.sea.hello</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>exec sleep 600</string></array>
  <key>KeepAlive</key><true/>
</dict></plist>
`,
        );
        const apply = await fleet.cli(['jobs', 'apply', plist, '--nodes', fleet.nodeId]);
        assert.equal(apply.code, 0, apply.stderr);
        await eventually(async () => {
          const h = await fleet.cli(['jobs', 'health', 'com.sea.hello', '--json']);
          const subStates = (JSON.parse(h.stdout) as { subStates?: Record<string, number> }).subStates ?? {};
          if ((subStates['running'] ?? 0) < 1) throw new Error(`not running yet: ${h.stdout}`);
        }, 60_000);
        // The job runs under the single-file agent, through its extracted shim.
        const print = await run(lfctl, [
          '--run-dir',
          join(agentDir, 'run'),
          'print',
          '--json',
          'system/com.sea.hello',
        ]);
        const pid = (JSON.parse(print.stdout) as { pid?: number }).pid;
        assert.ok(typeof pid === 'number' && pid > 0, print.stdout);
        assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(), 'sleep 600');
        // The NATS transport guard (node-agent/src/link/nats-write-guard.ts) is in force in the
        // bundle too: it found no transport to patch there until 2026-12-07, and said only this.
        assert.doesNotMatch(readFileSync(join(fleet.dir, 'logs', 'agent.log'), 'utf8'), /not guarded/);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${await fleet.logs()}`, { cause: e });
      } finally {
        await fleet.stop();
      }
    },
  );
});
