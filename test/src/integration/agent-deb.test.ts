/**
 * The Debian package of the agent (scripts/build-deb.sh), installed on this machine with dpkg:
 *
 * - install: the binary, lfctl, the unit and the default configuration are in place, postinst
 *   made the directories (stateDir 0700) and, with no systemd running here, enabled nothing;
 * - the unit's own ExecStart (read from the installed unit) starts the agent, which enrols with a
 *   real controller over nats-server and runs a job from /etc/launchfleet/LaunchDaemons;
 * - an upgrade to a newer version keeps the node's identity (node.json, credentials), the
 *   admin's configuration (a conffile), the agent's state and the job's process: prerm asks the
 *   old agent to detach (it exits 0 leaving the job running), the new one, started as a service
 *   manager would, adopts the same pid and still supervises it (KeepAlive restarts it after a
 *   kill) (docs/upgrades.md);
 * - remove stops the agent and its job and keeps configuration and state; purge leaves nothing.
 *
 * PID 1 is not systemd here: the test plays the service manager (Restart=always) itself.
 * It installs a package on the machine: run it under the suite lock (HELPERS.md).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { builtAgent } from '../support/agent-build.ts';
import { eventually } from '../support/eventually.ts';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { repoRoot } from '../support/paths.ts';

const run = promisify(execFile);
const PKG = 'launchfleet-agent';
const BIN = '/usr/lib/launchfleet/bin/launchfleet-agent';
const UNIT = '/lib/systemd/system/launchfleet-agent.service';
/** Everything the package or its agent puts on the machine. */
const FOOTPRINT = [
  BIN,
  '/usr/lib/launchfleet',
  '/usr/bin/lfctl',
  UNIT,
  '/etc/launchfleet',
  '/var/lib/launchfleet',
  '/var/log/launchfleet',
  '/run/launchfleet',
  '/usr/share/doc/launchfleet-agent',
];

async function dpkg(args: readonly string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('dpkg', [...args], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, out: (x.stdout ?? '') + (x.stderr ?? '') };
  }
}

async function packageStatus(): Promise<string> {
  try {
    return (await run('dpkg-query', ['-W', '-f', '${Status} ${Version}', PKG])).stdout;
  } catch {
    return 'not installed';
  }
}

/** Pids whose executable is the packaged binary (also after it was replaced or removed). */
function agentPids(): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const exe = readlinkSync(`/proc/${n}/exe`);
      if (exe === BIN || exe === `${BIN} (deleted)`) out.push(Number(n));
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

/**
 * What systemd would do with the unit: run its ExecStart with its Environment, and start it again
 * when it exits (Restart=always; RestartSec shortened to 0.5 s here) until stopped.
 */
class ServiceManager {
  private child: ChildProcess | undefined;
  private stopped = false;
  readonly starts: { pid: number; exe: string }[] = [];
  readonly exits: (number | string | null)[] = [];
  log = '';

  private readonly unitFile: string;
  constructor(unitFile: string) {
    this.unitFile = unitFile;
  }

