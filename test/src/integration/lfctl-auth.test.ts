// Authorization of the local control API with two real users and root (docs/launchd-semantics.md §3.1): a
// user controls only their own domains, reads the system domain, and cannot touch the other user's
// jobs or system jobs; root acts on any domain. Enforced by the sockets' owners and modes (the
// kernel) and by each socket's scope (the agent), both exercised here.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  alive,
  defaultAgentDirs,
  eventually,
  makeAgentDirs,
  removeDirs,
  shJob,
  startAgentProcess,
  writePlist,
  type AgentDirs,
  type AgentProcess,
  type RunAs,
} from '../support/agent.ts';

const nameA = 'lfctl-auth-a';
const nameB = 'lfctl-auth-b';
let A: RunAs = { uid: 0, gid: 0 };
let B: RunAs = { uid: 0, gid: 0 };
let dirs: AgentDirs;
let agent: AgentProcess;
let jobA = 0;
let jobB = 0;
let sysPid = 0;

function removeAccounts(): void {
  for (const u of [nameA, nameB]) {
    try {
      execFileSync('userdel', ['-r', u], { stdio: 'ignore' });
    } catch {
      // not there
    }
  }
}

function account(name: string): RunAs {
  const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':');
  return { uid: Number(line[2]), gid: Number(line[3]) };
}

/** A Background agent plist owned by `who` in their own directory. */
function userPlist(who: RunAs, name: string, label: string): string {
  const d = join(dirs.dir, name);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  chownSync(d, who.uid, who.gid);
  const p = writePlist(
    d,
    shJob(label, 'exec sleep 300', { RunAtLoad: true, LimitLoadToSessionType: 'Background' }),
  );
  chownSync(p, who.uid, who.gid);
  return p;
}

