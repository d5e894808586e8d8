// lfctl end to end against a real launchfleet-agent with real /bin/sh jobs: every subcommand,
// launchctl's output formats, and the exit codes and messages of docs/launchd-semantics.md §5.3 that apply.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
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
} from '../support/agent.ts';
import { freePort } from '../support/nats-server.ts';

let dirs: AgentDirs;
let agent: AgentProcess;
const lf = (...args: string[]): ReturnType<AgentProcess['lfctl']> => agent.lfctl(args);

/** The pid `list` shows for a label, or undefined. */
async function listedPid(label: string): Promise<number | undefined> {
  const r = await lf('list', '--json');
  const row = (JSON.parse(r.stdout) as { jobs: { pid: string; label: string }[] }).jobs.find(
    (j) => j.label === label,
  );
  return row && row.pid !== '-' ? Number(row.pid) : undefined;
}

before(async () => {
  dirs = makeAgentDirs();
  writePlist(dirs.daemonDir, shJob('com.lf.boot.sleeper', 'exec sleep 300', { RunAtLoad: true }));
  agent = await startAgentProcess(dirs);
});

after(async () => {
  await agent.stop();
  removeDirs(dirs);
});

describe('list and print', () => {
  test('list prints PID, Status, Label; --json gives the same rows', async () => {
    const pid = await eventually(() => listedPid('com.lf.boot.sleeper'), 10_000, 'the RunAtLoad job runs');
    const r = await lf('list');
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'PID\tStatus\tLabel');
    assert.ok(lines.includes(`${pid}\t-\tcom.lf.boot.sleeper`), r.stdout);
    assert.ok(alive(pid));
  });

  test('list <label> prints the job as a dictionary; an unknown label exits 113', async () => {
    const r = await lf('list', 'com.lf.boot.sleeper');
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /^\{\n\t"LimitLoadToSessionType" = "System";\n\t"Label" = "com\.lf\.boot\.sleeper";/,
    );
    assert.match(r.stdout, /\t"PID" = \d+;/);
    // launchd reports a last exit status from load on: 0 before any exit.
    assert.match(r.stdout, /\t"LastExitStatus" = 0;/);
    assert.match(
      r.stdout,
      /\t"ProgramArguments" = \(\n\t\t"\/bin\/sh";\n\t\t"-c";\n\t\t"exec sleep 300";\n\t\);/,
    );
    const u = await lf('list', 'com.lf.nope');
    assert.equal(u.code, 113);
    assert.match(u.stderr, /Could not find service "com\.lf\.nope"/);
  });

  test('print <service> shows state, pid, runs, last exit code, immediate reason, properties, sockets, timers', async () => {
    const port = await freePort();
    const p = writePlist(
      dirs.dir,
      shJob('com.lf.print', 'exec sleep 300', {
        RunAtLoad: true,
        KeepAlive: true,
        StartInterval: 3600,
        EnvironmentVariables: { GREETING: 'hi' },
        Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
      }),
    );
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    const pid = await eventually(() => listedPid('com.lf.print'), 10_000, 'com.lf.print runs');
    const r = await lf('print', 'system/com.lf.print');
    assert.equal(r.code, 0, r.stderr);
    const t = r.stdout;
    assert.match(t, /^system\/com\.lf\.print = \{\n/);
    assert.match(t, /\n\tstate = running\n/);
    assert.match(t, new RegExp(`\\n\\tpid = ${pid}\\n`));
    assert.match(t, /\n\truns = 0\n/);
    assert.match(t, /\n\tlast exit code = \(never exited\)\n/);
    assert.match(t, /\n\timmediate reason = speculative\n/);
    assert.match(t, /\n\tproperties = keepalive \| runatload \| inferred program\n/);
    assert.match(
      t,
      new RegExp(
        `\\n\\tsockets = \\{\\n\\t\\t"Listeners" = \\{\\n\\t\\t\\tstream ipv4 127\\.0\\.0\\.1:${port} state = active activations = 0\\n\\t\\t\\}\\n\\t\\}\\n`,
      ),
    );
    assert.match(t, /\n\ttimers = \{\n\t\tstart interval => in \d+ s\n\t\}\n/);
    assert.match(t, /\n\tenvironment = \{\n\t\tGREETING => hi\n\t\}\n/);
    assert.match(t, /\n\tpath = .*com\.lf\.print\.plist\n/);
    assert.match(t, /\n\ttype = LaunchDaemon\n/);
    const j = await lf('print', '--json', 'system/com.lf.print');
    const s = JSON.parse(j.stdout) as { pid: number; state: string; properties: string[]; runs: number };
    assert.equal(s.pid, pid);
    assert.equal(s.state, 'running');
    assert.deepEqual(s.properties, ['keepalive', 'runatload', 'inferred program']);
    // Only the documented fields (node-agent/src/control/README.md): no internal `_` keys.
    const internal: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k.startsWith('_')) internal.push(`${path}.${k}`);
          walk(x, `${path}.${k}`);
        }
    };
    walk(JSON.parse(j.stdout), '$');
    for (const cmd of [
      ['list', '--json'],
      ['print', '--json', 'system'],
      ['list', '--json', 'com.lf.print'],
    ])
      walk(JSON.parse((await lf(...cmd)).stdout), cmd.join(' '));
    assert.deepEqual(internal, []);
    assert.equal((await lf('bootout', '--wait', 'system/com.lf.print')).code, 0);
    assert.ok(!alive(pid), 'bootout --wait returns after the process is gone');
  });

  test('print shows each held socket live: watching before demand, then active with its activation', async () => {
    const port = await freePort();
    const p = writePlist(
      dirs.dir,
      shJob('com.lf.ondemand', 'exec sleep 300', {
        Sockets: { Listeners: { SockServiceName: String(port), SockNodeName: '127.0.0.1' } },
      }),
    );
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    const before = await lf('print', 'system/com.lf.ondemand');
    assert.match(
      before.stdout,
      new RegExp(`stream ipv4 127\\.0\\.0\\.1:${port} state = watching activations = 0\\n`),
    );
    assert.match(before.stdout, /\n\tstate = not running\n/);
    // A client knocks: the agent starts the job without accepting (the job here never accepts).
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => undefined);
    try {
      await eventually(() => listedPid('com.lf.ondemand'), 10_000, 'com.lf.ondemand started by a connection');
      const after = await lf('print', '--json', 'system/com.lf.ondemand');
      const j = JSON.parse(after.stdout) as {
        immediateReason: string;
        sockets: {
          name: string;
          held: { endpoint: string; state: string; activations: number | string }[];
        }[];
      };
      assert.equal(j.immediateReason, 'ipc (socket)');
      assert.deepEqual(
        j.sockets.map((g) => g.held.map((h) => [g.name, h.endpoint, h.state, Number(h.activations)])),
        [[['Listeners', `stream ipv4 127.0.0.1:${port}`, 'active', 1]]],
      );
    } finally {
      client.destroy();
      assert.equal((await lf('bootout', '--wait', 'system/com.lf.ondemand')).code, 0);
    }
  });

  test('print <domain> lists the services and the disabled ones', async () => {
    const r = await lf('print', 'system');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^system = \{\n\ttype = system\n/);
    assert.match(r.stdout, /\tservices = \{\n(\t\t.*\n)*\t\t\d+\t-\tcom\.lf\.boot\.sleeper\n/);
    const j = JSON.parse((await lf('print', '--json', 'system')).stdout) as { services: { label: string }[] };
    assert.ok(j.services.some((s) => s.label === 'com.lf.boot.sleeper'));
  });

  test('print of an unknown service: 113 "Could not find service"; bootout of one: 3 "No such process" (row 39)', async () => {
    const p = await lf('print', 'system/com.lf.unknown');
    assert.equal(p.code, 113);
    assert.match(p.stderr, /Could not find service "com\.lf\.unknown" in domain for system/);
    const b = await lf('bootout', 'system/com.lf.unknown');
    assert.equal(b.code, 3);
    assert.match(b.stderr, /^Boot-out failed: 3: No such process$/m);
    const gui = await lf('print', 'gui/4242/com.lf.x');
    assert.equal(gui.code, 112, 'no gui session for uid 4242');
    assert.match(gui.stderr, /Could not find specified domain/);
  });
});