  /** ExecStart and Environment of the installed unit. */
  unit(): { argv: string[]; env: Record<string, string> } {
    const text = readFileSync(this.unitFile, 'utf8');
    const exec = /^ExecStart=(.+)$/m.exec(text)?.[1];
    assert.ok(exec, 'the unit has an ExecStart');
    const env: Record<string, string> = {};
    for (const m of text.matchAll(/^Environment=(\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
    return { argv: exec.trim().split(/\s+/), env };
  }

  start(): void {
    this.stopped = false;
    const { argv, env } = this.unit();
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    });
    this.child = child;
    this.starts.push({ pid: child.pid ?? 0, exe: argv[0]! });
    const add = (c: Buffer) => {
      if (this.log.length < 2_000_000) this.log += c.toString();
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    child.once('exit', (code, signal) => {
      this.exits.push(code ?? signal);
      if (this.child === child) this.child = undefined;
      if (!this.stopped) setTimeout(() => !this.stopped && existsSync(argv[0]!) && this.start(), 500);
    });
  }

  /** No more restarts (what `systemctl stop` means to systemd); the process is left to whoever stops it. */
  hold(): void {
    this.stopped = true;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops restarting and kills what is left (cleanup). */
  kill(): void {
    this.stopped = true;
    const c = this.child;
    if (c?.pid) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

const jobPlist = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>com.deb.sleep</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>exec sleep 600</string></array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
</dict></plist>
`;

describe('the Debian package', { timeout: 900_000 }, () => {
  let work: string;
  let debV1: string;
  let debV2: string;
  let fleet: LocalFleet | undefined;
  const service = new ServiceManager(UNIT);
  let skipReason: string | undefined;

  before(async () => {
    // A machine that has these paths without the package is not ours to change.
    const status = await packageStatus();
    if (!status.includes('installed') || status.startsWith('not')) {
      const present = FOOTPRINT.filter((p) => existsSync(p));
      if (present.length > 0 && !status.includes('config-files')) {
        skipReason = `this machine already has ${present.join(', ')} without the package`;
        return;
      }
    }
    if (status.includes('installed') || status.includes('config-files')) await dpkg(['--purge', PKG]);
    work = mkdtempSync(join(tmpdir(), 'lf-deb-'));
    const bin = join(await builtAgent(), 'launchfleet-agent');
    const build = async (version: string) =>
      (
        await run(
          'bash',
          [
            join(repoRoot, 'scripts', 'build-deb.sh'),
            '--binary',
            bin,
            '--version',
            version,
            '--out',
            work,
            '--fast',
          ],
          {
            cwd: repoRoot,
          },
        )
      ).stdout.trim();
    debV1 = await build('0.1.0');
    debV2 = await build('0.1.1');
    fleet = await startLocalFleet();
  });

  after(async () => {
    service.kill();
    if (!skipReason) {
      const status = await packageStatus();
      if (status.includes('installed') || status.includes('config-files')) await dpkg(['--purge', PKG]);
      for (const pid of agentPids()) process.kill(pid, 'SIGKILL');
    }
    await fleet?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('installs, starts by its unit’s ExecStart, upgrades keeping identity and state, removes and purges', async (t) => {
    if (skipReason) {
      t.skip(skipReason);
      return;
    }
    assert.ok(fleet);
    // ---- install
    const install = await dpkg(['-i', debV1]);
    assert.equal(install.code, 0, install.out);
    assert.match(await packageStatus(), /^install ok installed 0\.1\.0$/);
    assert.ok(statSync(BIN).mode & 0o100, 'the binary is executable');
    assert.equal(statSync(BIN).uid, 0);
    assert.equal(readlinkSync('/usr/bin/lfctl'), '../lib/launchfleet/bin/launchfleet-agent');
    assert.equal(statSync('/var/lib/launchfleet').mode & 0o777, 0o700);
    for (const d of [
      '/var/log/launchfleet',
      '/etc/launchfleet/LaunchDaemons',
      '/etc/launchfleet/LaunchAgents',
    ])
      assert.ok(statSync(d).isDirectory(), d);
    assert.match(install.out, /systemd is not running/);
    assert.ok(
      !existsSync('/etc/systemd/system/multi-user.target.wants/launchfleet-agent.service'),
      'not enabled without systemd',
    );
    assert.match(
      readFileSync(UNIT, 'utf8'),
      new RegExp(`^ExecStart=${BIN} --config /etc/launchfleet/agent.json$`, 'm'),
    );

    // The admin's configuration: join the fleet (a conffile edit, kept on upgrade) and one job.
    const tok = await fleet.cli(['tokens', 'create', '--ttl', '1h', '--uses', '1', '--json']);
    assert.equal(tok.code, 0, tok.stderr);
    const token = JSON.parse(tok.stdout) as { token: string; enrollCredentials: string };
    writeFileSync('/etc/launchfleet/bootstrap-token', `${token.token}\n${token.enrollCredentials}`, {
      mode: 0o600,
    });
    const config = JSON.parse(readFileSync('/etc/launchfleet/agent.json', 'utf8')) as Record<string, unknown>;
    const edited = {
      ...config,
      metricsListen: null, // other suites may hold 9469 on a shared machine
      sessions: { source: 'none' },
      controller: { natsUrls: [fleet.natsUrl], bootstrapTokenFile: '/etc/launchfleet/bootstrap-token' },
    };
    writeFileSync('/etc/launchfleet/agent.json', JSON.stringify(edited, null, 2));
    writeFileSync('/etc/launchfleet/LaunchDaemons/com.deb.sleep.plist', jobPlist);

    // ---- start as the unit says
    service.start();
    const nodeFile = '/var/lib/launchfleet/node.json';
    const jobPid = async (not?: number): Promise<number> =>
      eventually(async () => {
        const r = await run('/usr/bin/lfctl', [
          '--run-dir',
          '/run/launchfleet',
          'print',
          '--json',
          'system/com.deb.sleep',
        ]);
        const pid = (JSON.parse(r.stdout) as { pid?: number }).pid;
        if (typeof pid !== 'number' || pid === not) throw new Error(`no new pid yet: ${r.stdout}`);
        return pid;
      }, 60_000).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\n--- agent log\n${service.log.slice(-4000)}`);
      });
    const pid1 = await jobPid();
    const nodeId = await eventually(
      () => Promise.resolve((JSON.parse(readFileSync(nodeFile, 'utf8')) as { nodeId: string }).nodeId),
      60_000,
    );
    const nodes = await fleet.cli(['nodes', 'list', '--json']);
    assert.ok(nodes.stdout.includes(nodeId), 'the controller lists the packaged agent');
    const credentials = readFileSync(nodeFile, 'utf8');
    const agent1 = service.pid;

    // ---- upgrade
    const upgrade = await dpkg(['-i', debV2]);
    assert.equal(upgrade.code, 0, upgrade.out);
    assert.match(await packageStatus(), /^install ok installed 0\.1\.1$/);
    // prerm detached the old agent (exit 0); the service manager started the new binary.
    await eventually(() => {
      if (service.starts.length < 2 || service.pid === undefined || service.pid === agent1)
        throw new Error('not restarted');
      return Promise.resolve();
    }, 90_000);
    assert.equal(service.exits[0], 0, `the old agent stopped cleanly:\n${service.log.slice(-3000)}`);
    assert.match(service.log, /detached: 1 job processes left running for the next agent/);
    // The same process, adopted by the new agent.
    await eventually(
      () =>
        /adopted pid \d+, left running by the previous agent/.test(service.log)
          ? Promise.resolve()
          : Promise.reject(new Error('not adopted yet')),
      60_000,
    );
    assert.equal(await jobPid(), pid1, 'the upgrade kept the job process');
    assert.ok(readFileSync(`/proc/${pid1}/stat`, 'utf8').includes(') S '), 'and it runs');
    // Identity and credentials, configuration and job history are the same node's.
    assert.equal(readFileSync(nodeFile, 'utf8'), credentials);
    assert.deepEqual(JSON.parse(readFileSync('/etc/launchfleet/agent.json', 'utf8')), edited);
    const print = await run('/usr/bin/lfctl', [
      '--run-dir',
      '/run/launchfleet',
      'print',
      '--json',
      'system/com.deb.sleep',
    ]);
    assert.match(
      JSON.stringify((JSON.parse(print.stdout) as { history?: unknown }).history),
      /adopted from the previous agent/,
    );
    // Still supervised: killed, KeepAlive starts it again.
    process.kill(pid1, 'SIGKILL');
    const pid2 = await jobPid(pid1);
    await eventually(async () => {
      const l = await fleet!.cli(['nodes', 'list', '--json']);
      const n = (JSON.parse(l.stdout) as { nodes?: { nodeId: string; presence: unknown }[] }).nodes ?? [];
      if (n.filter((x) => x.nodeId === nodeId).length !== 1) throw new Error(l.stdout);
    }, 30_000);

    // ---- remove: prerm stops the agent and with it the job; configuration and state stay
    service.hold();
    const agent2 = service.pid!;
    const remove = await dpkg(['--remove', PKG]);
    assert.equal(remove.code, 0, remove.out);
    assert.equal(await packageStatus(), 'deinstall ok config-files 0.1.1');
    await eventually(() => {
      if (existsSync(`/proc/${agent2}`) && !readFileSync(`/proc/${agent2}/stat`, 'utf8').includes(') Z '))
        throw new Error('agent still running');
      return Promise.resolve();
    }, 90_000);
    assert.equal(service.exits.at(-1), 0, 'stopped cleanly by prerm');
    assert.ok(
      !existsSync(`/proc/${pid2}`) || readFileSync(`/proc/${pid2}/stat`, 'utf8').includes(') Z '),
      'its job was stopped',
    );
    assert.ok(!existsSync(BIN) && !existsSync('/usr/bin/lfctl') && !existsSync(UNIT));
    assert.ok(
      existsSync('/etc/launchfleet/agent.json') && existsSync(nodeFile),
      'configuration and state kept on remove',
    );

    // ---- purge: nothing is left
    const purge = await dpkg(['--purge', PKG]);
    assert.equal(purge.code, 0, purge.out);
    assert.equal(await packageStatus(), 'not installed');
    assert.deepEqual(
      FOOTPRINT.filter((p) => existsSync(p) || isLink(p)),
      [],
    );
    assert.deepEqual(agentPids(), []);
  });
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