async function pidOf(as: RunAs | undefined, target: string): Promise<number> {
  return eventually(
    async () => {
      const r = await agent.lfctl(['print', '--json', target], as);
      return r.code === 0 ? (JSON.parse(r.stdout) as { pid?: number }).pid : undefined;
    },
    10_000,
    `${target} runs`,
  );
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

before(async () => {
  removeAccounts(); // left over from an interrupted run
  execFileSync('useradd', ['-m', '-s', '/bin/sh', nameA], { stdio: 'ignore' });
  execFileSync('useradd', ['-m', '-s', '/bin/sh', nameB], { stdio: 'ignore' });
  A = account(nameA);
  B = account(nameB);
  dirs = makeAgentDirs();
  writePlist(dirs.daemonDir, shJob('com.lf.sys', 'exec sleep 300', { RunAtLoad: true }));
  agent = await startAgentProcess(dirs);
  // Root gives both users a domain (as a login would); each then loads their own agent.
  for (const u of [A, B]) assert.equal((await agent.lfctl(['bootstrap', `user/${u.uid}`])).code, 0);
  const ra = await agent.lfctl(['bootstrap', `user/${A.uid}`, userPlist(A, 'a', 'com.lf.a')], A);
  assert.equal(ra.code, 0, ra.stderr);
  const rb = await agent.lfctl(['bootstrap', `user/${B.uid}`, userPlist(B, 'b', 'com.lf.b')], B);
  assert.equal(rb.code, 0, rb.stderr);
  jobA = await pidOf(A, `user/${A.uid}/com.lf.a`);
  jobB = await pidOf(B, `user/${B.uid}/com.lf.b`);
  sysPid = await pidOf(undefined, 'system/com.lf.sys');
});

after(async () => {
  await agent?.stop();
  if (dirs) removeDirs(dirs);
  removeAccounts();
});

describe('sockets', () => {
  test('system.sock is root 0600, public.sock 0666, each user socket is owned by its user, 0600', () => {
    const s = statSync(join(dirs.runDir, 'system.sock'));
    assert.deepEqual([s.uid, s.mode & 0o777], [0, 0o600]);
    assert.equal(statSync(join(dirs.runDir, 'public.sock')).mode & 0o777, 0o666);
    for (const u of [A, B]) {
      const us = statSync(join(dirs.runDir, 'user', `${u.uid}.sock`));
      assert.deepEqual([us.uid, us.mode & 0o777], [u.uid, 0o600]);
    }
    const ud = statSync(join(dirs.runDir, 'user'));
    assert.deepEqual([ud.uid, ud.mode & 0o777], [0, 0o755]);
  });

  test("a user cannot even connect to root's or the other user's socket (the kernel refuses)", async () => {
    for (const sock of [join(dirs.runDir, 'system.sock'), join(dirs.runDir, 'user', `${B.uid}.sock`)]) {
      const r = await agent.lfctl(['--socket', sock, 'list'], A);
      assert.equal(r.code, 69, sock);
      assert.match(r.stderr, /EACCES|Permission denied/);
    }
  });
});

describe('a user', () => {
  test('controls their own domain: jobs run as them; list, version, disable/enable, kickstart -k', async () => {
    assert.equal(uidOf(jobA), A.uid);
    assert.equal(uidOf(jobB), B.uid);
    const l = await agent.lfctl(['list'], A);
    assert.equal(l.code, 0);
    assert.match(
      l.stdout,
      new RegExp(`^${jobA}\\t-\\tcom\\.lf\\.a$`, 'm'),
      "legacy list: the caller's own domain",
    );
    assert.doesNotMatch(l.stdout, /com\.lf\.(b|sys)/);
    const v = await agent.lfctl(['version'], A);
    assert.match(v.stdout, new RegExp(`via user/${A.uid} socket`));
    assert.equal((await agent.lfctl(['disable', `user/${A.uid}/com.lf.a`], A)).code, 0);
    assert.match(
      (await agent.lfctl(['print-disabled', `user/${A.uid}`], A)).stdout,
      /"com\.lf\.a" => disabled/,
    );
    assert.equal((await agent.lfctl(['enable', `user/${A.uid}/com.lf.a`], A)).code, 0);
    const k = await agent.lfctl(['kickstart', '-kp', `user/${A.uid}/com.lf.a`], A);
    assert.equal(k.code, 0, k.stderr);
    const newPid = Number(k.stdout.trim());
    assert.ok(newPid !== jobA && alive(newPid));
    jobA = newPid;
  });

  test('cannot list, print, kill, kickstart, disable or bootout the other user\'s jobs: 1 "Operation not permitted"', async () => {
    const target = `user/${B.uid}/com.lf.b`;
    for (const args of [
      ['print', target],
      ['list', '--domain', `user/${B.uid}`],
      ['print', `user/${B.uid}`],
      ['kill', 'KILL', target],
      ['kickstart', '-k', target],
      ['disable', target],
      ['bootout', target],
      ['bootstrap', `user/${B.uid}`, userPlist(A, 'a2', 'com.lf.a2')],
      ['print-disabled', `user/${B.uid}`],
      ['blame', target],
    ]) {
      const r = await agent.lfctl(args, A);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /failed: 1: Operation not permitted/);
      assert.match(r.stderr, new RegExp(`uid ${A.uid} may not act on the domains of uid ${B.uid}`));
    }
    assert.ok(alive(jobB), "B's job is untouched");
  });

  test('reads the system domain but cannot change it', async () => {
    const p = await agent.lfctl(['print', 'system/com.lf.sys'], A);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`\\tpid = ${sysPid}\\n`));
    assert.equal((await agent.lfctl(['list', '--domain', 'system'], A)).code, 0);
    assert.equal((await agent.lfctl(['print', 'system'], A)).code, 0);
    for (const args of [
      ['kill', 'KILL', 'system/com.lf.sys'],
      ['kickstart', '-k', 'system/com.lf.sys'],
      ['bootout', 'system/com.lf.sys'],
      ['disable', 'system/com.lf.sys'],
      ['bootstrap', 'system', userPlist(A, 'a3', 'com.lf.a3')],
      ['stop', '--domain', 'system', 'com.lf.sys'],
    ]) {
      const r = await agent.lfctl(args, A);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /root privileges are required/);
    }
    assert.ok(alive(sysPid));
    const mk = await agent.lfctl(['bootstrap', `gui/${A.uid}`], A);
    assert.equal(mk.code, 1, 'only root creates domains');
  });

  test('cannot bootstrap a plist owned by the other user (122, row 36), nor a private root-owned one', async () => {
    const p = userPlist(B, 'b2', 'com.lf.b2');
    const r = await agent.lfctl(['bootstrap', `user/${A.uid}`, p], A);
    assert.equal(r.code, 122, r.stderr);
    assert.match(r.stderr, /Dubious ownership on file \(skipping\)/);
    // Root-owned plists are fine if the user could read them; a private one is not handed over.
    const secret = writePlist(
      dirs.dir,
      shJob('com.lf.secret', 'exit 0', { LimitLoadToSessionType: 'Background' }),
      0o600,
    );
    const s = await agent.lfctl(['bootstrap', `user/${A.uid}`, secret], A);
    assert.equal(s.code, 122, s.stderr);
    assert.match(s.stderr, /Not readable by the requesting user/);
    const shared = writePlist(
      dirs.dir,
      shJob('com.lf.shared', 'exit 0', { LimitLoadToSessionType: 'Background' }),
      0o644,
    );
    assert.equal((await agent.lfctl(['bootstrap', `user/${A.uid}`, shared], A)).code, 0);
    assert.equal((await agent.lfctl(['bootout', '--wait', `user/${A.uid}/com.lf.shared`], A)).code, 0);
  });

  test('without a domain, a user reaches only the read-only public socket', async () => {
    assert.equal((await agent.lfctl(['bootout', `user/${B.uid}`])).code, 0, "root removes B's domain");
    await eventually(() => !alive(jobB), 10_000, "B's job stopped with the domain");
    const v = await agent.lfctl(['version'], B);
    assert.match(v.stdout, /via public socket/);
    assert.equal((await agent.lfctl(['print', 'system/com.lf.sys'], B)).code, 0);
    const r = await agent.lfctl(['kill', 'KILL', 'system/com.lf.sys'], B);
    assert.equal(r.code, 1);
    const own = await agent.lfctl(['print', `user/${A.uid}/com.lf.a`], B);
    assert.equal(own.code, 1, 'the public socket reads the system domain only');
  });
});

