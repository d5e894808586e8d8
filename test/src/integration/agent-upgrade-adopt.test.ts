// Adoption across an agent restart (docs/upgrades.md), with real agent processes and real jobs:
// a detach stop (the package upgrade's) leaves the jobs that can be adopted running, the next
// agent adopts them (same pids) and still supervises them, a job whose socket the agent holds is
// restarted, a crash (SIGKILL, no detach record) still reaps, and a record that does not match
// its process (a recycled pid, a forged start time) is never adopted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  alive,
  eventually,
  makeAgentDirs,
  removeDirs,
  runLfctl,
  shJob,
  startAgentProcess,
  writePlist,
  type AgentDirs,
  type AgentProcess,
  pidOf,
  printJson,
} from '../support/agent.ts';
import { startLocalFleet } from '../support/local-fleet.ts';
import { linuxOnly } from '../support/platform.ts';

/** What the package's upgrade does: ask for a detach, then SIGTERM (deploy/debian/postinst). */
async function upgradeStop(a: AgentProcess): Promise<void> {
  writeFileSync(join(a.dirs.runDir, 'detach-on-stop'), '');
  assert.equal(await a.stop('SIGTERM'), 0);
  assert.match(a.log, /detached: \d+ job processes left running/);
}

function startTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]);
}

/** A job that would keep running, one started by kickstart only, and one with a held socket. */
function writeJobs(dirs: AgentDirs): void {
  writePlist(dirs.daemonDir, shJob('com.lf.keep', 'exec sleep 300', { KeepAlive: true }));
  writePlist(dirs.daemonDir, shJob('com.lf.manual', 'exec sleep 301'));
  writePlist(
    dirs.daemonDir,
    shJob('com.lf.sock', 'exec sleep 302', {
      RunAtLoad: true,
      Sockets: { Listeners: { SockPathName: join(dirs.dir, 'sock.sock') } },
    }),
  );
}