describe('bootstrap, bootout', () => {
  test('bootstrap loads silently; bootstrapping it again says it is loaded and exits 37 (row 37)', async () => {
    const p = writePlist(dirs.dir, shJob('com.lf.twice', 'exec sleep 300', { RunAtLoad: true }));
    const r1 = await lf('bootstrap', 'system', p);
    assert.deepEqual([r1.code, r1.stdout, r1.stderr], [0, '', '']);
    const r2 = await lf('bootstrap', 'system', p);
    assert.equal(r2.code, 37);
    assert.match(r2.stderr, /^Bootstrap failed: 37: Operation already in progress$/m);
    assert.match(r2.stderr, /com\.lf\.twice\.plist: service already bootstrapped/);
    assert.equal((await lf('bootout', 'system', p)).code, 0, 'bootout by path');
    await eventually(async () => (await lf('print', 'system/com.lf.twice')).code === 113, 10_000, 'removed');
    const again = await lf('bootout', 'system', p);
    assert.equal(again.code, 5, 'bootout by path of an unloaded plist: 5 (E2)');
    assert.match(again.stderr, /^Boot-out failed: 5: Input\/output error$/m);
  });

  test('bootout is asynchronous: while the job ignores SIGTERM it is still printed, and a re-bootstrap fails (row 18)', async () => {
    const p = writePlist(
      dirs.dir,
      shJob('com.lf.stubborn', "trap '' TERM; while :; do sleep 0.1; done", {
        RunAtLoad: true,
        // Long enough for two lfctl calls inside the window on a loaded 2-core machine (each
        // starts a Node process: about 1 s at a load of 14).
        ExitTimeOut: 6,
      }),
    );
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    const pid = await eventually(() => listedPid('com.lf.stubborn'), 10_000, 'running');
    const t0 = Date.now();
    assert.equal((await lf('bootout', 'system/com.lf.stubborn')).code, 0);
    const pr = await lf('print', 'system/com.lf.stubborn');
    assert.equal(pr.code, 0, 'still registered while it stops');
    assert.match(pr.stdout, /\tstate = SIGTERMed\n/);
    assert.equal((await lf('bootstrap', 'system', p)).code, 37, 're-bootstrap inside the window fails');
    // A second bootout while it stops waits for the same removal rather than racing it.
    assert.equal((await lf('bootout', '--wait', 'system/com.lf.stubborn')).code, 0);
    const took = Date.now() - t0;
    assert.ok(!alive(pid), 'SIGKILLed after ExitTimeOut');
    assert.ok(took >= 5500 && took < 20_000, `SIGKILL about 6 s after SIGTERM (took ${took} ms)`);
    assert.equal((await lf('print', 'system/com.lf.stubborn')).code, 113);
  });

  test('a usage error exits 64 and says how to call it', async () => {
    for (const args of [
      ['bootstrap'],
      ['kickstart'],
      ['kickstart', 'com.lf.x'],
      ['kill', 'TERM'],
      ['print'],
      ['frobnicate'],
    ]) {
      const r = await lf(...args);
      assert.equal(r.code, 64, args.join(' '));
      assert.match(r.stderr, /Usage|usage|Unrecognized/);
    }
    const w = await lf('bootout', '--wait', 'system', '/a.plist', '/b.plist');
    assert.equal(w.code, 64);
    assert.match(w.stderr, /--wait can only be used for booting-out a single service\./);
  });
});

