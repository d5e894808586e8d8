// launchfleet-agent as a process: loading the daemon directory (a bad plist is reported, the
// rest loads), bad input that must not hurt other jobs, SIGTERM honouring ExitTimeOut, a crash
// (SIGKILL) and restart that leaves no orphan and brings KeepAlive jobs back, and the state that
// survives a restart (overrides, runs and last exit).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { utmpRecord } from '@launchfleet/node-agent';
import {
  alive,
  eventually,
  makeAgentDirs,
  removeDirs,
  shJob,
  startAgentProcess,
  writePlist,
  type AgentProcess,
  pidOf,
  printJson,
} from '../support/agent.ts';
import { linuxOnly, skipUnlessLinux } from '../support/platform.ts';
import { freePort } from '../support/nats-server.ts';

/** Live (non-zombie) processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const s = readFileSync(`/proc/${n}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z' && Number(f[2]) === pgid) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}

describe('the daemon directory at start', () => {
  test('a malformed plist is reported with its path and code; the others load and run; /metrics answers', async () => {
    const port = await freePort();
    const dirs = makeAgentDirs({ metricsListen: `127.0.0.1:${port}` });
    writeFileSync(join(dirs.daemonDir, 'com.lf.garbage.plist'), 'this is not a plist');
    writePlist(dirs.daemonDir, { Label: 'com.lf.noprogram', RunAtLoad: true });
    writePlist(dirs.daemonDir, shJob('com.lf.writable', 'exit 0'), 0o666);
    writePlist(dirs.daemonDir, shJob('com.lf.good', 'exec sleep 300', { RunAtLoad: true }));
    const a = await startAgentProcess(dirs);
    try {
      assert.match(a.log, /WARN {2}system: .*com\.lf\.garbage\.plist: 109: Invalid property list/);
      assert.match(a.log, /WARN {2}system: .*com\.lf\.noprogram\.plist: 111: Invalid or missing Program/);
      assert.match(
        a.log,
        /WARN {2}system: .*com\.lf\.writable\.plist: 122: Path had bad ownership\/permissions \(Dubious permissions/,
      );
      assert.match(a.log, /INFO {2}system: loaded 1 jobs/);
      const pid = await pidOf(a, 'system/com.lf.good');
      assert.ok(alive(pid));
      assert.match(
        a.log,
        /system\/com\.lf\.good: spawning -> running \(pid \d+\)/,
        'state changes are logged with the why',
      );
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /com\.lf\.good/, 'the endpoint reports the loaded job');
    } finally {
      await a.stop();
      removeDirs(dirs);
    }
  });
});

describe('bad input gives clear status, no crash, other jobs unaffected', () => {
  test('a failed promise nobody handles is logged as a bug; the agent and its jobs go on', async () => {
    const dirs = makeAgentDirs();
    writePlist(dirs.daemonDir, shJob('com.lf.steady', 'exec sleep 300', { RunAtLoad: true }));
    // Preloaded into the agent: a rejection without a handler, once the agent is up.
    const preload = 'data:text/javascript,setTimeout(()=>Promise.reject(Error(4242)),1500)';
    const a = await startAgentProcess(dirs, { env: { NODE_OPTIONS: `--import=${preload}` } });
    try {
      const steady = await pidOf(a, 'system/com.lf.steady');
      await eventually(() => /unhandled rejection/.test(a.log) || a.exited, 10_000, 'the rejection');
      assert.match(a.log, /ERROR {1,2}agent: unhandled rejection \(a bug; the agent goes on\): 4242/);
      assert.equal(a.exited, false, 'the agent is still running');
      assert.ok(alive(steady), 'its job too');
      assert.equal(await pidOf(a, 'system/com.lf.steady'), steady, 'the same process');
    } finally {
      await a.stop();
      removeDirs(dirs);
    }
  });

  test('a missing program, an unknown user, an unopenable StandardOutPath, a vanished WatchPath', async () => {
    const dirs = makeAgentDirs();
    writePlist(dirs.daemonDir, shJob('com.lf.steady', 'exec sleep 300', { RunAtLoad: true }));
    const a = await startAgentProcess(dirs);
    try {
      const steady = await pidOf(a, 'system/com.lf.steady');
      const watched = join(dirs.dir, 'watched', 'trigger');
      mkdirSync(join(dirs.dir, 'watched'));
      const plists = [
        writePlist(dirs.dir, { Label: 'com.lf.noexec', Program: '/nonexistent/program', RunAtLoad: true }),
        writePlist(
          dirs.dir,
          shJob('com.lf.nouser', 'exit 0', { UserName: 'lf-no-such-user', RunAtLoad: true }),
        ),
        writePlist(
          dirs.dir,
          shJob('com.lf.badout', 'echo hi', { StandardOutPath: '/nonexistent-dir/out.log', RunAtLoad: true }),
        ),
        writePlist(dirs.dir, shJob('com.lf.watch', 'exit 0', { WatchPaths: [watched] })),
      ];
      const r = await a.lfctl(['bootstrap', 'system', ...plists]);
      assert.equal(r.code, 0, 'a missing binary still bootstraps (§3.3)');
      const noexec = await eventually(
        async () => {
          const s = await printJson(a, 'system/com.lf.noexec');
          return s?.['spawnFailure'] ? s : undefined;
        },
        10_000,
        'spawn failure recorded',
      );
      assert.equal(noexec['jobState'], 'spawn failed');
      assert.match(
        (await a.lfctl(['print', 'system/com.lf.noexec'])).stdout,
        /\tspawn failure = exec: ENOENT \(cannot execute \/nonexistent\/program\)\n/,
      );
      const nouser = await eventually(
        async () => {
          const s = await printJson(a, 'system/com.lf.nouser');
          return s?.['spawnFailure'] ? s : undefined;
        },
        10_000,
        'unknown user recorded',
      );
      assert.match(
        JSON.stringify(nouser['spawnFailure']),
        /The specified username does not exist: lf-no-such-user/,
      );
      // 842 flavour (D11): warn and run with the stream on /dev/null.
      await eventually(
        async () => (await printJson(a, 'system/com.lf.badout'))?.['lastExitCode'] === 0,
        10_000,
        'ran anyway',
      );
      assert.match(a.log, /com\.lf\.badout: stdout: ENOENT: cannot open \/nonexistent-dir\/out\.log/);
      // The watched path's directory vanishes; the agent carries on and a later creation still triggers.
      rmSync(join(dirs.dir, 'watched'), { recursive: true });
      mkdirSync(join(dirs.dir, 'watched'));
      writeFileSync(watched, 'x');
      await eventually(
        async () => ((await printJson(a, 'system/com.lf.watch'))?.['runs'] as number) >= 1,
        // Polled through lfctl, a process start per poll: seconds each on a loaded machine.
        20_000,
        'WatchPaths fired',
      ).catch(async (e: unknown) => {
        // What the job and the agent said, for the next reader of a failure.
        const job = (await a.lfctl(['print', 'system/com.lf.watch'])).stdout;
        const lines = a.log.split('\n').filter((l) => l.includes('com.lf.watch'));
        throw new Error(`${String(e)}\n${job}\n${lines.join('\n')}`);
      });
      assert.equal(await pidOf(a, 'system/com.lf.steady'), steady, 'the other job kept running');
      assert.ok(!a.exited);
    } finally {
      await a.stop();
      removeDirs(dirs);
    }
  });
});

describe('SIGTERM', () => {
  test('stops every job honouring ExitTimeOut, removes its sockets and exits 0', async () => {
    const dirs = makeAgentDirs();
    writePlist(dirs.daemonDir, shJob('com.lf.polite', 'exec sleep 300', { RunAtLoad: true }));
    writePlist(
      dirs.daemonDir,
      shJob('com.lf.stubborn', "trap '' TERM; while :; do sleep 0.1; done", {
        RunAtLoad: true,
        ExitTimeOut: 2,
      }),
    );
    const a = await startAgentProcess(dirs);
    try {
      const polite = await pidOf(a, 'system/com.lf.polite');
      const stubborn = await pidOf(a, 'system/com.lf.stubborn');
      const t0 = Date.now();
      assert.equal(await a.stop('SIGTERM', 20_000), 0);
      const took = Date.now() - t0;
      assert.ok(took >= 1500, `waited for ExitTimeOut (${took} ms)`);
      assert.ok(took < 12_000, `but not much longer (${took} ms)`);
      assert.ok(!alive(polite) && !alive(stubborn));
      // Its `sleep 0.1` child inherited the ignored SIGTERM (launchd leaves such children be,
      // docs/launchd-semantics.md §2.4); it ends by itself.
      await eventually(() => groupMembers(stubborn).length === 0, 5000, 'the group is empty');
      assert.ok(
        !existsSync(join(dirs.runDir, 'system.sock')) && !existsSync(join(dirs.runDir, 'public.sock')),
      );
      assert.match(
        a.log,
        /com\.lf\.stubborn: stopping-term -> stopping-kill .*Exit timeout elapsed \(2 seconds\)/,
      );
    } finally {
      await a.stop();
      removeDirs(dirs);
    }
  });
});

describe('restarts', () => {
  test('after SIGKILL the next agent leaves no orphan (the whole process group) and KeepAlive jobs come back', async () => {
    const dirs = makeAgentDirs();
    // The job forks a child in its own process group, then waits.
    writePlist(dirs.daemonDir, shJob('com.lf.family', 'sleep 300 & exec sleep 301', { KeepAlive: true }));
    const a = await startAgentProcess(dirs);
    let old: number[] = [];
    let b: AgentProcess | undefined;
    try {
      const pid = await pidOf(a, 'system/com.lf.family');
      old = await eventually(
        () => {
          const m = groupMembers(pid);
          return m.length === 2 ? m : undefined;
        },
        10_000,
        'the job and its child',
      );
      // The state file records the process before anything happens to the agent.
      await eventually(
        () => readFileSync(join(dirs.stateDir, 'agent-state.json'), 'utf8').includes(`"pid":${pid}`),
        10_000,
        'recorded',
      );
      await a.stop('SIGKILL');
      assert.ok(old.every(alive), 'the crash left the job running');
      b = await startAgentProcess(dirs);
      assert.match(b.log, new RegExp(`process group ${pid} \\(2 processes\\) survived the previous agent`));
      await eventually(() => old.every((p) => !alive(p)), 10_000, 'the old group is gone');
      assert.deepEqual(groupMembers(pid), []);
      const fresh = await pidOf(b, 'system/com.lf.family', pid);
      assert.ok(!old.includes(fresh));
      assert.ok(alive(fresh));
    } finally {
      await b?.stop();
      await a.stop();
      for (const p of old) if (alive(p)) process.kill(p, 'SIGKILL');
      removeDirs(dirs);
    }
  });

  test('a recorded pid that now belongs to another process (another start time) is left alone', async (ctx) => {
    if (skipUnlessLinux(ctx, 'start times from /proc')) return;
    const dirs = makeAgentDirs();
    const stranger = spawn('/bin/sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      const pid = stranger.pid!;
      mkdirSync(dirs.stateDir, { recursive: true, mode: 0o700 });
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      writeFileSync(
        join(dirs.stateDir, 'agent-state.json'),
        JSON.stringify({
          version: 1,
          bootId: boot,
          jobs: { 'system/com.lf.gone': { runs: 1, process: { pid, startTicks: 1 } } },
        }),
      );
      const a = await startAgentProcess(dirs);
      await a.stop();
      assert.ok(alive(pid), 'a recycled pid is not hit');
      assert.doesNotMatch(a.log, /survived the previous agent/);
    } finally {
      stranger.kill('SIGKILL');
      removeDirs(dirs);
    }
  });

  test('after a clean restart: overrides, runs and last exit (code or signal) are still shown (rows 38, 44)', async () => {
    const dirs = makeAgentDirs();
    writePlist(dirs.daemonDir, shJob('com.lf.seven', 'exit 7'));
    writePlist(dirs.daemonDir, shJob('com.lf.termed', 'exec sleep 300'));
    writePlist(dirs.daemonDir, shJob('com.lf.off', 'exec sleep 300', { RunAtLoad: true }));
    const a = await startAgentProcess(dirs);
    let b: AgentProcess | undefined;
    try {
      assert.equal((await a.lfctl(['kickstart', 'system/com.lf.seven'])).code, 0);
      await eventually(
        async () => (await printJson(a, 'system/com.lf.seven'))?.['lastExitCode'] === 7,
        10_000,
        'exit 7',
      );
      assert.equal((await a.lfctl(['kickstart', 'system/com.lf.termed'])).code, 0);
      await pidOf(a, 'system/com.lf.termed');
      assert.equal((await a.lfctl(['kill', 'TERM', 'system/com.lf.termed'])).code, 0);
      await eventually(
        async () => (await a.lfctl(['list'])).stdout.includes('-\t-15\tcom.lf.termed'),
        10_000,
        '-15',
      );
      assert.equal((await a.lfctl(['disable', 'system/com.lf.off'])).code, 0);
      assert.equal(await a.stop(), 0);
      b = await startAgentProcess(dirs);
      const seven = await b.lfctl(['print', 'system/com.lf.seven']);
      assert.match(seven.stdout, /\truns = 1\n/);
      assert.match(seven.stdout, /\tlast exit code = 7\n/);
      assert.match((await b.lfctl(['list'])).stdout, /^-\t-15\tcom\.lf\.termed$/m);
      assert.match((await b.lfctl(['print-disabled', 'system'])).stdout, /"com\.lf\.off" => disabled/);
      const off = await b.lfctl(['print', 'system/com.lf.off']);
      assert.equal(off.code, 113, 'a disabled daemon is not loaded at start');
    } finally {
      await b?.stop();
      await a.stop();
      removeDirs(dirs);
    }
  });

  test('a second agent on the same run directory refuses to start and touches nothing', async () => {
    const dirs = makeAgentDirs();
    writePlist(dirs.daemonDir, shJob('com.lf.only', 'exec sleep 300', { RunAtLoad: true }));
    const a = await startAgentProcess(dirs);
    try {
      const pid = await pidOf(a, 'system/com.lf.only');
      await assert.rejects(startAgentProcess(dirs), /another launchfleet-agent is serving/);
      assert.ok(alive(pid));
      assert.equal((await a.lfctl(['print', 'system/com.lf.only'])).code, 0, 'the first agent still answers');
    } finally {
      await a.stop();
      removeDirs(dirs);
    }
  });
});

describe('login sessions (utmp)', { skip: linuxOnly('utmp login records') }, () => {
  test('a login gives the user a gui domain and a control socket; the logout takes both away', async () => {
    const NOBODY = 65534;
    const dirs = makeAgentDirs();
    const utmpFile = join(dirs.dir, 'utmp');
    writeFileSync(utmpFile, new Uint8Array(0));
    // Point the config at the file inside this agent's directory.
    const cfg = JSON.parse(readFileSync(dirs.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(
      dirs.configFile,
      JSON.stringify({ ...cfg, sessions: { source: 'utmp', utmpPath: utmpFile } }),
    );
    writePlist(
      dirs.agentDir,
      shJob('com.lf.login-agent', 'exec sleep 300', { RunAtLoad: true, LimitLoadToSessionType: 'Aqua' }),
    );
    const session = spawn('/bin/sleep', ['300'], { stdio: 'ignore' }); // the login's process
    const a = await startAgentProcess(dirs);
    try {
      assert.equal((await a.lfctl(['print', `gui/${NOBODY}`])).code, 112, 'nobody is logged in yet');
      const rec = utmpRecord(7, session.pid!, 'pts/9', 'nobody');
      writeFileSync(utmpFile, rec);
      const pid = await pidOf(a, `gui/${NOBODY}/com.lf.login-agent`);
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      assert.equal(Number(uid), NOBODY, 'the agent runs as the logged-in user');
      const sock = join(dirs.runDir, 'user', `${NOBODY}.sock`);
      await eventually(() => existsSync(sock), 10_000, 'the user socket appears');
      writeFileSync(utmpFile, new Uint8Array(0)); // logout
      await eventually(
        async () => (await a.lfctl(['print', `gui/${NOBODY}`])).code === 112,
        10_000,
        'domain gone',
      );
      await eventually(() => !alive(pid) && !existsSync(sock), 10_000, 'its jobs and socket are gone');
    } finally {
      session.kill('SIGKILL');
      await a.stop();
      removeDirs(dirs);
    }
  });
});