describe(
  'agent restart with adoption',
  { skip: linuxOnly('/proc start times, pids across processes') },
  () => {
    test('a detach stop leaves jobs running; the next agent adopts and supervises them; a crash still reaps', async () => {
      const dirs = makeAgentDirs();
      writeJobs(dirs);
      const agents: AgentProcess[] = [];
      const pids: number[] = [];
      try {
        const a = await startAgentProcess(dirs);
        agents.push(a);
        assert.equal((await a.lfctl(['kickstart', 'system/com.lf.manual'])).code, 0);
        const keep = await pidOf(a, 'system/com.lf.keep');
        const manual = await pidOf(a, 'system/com.lf.manual');
        const sock = await pidOf(a, 'system/com.lf.sock');
        pids.push(keep, manual, sock);
        await upgradeStop(a);
        assert.ok(alive(keep) && alive(manual), 'the detach left the adoptable jobs running');
        assert.ok(!alive(sock), 'the job whose socket the agent holds was stopped');
        assert.match(a.log, /com\.lf\.sock: stopped for the agent's restart, not left running: Sockets/);

        const b = await startAgentProcess(dirs);
        agents.push(b);
        assert.equal(await pidOf(b, 'system/com.lf.keep'), keep, 'same pid after the restart');
        assert.equal(await pidOf(b, 'system/com.lf.manual'), manual, 'same pid (not started at load)');
        const sock2 = await pidOf(b, 'system/com.lf.sock');
        pids.push(sock2);
        assert.notEqual(sock2, sock);
        assert.match(b.log, new RegExp(`adopted pid ${keep}, left running by the previous agent`));
        assert.match(b.log, new RegExp(`pid ${keep}: its end is watched with a pidfd`));
        assert.doesNotMatch(b.log, /survived the previous agent/);
        const st = await printJson(b, 'system/com.lf.keep');
        assert.equal(st?.['subState'], 'running');
        assert.match(JSON.stringify(st?.['history']), /adopted from the previous agent/);

        // Still supervised: its end is seen, and KeepAlive starts it again.
        process.kill(keep, 'SIGKILL');
        const keep2 = await pidOf(b, 'system/com.lf.keep', keep);
        pids.push(keep2);
        const after = await printJson(b, 'system/com.lf.keep');
        assert.match(JSON.stringify(after?.['history']), /status unknown/);
        assert.equal(after?.['lastExitCode'], undefined, 'no exit code is made up');
        // An adopted job that ends while nothing restarts it says so.
        process.kill(manual, 'SIGTERM');
        await eventually(
          async () => (await printJson(b, 'system/com.lf.manual'))?.['result'] === 'unknown',
          10_000,
          'the adopted manual job ended with result unknown',
        );
        assert.match(
          (await b.lfctl(['print', 'system/com.lf.manual'])).stdout,
          /last exit code = \(unknown: an adopted process/,
        );
        assert.equal(await b.lfctl(['kickstart', 'system/com.lf.manual']).then((r) => r.code), 0);
        const manual2 = await pidOf(b, 'system/com.lf.manual', manual);
        pids.push(manual2);

        // A crash (no detach record): the next agent reaps as before, adopting nothing.
        await eventually(
          () => readFileSync(join(dirs.stateDir, 'agent-state.json'), 'utf8').includes(`"pid":${manual2}`),
          10_000,
          'recorded',
        );
        await b.stop('SIGKILL');
        assert.ok(alive(keep2) && alive(manual2));
        const c = await startAgentProcess(dirs);
        agents.push(c);
        assert.match(
          c.log,
          new RegExp(`process group ${manual2} \\(1 processes\\) survived the previous agent`),
        );
        assert.doesNotMatch(c.log, /adopted pid/);
        await eventually(() => !alive(keep2) && !alive(manual2), 10_000, 'the crash leftovers are reaped');
        const keep3 = await pidOf(c, 'system/com.lf.keep');
        pids.push(keep3);
        // A plain stop still stops everything.
        assert.equal(await c.stop('SIGTERM'), 0);
        assert.ok(!alive(keep3), 'a plain stop stops the jobs');
      } finally {
        for (const a of agents) await a.stop('SIGKILL');
        for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
        removeDirs(dirs);
      }
    });

    test('a record whose pid is another process now (forged start time) is neither adopted nor killed; a changed job is restarted', async () => {
      const dirs = makeAgentDirs();
      writeJobs(dirs);
      writePlist(dirs.daemonDir, shJob('com.lf.changed', 'exec sleep 303', { KeepAlive: true }));
      const agents: AgentProcess[] = [];
      const pids: number[] = [];
      const stranger = spawn('/bin/sleep', ['300'], { detached: true, stdio: 'ignore' });
      try {
        const a = await startAgentProcess(dirs);
        agents.push(a);
        const keep = await pidOf(a, 'system/com.lf.keep');
        assert.equal((await a.lfctl(['kickstart', 'system/com.lf.manual'])).code, 0);
        const manual = await pidOf(a, 'system/com.lf.manual');
        const changed = await pidOf(a, 'system/com.lf.changed');
        pids.push(keep, manual, changed);
        await upgradeStop(a);
        assert.ok(alive(changed));
        // Its plist changes while no agent runs: the old process must not pass for the new job.
        writePlist(dirs.daemonDir, shJob('com.lf.changed', 'exec sleep 304', { KeepAlive: true }));
        // Rewrite the record of com.lf.keep: a stranger's pid (a session leader too), and a start
        // time that is not its own; com.lf.manual's record stays genuine.
        const file = join(dirs.stateDir, 'agent-state.json');
        const doc = JSON.parse(readFileSync(file, 'utf8')) as {
          jobs: Record<string, { process?: { pid: number; startTicks: number } }>;
        };
        const rec = doc.jobs['system/com.lf.keep'];
        assert.ok(rec?.process, 'the detach recorded com.lf.keep');
        rec.process = { pid: stranger.pid!, startTicks: startTicks(stranger.pid!) + 7 };
        writeFileSync(file, JSON.stringify(doc));

        // This agent watches its adopted processes by reading /proc (where there is no pidfd).
        const b = await startAgentProcess(dirs, { env: { LAUNCHFLEET_ADOPT_WATCH: 'proc' } });
        agents.push(b);
        assert.equal(await pidOf(b, 'system/com.lf.manual'), manual, 'the genuine record is adopted');
        assert.match(b.log, new RegExp(`pid ${manual}: its end is watched by reading /proc`));
        const keep2 = await pidOf(b, 'system/com.lf.keep');
        pids.push(keep2);
        assert.notEqual(keep2, stranger.pid, 'the stranger is not adopted');
        assert.match(
          b.log,
          new RegExp(`pid ${stranger.pid} recorded at the detach is gone or is another process now`),
        );
        assert.ok(alive(stranger.pid!), 'the stranger is not killed');
        const changed2 = await pidOf(b, 'system/com.lf.changed');
        pids.push(changed2);
        assert.notEqual(changed2, changed);
        assert.ok(!alive(changed), 'the process of the old definition was stopped');
        assert.match(
          b.log,
          /com\.lf\.changed: pid \d+ left running at the detach is not adopted: its definition changed/,
        );
        // The /proc watch sees the adopted process end too.
        process.kill(manual, 'SIGTERM');
        await eventually(
          async () => (await printJson(b, 'system/com.lf.manual'))?.['result'] === 'unknown',
          10_000,
          'the end of the adopted process, seen by polling /proc',
        );
        assert.equal(await b.stop('SIGTERM'), 0);
        assert.ok(alive(stranger.pid!), 'nor by a stop');
        assert.ok(!alive(manual) && !alive(keep2) && !alive(changed2));
      } finally {
        for (const a of agents) await a.stop('SIGKILL');
        for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
        stranger.kill('SIGKILL');
        removeDirs(dirs);
      }
    });

    test('a job the controller delivered is adopted too', async () => {
      const fleet = await startLocalFleet();
      const pids: number[] = [];
      try {
        const plist = join(fleet.dir, 'com.fleet.keep.plist');
        writeFileSync(
          plist,
          `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>com.fleet.keep</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>exec sleep 305</string></array>
  <key>KeepAlive</key><true/>
</dict></plist>
`,
        );
        const apply = await fleet.cli(['jobs', 'apply', plist, '--nodes', fleet.nodeId]);
        assert.equal(apply.code, 0, apply.stderr);
        const pidIn = (not?: number): Promise<number> =>
          eventually(
            async () => {
              const r = await runLfctl([
                '--run-dir',
                fleet.runDir(),
                'print',
                '--json',
                'system/com.fleet.keep',
              ]);
              const pid = r.code === 0 ? (JSON.parse(r.stdout) as { pid?: number }).pid : undefined;
              return pid !== undefined && pid !== not ? pid : undefined;
            },
            60_000,
            'the delivered job runs',
          );
        const pid = await pidIn();
        pids.push(pid);
        writeFileSync(join(fleet.runDir(), 'detach-on-stop'), '');
        await fleet.killAgent('agent', 'SIGTERM');
        assert.ok(alive(pid), 'the detach left the delivered job running');
        await fleet.restartAgent('agent');
        assert.equal(await pidIn(), pid, 'the new agent adopted it');
        assert.match(
          await fleet.agentLog(),
          new RegExp(`adopted pid ${pid}, left running by the previous agent`),
        );
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${await fleet.logs()}`, { cause: e });
      } finally {
        await fleet.stop();
        for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
      }
    });
  },
);