describe('enable, disable, print-disabled', () => {
  test('disable persists "=> disabled"; a bootstrap then fails 119; enable lets it load (row 38)', async () => {
    const p = writePlist(dirs.dir, shJob('com.lf.toggle', 'exec sleep 300', { RunAtLoad: true }));
    assert.equal((await lf('disable', 'system/com.lf.toggle')).code, 0);
    const pd = await lf('print-disabled', 'system');
    assert.equal(pd.code, 0);
    assert.match(
      pd.stdout,
      /^disabled services = \{\n(\t".*" => (disabled|enabled)\n)*\t"com\.lf\.toggle" => disabled\n/,
    );
    const js = JSON.parse((await lf('print-disabled', '--json', 'system')).stdout) as {
      disabled: Record<string, boolean>;
    };
    assert.equal(js.disabled['com.lf.toggle'], true);
    const b = await lf('bootstrap', 'system', p);
    assert.equal(b.code, 119);
    assert.match(b.stderr, /^Bootstrap failed: 119: Service is disabled$/m);
    assert.equal((await lf('enable', 'system/com.lf.toggle')).code, 0);
    assert.match((await lf('print-disabled', 'system')).stdout, /\t"com\.lf\.toggle" => enabled\n/);
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    await eventually(() => listedPid('com.lf.toggle'), 10_000, 'runs after enable');
    // Disabling a loaded job leaves the process alone (§2.6), and the entry outlives the plist.
    const pid = (await listedPid('com.lf.toggle'))!;
    assert.equal((await lf('disable', 'system/com.lf.toggle')).code, 0);
    assert.ok(alive(pid));
    rmSync(p);
    assert.match((await lf('print-disabled', 'system')).stdout, /\t"com\.lf\.toggle" => disabled\n/);
    assert.equal((await lf('bootout', '--wait', 'system/com.lf.toggle')).code, 0);
  });
});

describe('kickstart, kill, blame', () => {
  test('kickstart starts a job; -p prints its pid; -k -p kills and restarts it', async () => {
    const p = writePlist(dirs.dir, shJob('com.lf.kick', 'exec sleep 300'));
    assert.equal((await lf('bootstrap', 'system', p)).code, 0);
    assert.equal(await listedPid('com.lf.kick'), undefined, 'no RunAtLoad: not running (row 5)');
    const k1 = await lf('kickstart', '-p', 'system/com.lf.kick');
    assert.equal(k1.code, 0);
    const pid1 = Number(k1.stdout.trim());
    assert.ok(pid1 > 0 && alive(pid1), k1.stdout);
    const again = await lf('kickstart', '-p', 'system/com.lf.kick');
    assert.equal(Number(again.stdout.trim()), pid1, 'already running: the same pid');
    const bl = await lf('blame', 'system/com.lf.kick');
    assert.equal(bl.stdout, 'non-ipc demand\n');
    assert.deepEqual(JSON.parse((await lf('blame', '--json', 'system/com.lf.kick')).stdout), {
      running: true,
      reason: 'non-ipc demand',
    });
    const k2 = await lf('kickstart', '-kp', 'system/com.lf.kick');
    assert.equal(k2.code, 0, k2.stderr);
    const pid2 = Number(k2.stdout.trim());
    assert.ok(pid2 > 0 && pid2 !== pid1, `a new process (${pid1} -> ${pid2})`);
    await eventually(() => !alive(pid1), 5000, 'the old process was killed');
    const unknown = await lf('kickstart', 'system/com.lf.unknown');
    assert.equal(unknown.code, 113);
    assert.match(unknown.stderr, /Could not find service "com\.lf\.unknown"/);
  });

  test('kill TERM: list then shows -15 (row 44); no process: 3; a bad signal: 22', async () => {
    const pid = (await listedPid('com.lf.kick'))!;
    assert.equal((await lf('kill', 'TERM', 'system/com.lf.kick')).code, 0);
    await eventually(
      async () => (await lf('list')).stdout.includes('-\t-15\tcom.lf.kick\n'),
      10_000,
      '-15 row',
    );
    assert.ok(!alive(pid));
    assert.equal((await lf('blame', 'system/com.lf.kick')).stdout, '(not running)\n');
    const nr = await lf('kill', '9', 'system/com.lf.kick');
    assert.equal(nr.code, 3, 'no process');
    assert.match(nr.stderr, /^Kill failed: 3: No such process$/m);
    const bad = await lf('kill', 'SIGNOPE', 'system/com.lf.kick');
    assert.equal(bad.code, 22);
    assert.match(bad.stderr, /^Kill failed: 22: Invalid argument$/m);
    const pr = await lf('print', 'system/com.lf.kick');
    assert.match(pr.stdout, /\tlast terminating signal = Terminated: 15\n/);
    assert.doesNotMatch(pr.stdout, /last exit code/, 'the two lines are exclusive (E7)');
    assert.match(pr.stdout, /\truns = 2\n/);
    assert.equal((await lf('bootout', '--wait', 'system/com.lf.kick')).code, 0);
  });
});

describe('legacy load, unload, start, stop', () => {
  test('load, "Already loaded", unload (synchronous), "Not loaded": all exit 0', async () => {
    const p = writePlist(dirs.dir, shJob('com.lf.legacy', 'exec sleep 300', { RunAtLoad: true }));
    const l = await lf('load', p);
    assert.deepEqual([l.code, l.stderr], [0, '']);
    const pid = await eventually(() => listedPid('com.lf.legacy'), 10_000, 'loaded and running');
    const l2 = await lf('load', p);
    assert.equal(l2.code, 0);
    assert.match(l2.stderr, /^com\.lf\.legacy: Already loaded$/m);
    const u = await lf('unload', p);
    assert.deepEqual([u.code, u.stderr], [0, '']);
    assert.ok(!alive(pid), 'unload returns after the job exited (842 waiting4removal)');
    assert.equal((await lf('list', 'com.lf.legacy')).code, 113);
    const u2 = await lf('unload', p);
    assert.equal(u2.code, 0);
    assert.match(u2.stderr, /^com\.lf\.legacy: Not loaded$/m);
    const none = await lf('load', join(dirs.dir, 'missing.plist'));
    assert.equal(none.code, 0);
    assert.match(none.stderr, /Load failed: 108: Invalid path/);
    const usage = await lf('load');
    assert.equal(usage.code, 64);
    assert.match(usage.stderr, /^usage: lfctl load \[-wF\]/m);
  });

  test('unload -w disables, load -w re-enables; load -F ignores Disabled and the permission checks', async () => {
    const p = writePlist(dirs.dir, shJob('com.lf.legacyw', 'exec sleep 300', { RunAtLoad: true }));
    assert.equal((await lf('load', p)).code, 0);
    assert.equal((await lf('unload', '-w', p)).code, 0);
    assert.match((await lf('print-disabled', 'system')).stdout, /"com\.lf\.legacyw" => disabled/);
    const refused = await lf('load', p);
    assert.match(refused.stderr, /Load failed: 119: Service is disabled/);
    assert.equal((await lf('list', 'com.lf.legacyw')).code, 113);
    assert.equal((await lf('load', '-w', p)).code, 0);
    assert.match((await lf('print-disabled', 'system')).stdout, /"com\.lf\.legacyw" => enabled/);
    await eventually(() => listedPid('com.lf.legacyw'), 10_000, 'loaded after -w');
    assert.equal((await lf('unload', p)).code, 0);
    chmodSync(p, 0o666);
    const dubious = await lf('load', p);
    assert.match(dubious.stderr, /Dubious permissions on file \(skipping\)/);
    assert.equal((await lf('list', 'com.lf.legacyw')).code, 113);
    assert.equal((await lf('load', '-F', p)).code, 0);
    await eventually(() => listedPid('com.lf.legacyw'), 10_000, 'forced load runs');
    assert.equal((await lf('unload', p)).code, 0);
  });

  test('stop: a KeepAlive job is restarted; start runs an on-demand job; unknown labels exit 3', async () => {
    const p = writePlist(dirs.dir, shJob('com.lf.keep', 'exec sleep 300', { KeepAlive: true }));
    assert.equal((await lf('load', p)).code, 0);
    const pid = await eventually(() => listedPid('com.lf.keep'), 10_000, 'KeepAlive starts it');
    assert.equal((await lf('stop', 'com.lf.keep')).code, 0);
    const pid2 = await eventually(
      async () => {
        const x = await listedPid('com.lf.keep');
        return x !== undefined && x !== pid ? x : undefined;
      },
      10_000,
      'restarted after stop',
    );
    assert.ok(!alive(pid) && alive(pid2));
    const q = writePlist(dirs.dir, shJob('com.lf.ondemand', 'exec sleep 300'));
    assert.equal((await lf('load', q)).code, 0);
    assert.equal((await lf('start', 'com.lf.ondemand')).code, 0);
    await eventually(() => listedPid('com.lf.ondemand'), 10_000, 'started');
    const s = await lf('stop', 'com.lf.none');
    assert.equal(s.code, 3);
    assert.match(s.stderr, /com\.lf\.none: Not loaded/);
    assert.equal((await lf('unload', p, q)).code, 0);
  });
});

describe('plist checks at bootstrap (rows 35, 36, 40) and lint', () => {
  test('group- or world-writable: 122 "Dubious permissions"; owned by another user: 122 "Dubious ownership"', async () => {
    for (const mode of [0o664, 0o666]) {
      const p = writePlist(dirs.dir, shJob(`com.lf.perm${mode.toString(8)}`, 'exit 0'), mode);
      const r = await lf('bootstrap', 'system', p);
      assert.equal(r.code, 122, mode.toString(8));
      assert.match(r.stderr, /^Bootstrap failed: 122: Path had bad ownership\/permissions$/m);
      assert.match(r.stderr, /Dubious permissions on file \(skipping\)/);
    }
    const o = writePlist(dirs.dir, shJob('com.lf.owned', 'exit 0'));
    chownSync(o, 4242, 4242); // root may not load a plist owned by another user
    const r = await lf('bootstrap', 'system', o);
    assert.equal(r.code, 122);
    assert.match(r.stderr, /Dubious ownership on file \(skipping\)/);
  });

  test('labels launchd refuses and plists without a program are rejected at load (row 40)', async () => {
    const reserved = writePlist(dirs.dir, shJob('com.apple.launchd.evil', 'exit 0'));
    const r1 = await lf('bootstrap', 'system', reserved);
    assert.ok(r1.code === 110 || r1.code === 109, `${r1.code} ${r1.stderr}`);
    const noProg = join(dirs.dir, 'com.lf.noprog.plist');
    writeFileSync(
      noProg,
      '<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>com.lf.noprog</string></dict></plist>',
    );
    chmodSync(noProg, 0o644);
    const r2 = await lf('bootstrap', 'system', noProg);
    assert.equal(r2.code, 111, r2.stderr);
    assert.match(r2.stderr, /^Bootstrap failed: 111: Invalid or missing Program\/ProgramArguments$/m);
  });

  test('lint checks without loading: 0 when loadable, 1 otherwise, --json for scripts', async () => {
    const good = writePlist(dirs.dir, shJob('com.lf.lintgood', 'exit 0'));
    const bad = join(dirs.dir, 'com.lf.lintbad.plist');
    writeFileSync(bad, '<plist><dict><key>Label</key><string>x</string></dict></plist>');
    const g = await lf('lint', good);
    assert.deepEqual([g.code, g.stdout.split('\n')[0]], [0, `${good}: OK`]);
    const b = await lf('lint', good, bad);
    assert.equal(b.code, 1);
    assert.match(b.stdout, /2 files: 1 loadable, 1 refused/);
    const j = JSON.parse((await lf('lint', '--json', bad)).stdout) as { ok: boolean };
    assert.equal(j.ok, false);
    assert.equal((await lf('list', 'com.lf.lintgood')).code, 113, 'lint does not load');
  });
});

describe('error, version, help, an absent agent', () => {
  test('error <code> prints launchd strings', async () => {
    for (const [code, text] of [
      ['119', 'Service is disabled'],
      ['113', 'Could not find specified service'],
      ['3', 'No such process'],
      ['5', 'Input/output error'],
      ['37', 'Operation already in progress'],
      ['122', 'Path had bad ownership/permissions'],
      ['134', 'Service cannot load in requested session'],
    ] as const) {
      const r = await lf('error', code);
      assert.deepEqual([r.code, r.stdout], [0, `${text}\n`]);
    }
    assert.equal((await lf('error', 'posix', '1')).stdout, 'Operation not permitted\n');
    assert.equal((await lf('error', 'x')).code, 64);
  });

  test('version and help', async () => {
    const v = await lf('version');
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^lfctl \d+\.\d+\.\d+\nlaunchfleet-agent \d+\.\d+\.\d+ \(via root socket\)\n$/);
    const h = await lf('help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /kickstart \[-kp\] <service-target>/);
  });

  test('without an agent lfctl says so and exits 69', async () => {
    const r = await runLfctl(['--run-dir', join(dirs.dir, 'no-such-run'), 'list']);
    assert.equal(r.code, 69);
    assert.match(r.stderr, /cannot talk to launchfleet-agent/);
  });
});