describe('root', () => {
  test("acts on a user's domain: print, kill, kickstart, bootout", async () => {
    const t = `user/${A.uid}/com.lf.a`;
    assert.match((await agent.lfctl(['print', t])).stdout, new RegExp(`\\tpid = ${jobA}\\n`));
    assert.equal((await agent.lfctl(['kill', 'TERM', t])).code, 0);
    await eventually(() => !alive(jobA), 10_000, 'killed by root');
    const k = await agent.lfctl(['kickstart', '-p', t]);
    assert.equal(k.code, 0);
    const pid = Number(k.stdout.trim());
    assert.equal(uidOf(pid), A.uid, 'still runs as the domain user');
    assert.equal((await agent.lfctl(['bootout', '--wait', t])).code, 0);
    assert.ok(!alive(pid));
    assert.equal((await agent.lfctl(['print', t], A)).code, 113);
  });
});

describe('an unprivileged agent (development)', () => {
  test('started by a user without --config: state under ./.launchfleet, jobs run as that user, others only read', async () => {
    const home = `/home/${nameA}`;
    const d = defaultAgentDirs(home);
    rmSync(join(home, '.launchfleet'), { recursive: true, force: true });
    for (const p of [join(home, '.launchfleet'), join(home, '.launchfleet', 'agent'), d.daemonDir]) {
      mkdirSync(p, { recursive: true, mode: 0o755 });
      chownSync(p, A.uid, A.gid);
    }
    const plist = writePlist(d.daemonDir, shJob('com.lf.dev', 'exec sleep 300', { RunAtLoad: true }));
    chownSync(plist, A.uid, A.gid);
    const dev = await startAgentProcess(d, { as: A, defaults: true });
    try {
      const sock = statSync(join(d.runDir, 'system.sock'));
      assert.deepEqual([sock.uid, sock.mode & 0o777], [A.uid, 0o600]);
      const l = await dev.lfctl(['list'], A);
      assert.equal(l.code, 0, l.stderr);
      const pid = Number(/^(\d+)\t-\tcom\.lf\.dev$/m.exec(l.stdout)?.[1]);
      assert.ok(pid > 0, l.stdout);
      assert.equal(uidOf(pid), A.uid, 'jobs run as the agent user');
      assert.match((await dev.lfctl(['version'], A)).stdout, new RegExp(`via owner/${A.uid} socket`));
      const other = await dev.lfctl(['bootstrap', `user/${B.uid}`], A);
      assert.equal(other.code, 1, 'no domains of other users');
      assert.match(other.stderr, /runs jobs only as its own user/);
      const rb = await dev.lfctl(['print', 'system/com.lf.dev'], B);
      assert.equal(rb.code, 0, 'B reads through the public socket');
      assert.equal((await dev.lfctl(['kill', 'KILL', 'system/com.lf.dev'], B)).code, 1);
      assert.ok(alive(pid));
      assert.equal(await dev.stop(), 0);
      assert.ok(!alive(pid));
    } finally {
      await dev.stop();
      rmSync(join(home, '.launchfleet'), { recursive: true, force: true });
    }
  });
});
