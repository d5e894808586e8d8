// docs/launchd-semantics.md §6 behaviours 41-43 through lfctl and a real agent (35-40 and 44 are in
// lfctl-verbs and lfctl-auth), and 134: an agent whose session type does not match its user domain.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  eventually,
  makeAgentDirs,
  removeDirs,
  shJob,
  sleep,
  startAgentProcess,
  writePlist,
  type AgentDirs,
  type AgentProcess,
} from '../support/agent.ts';
import { skipUnlessLinux } from '../support/platform.ts';

let dirs: AgentDirs;
let agent: AgentProcess;
const lf = (...args: string[]): ReturnType<AgentProcess['lfctl']> => agent.lfctl(args);
const NOBODY = 65534;

async function runsOf(target: string): Promise<number | undefined> {
  const r = await lf('print', '--json', target);
  return r.code === 0 ? ((JSON.parse(r.stdout) as { runs?: number }).runs ?? 0) : undefined;
}

before(async () => {
  dirs = makeAgentDirs();
  agent = await startAgentProcess(dirs);
});

after(async () => {
  await agent.stop();
  removeDirs(dirs);
});

describe('§6 rows 41-43', () => {
  test('41: LaunchOnlyOnce with KeepAlive runs once, is removed after its exit, never respawned', async () => {
    const marks = join(dirs.dir, 'once.txt');
    const p = writePlist(
      dirs.dir,
      shJob('com.lf.once', `echo ran >> ${marks}; exit 0`, { LaunchOnlyOnce: true, KeepAlive: true }),
    );
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    await eventually(
      async () => (await lf('print', 'system/com.lf.once')).code === 113,
      10_000,
      'removed after its run',
    );
    // The throttle is 1 s here: a respawn would have happened within 2 s.
    await sleep(2000);
    assert.equal(readFileSync(marks, 'utf8'), 'ran\n');
    assert.doesNotMatch((await lf('list')).stdout, /com\.lf\.once/);
  });

  test('42: EnvironmentVariables: a string is set, a non-string value is ignored', async () => {
    const out = join(dirs.dir, 'env.txt');
    const p = join(dirs.dir, 'com.lf.env.plist');
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>com.lf.env</string>
  <key>ProgramArguments</key><array><string>/usr/bin/env</string></array>
  <key>EnvironmentVariables</key><dict><key>A</key><string>x</string><key>B</key><integer>1</integer></dict>
  <key>StandardOutPath</key><string>${out}</string>
  <key>RunAtLoad</key><true/>
</dict></plist>`;
    writeFileSync(p, xml);
    chmodSync(p, 0o644);
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    await eventually(async () => (await runsOf('system/com.lf.env')) === 1, 10_000, 'ran once');
    const env = readFileSync(out, 'utf8').split('\n');
    assert.ok(env.includes('A=x'), env.join('\n'));
    assert.ok(!env.some((l) => l.startsWith('B=')), 'B is not a string: ignored');
    assert.ok(env.includes('XPC_SERVICE_NAME=com.lf.env'));
    const pr = await lf('print', 'system/com.lf.env');
    assert.match(pr.stdout, /\tenvironment = \{\n\t\tA => x\n\t\}\n/);
    assert.match(pr.stdout, /\tlast exit code = 0\n/);
    assert.equal((await lf('bootout', '--wait', 'system/com.lf.env')).code, 0);
  });

  test('43: StandardOutPath is created 0666 & ~Umask, owned by the job user, appended across runs', async () => {
    const outDir = join(dirs.dir, 'out');
    mkdirSync(outDir);
    chmodSync(outDir, 0o777);
    const out = join(outDir, 'job.log');
    assert.ok(!existsSync(out));
    const p = writePlist(
      dirs.dir,
      shJob('com.lf.stdout', 'echo "run as $(id -u)"', {
        StandardOutPath: out,
        Umask: 23,
        UserName: 'nobody',
        RunAtLoad: true,
      }),
    );
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    await eventually(async () => (await runsOf('system/com.lf.stdout')) === 1, 10_000, 'first run');
    assert.equal((await lf('kickstart', 'system/com.lf.stdout')).code, 0);
    await eventually(async () => (await runsOf('system/com.lf.stdout')) === 2, 10_000, 'second run');
    const st = statSync(out);
    assert.equal(st.mode & 0o777, 0o640, '0666 & ~027');
    assert.equal(st.uid, NOBODY);
    assert.equal(readFileSync(out, 'utf8'), `run as ${NOBODY}\nrun as ${NOBODY}\n`);
    assert.equal((await lf('bootout', '--wait', 'system/com.lf.stdout')).code, 0);
  });
});

describe('user domains created by root', () => {
  test('bootstrap user/<uid> creates the domain; an Aqua agent there is refused with 134; a Background one loads', async (ctx) => {
    if (skipUnlessLinux(ctx, 'reads the job through /proc')) return;
    assert.equal((await lf('print', `user/${NOBODY}`)).code, 112, 'no such domain yet');
    assert.equal((await lf('bootstrap', `user/${NOBODY}`)).code, 0);
    const again = await lf('bootstrap', `user/${NOBODY}`);
    assert.equal(again.code, 37, 'already bootstrapped, said clearly');
    const aqua = writePlist(dirs.dir, shJob('com.lf.aqua', 'exec sleep 300', { RunAtLoad: true }));
    const r = await lf('bootstrap', `user/${NOBODY}`, aqua);
    assert.equal(r.code, 134);
    assert.match(r.stderr, /^Bootstrap failed: 134: Service cannot load in requested session$/m);
    const bg = writePlist(
      dirs.dir,
      shJob('com.lf.bg', 'exec sleep 300', { RunAtLoad: true, LimitLoadToSessionType: 'Background' }),
    );
    assert.equal((await lf('bootstrap', `user/${NOBODY}`, bg)).code, 0);
    const pid = await eventually(
      async () => {
        const j = await lf('print', '--json', `user/${NOBODY}/com.lf.bg`);
        return (JSON.parse(j.stdout) as { pid?: number }).pid;
      },
      10_000,
      'the agent runs',
    );
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    assert.equal(Number(uid), NOBODY, 'agents run as the domain user');
    assert.ok(existsSync(join(dirs.runDir, 'user', `${NOBODY}.sock`)), 'the user got a control socket');
    assert.equal((await lf('bootout', `user/${NOBODY}`)).code, 0, 'root removes the domain');
    await eventually(
      () => !existsSync(join(dirs.runDir, 'user', `${NOBODY}.sock`)),
      10_000,
      'socket removed',
    );
    assert.equal((await lf('print', `user/${NOBODY}`)).code, 112);
    assert.throws(() => process.kill(pid, 0), 'its jobs were stopped');
  });
});
