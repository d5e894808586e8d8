/**
 * A real launchctl client against a real agent: Debian's ansible (community.general.launchd,
 * which parses `launchctl list` and calls load/unload/start/stop) with lfctl installed as
 * `launchctl` by `lfctl install-launchctl` in a temporary PATH directory. The playbook follows
 * the module's own integration tests (ansible-collections/community.general
 * tests/integration/targets/launchd: start/stop, restart, reload, runatload, unload, unknown),
 * with ansible's `assert` doing the checking, as there. The agent runs the modern flavour: the
 * module targets modern macOS and reads list's Status column as modern launchctl prints it.
 *
 * The key cases: a second `state: started` leaves a running job alone (same pid, not changed),
 * and stopped and started are told apart. (Debian 12's community.general 6 says "Unable to infer
 * the path of <label> service plist file" for an unknown service; later versions add "and it was
 * not found among active services", which the upstream test checks.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  lfctlBin,
  makeAgentDirs,
  removeDirs,
  startAgentProcess,
  type AgentDirs,
  type AgentProcess,
} from '../support/agent.ts';
import { freePort } from '../support/nats-server.ts';

const label = 'com.lf.ansible.test';

function plist(port: number, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <dict>
    <key>Label</key>
    <string>${label}</string>
    <key>ProgramArguments</key>
    <array>
      <string>/usr/bin/python3</string>
      <string>-m</string>
      <string>http.server</string>
      <string>--bind</string>
      <string>127.0.0.1</string>
      <string>${port}</string>
    </array>${extra}
  </dict>
</plist>
`;
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('ansible community.general.launchd drives lfctl installed as launchctl', () => {
  let dirs: AgentDirs;
  let agent: AgentProcess;
  let work: string;

  before(async () => {
    dirs = makeAgentDirs({
      launchd: { flavor: 'modern', exitTimeOutSeconds: 5, throttleIntervalSeconds: 1 },
    });
    agent = await startAgentProcess(dirs);
    work = mkdtempSync(join(tmpdir(), 'lf-ansible-'));
  });

  after(async () => {
    await agent.stop();
    removeDirs(dirs);
    rmSync(work, { recursive: true, force: true });
  });

  test('lfctl install-launchctl writes one script and never replaces a file it did not write', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const env = { ...process.env };
    const r = await run(process.execPath, [lfctlBin, 'install-launchctl', '--dir', bin], env, work);
    assert.equal(r.code, 0, r.out);
    assert.match(readFileSync(join(bin, 'launchctl'), 'utf8'), /node-agent\/bin\/lfctl\.js' "\$@"\n$/);
    const again = await run(process.execPath, [lfctlBin, 'install-launchctl', '--dir', bin], env, work);
    assert.equal(again.code, 0);
    assert.match(again.out, /updated/);
    const other = join(work, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'launchctl'), '#!/bin/sh\n', { mode: 0o755 });
    const refused = await run(process.execPath, [lfctlBin, 'install-launchctl', '--dir', other], env, work);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /exists and was not written by lfctl: refusing to replace it/);
    assert.equal(readFileSync(join(other, 'launchctl'), 'utf8'), '#!/bin/sh\n');
    // Called by that name with no flags, it finds the agent (root: the system socket); a
    // symlink of that name to lfctl works the same way.
    mkdirSync(join(work, 'linkbin'));
    symlinkSync(lfctlBin, join(work, 'linkbin', 'launchctl'));
    const viaLink = await run(
      join(work, 'linkbin', 'launchctl'),
      ['list'],
      { ...env, LAUNCHFLEET_RUN_DIR: dirs.runDir },
      work,
    );
    assert.equal(viaLink.code, 0, viaLink.out);
    assert.match(viaLink.out, /^PID\tStatus\tLabel\n/);
    const l = await run(
      'launchctl',
      ['list'],
      { ...env, PATH: `${bin}:${env['PATH'] ?? ''}`, LAUNCHFLEET_RUN_DIR: dirs.runDir },
      work,
    );
    assert.equal(l.code, 0, l.out);
    assert.match(l.out, /^PID\tStatus\tLabel\n/);
  });

  test('start/stop, started twice, restart, reload, unload, RunAtLoad and an unknown service', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const home = join(work, 'home');
    const agents = join(home, 'Library', 'LaunchAgents');
    mkdirSync(agents, { recursive: true });
    const plistPath = join(agents, `${label}.plist`);
    writeFileSync(plistPath, plist(p1), { mode: 0o644 });
    writeFileSync(join(work, 'modified.plist'), plist(p2), { mode: 0o644 });
    const t = (name: string, body: string): string => `    - name: ${JSON.stringify(name)}\n${body}`;
    const svc = (state: string, reg: string, more = ''): string =>
      `      community.general.launchd:\n        name: ${label}\n        state: ${state}\n${more}      register: ${reg}\n`;
    const check = (...that: string[]): string =>
      `      ansible.builtin.assert:\n        that:\n${that.map((x) => `          - ${JSON.stringify(x)}\n`).join('')}`;
    const playbook = [
      '- hosts: localhost',
      '  gather_facts: false',
      '  tasks:',
      t(
        'started in check mode',
        svc('started', 'c0', '').replace('      register', '      check_mode: true\n      register'),
      ),
      t('check mode reports a change', check('c0 is success', 'c0 is changed')),
      t('started', svc('started', 'r1')),
      t(
        'it was loaded and started',
        check(
          'r1 is changed',
          "r1.status.previous_pid == '-'",
          "r1.status.previous_state == 'unloaded'",
          "r1.status.current_state == 'started'",
          "r1.status.current_pid != '-'",
          "r1.status.status_code == '0'",
        ),
      ),
      t(
        'it serves',
        `      ansible.builtin.wait_for:\n        port: ${p1}\n        host: 127.0.0.1\n        timeout: 20\n`,
      ),
      t('stopped', svc('stopped', 'r2')),
      t(
        'stopped after started',
        check(
          'r2 is changed',
          'r2.status.previous_pid == r1.status.current_pid',
          "r2.status.previous_state == 'started'",
          "r2.status.current_state == 'stopped'",
          "r2.status.current_pid == '-'",
        ),
      ),
      t('stopped again', svc('stopped', 'r3')),
      t(
        'already stopped: nothing changes',
        check('not r3 is changed', "r3.status.previous_state == 'stopped'", "r3.status.current_pid == '-'"),
      ),
      t('started from stopped', svc('started', 'r4')),
      t(
        'started after stopped',
        check(
          'r4 is changed',
          "r4.status.previous_state == 'stopped'",
          "r4.status.current_state == 'started'",
          "r4.status.current_pid != '-'",
        ),
      ),
      t('started again', svc('started', 'r5')),
      t(
        'a running service is left alone: same pid, no change',
        check(
          'not r5 is changed',
          'r5.status.previous_pid == r4.status.current_pid',
          'r5.status.current_pid == r4.status.current_pid',
          "r5.status.current_state == 'started'",
          "r5.status.status_code == '0'",
        ),
      ),
      t('restarted', svc('restarted', 'r6')),
      t(
        'restarted: a new process',
        check(
          'r6 is changed',
          "r6.status.current_state == 'started'",
          'r6.status.current_pid != r5.status.current_pid',
        ),
      ),
      t(
        'a new configuration on another port',
        `      ansible.builtin.copy:\n        src: ${join(work, 'modified.plist')}\n        dest: ${plistPath}\n        mode: '0644'\n`,
      ),
      t('reloaded', svc('reloaded', 'r7')),
      t(
        'reloaded: loaded again, not running',
        check(
          'r7 is changed',
          'r7.status.previous_pid == r6.status.current_pid',
          "r7.status.current_state == 'stopped'",
          "r7.status.current_pid == '-'",
        ),
      ),
      t('started with the new configuration', svc('started', 'r8')),
      t(
        'it serves on the new port',
        `      ansible.builtin.wait_for:\n        port: ${p2}\n        host: 127.0.0.1\n        timeout: 20\n`,
      ),
      t('unloaded', svc('unloaded', 'r9')),
      t(
        'unloaded: gone',
        check('r9 is changed', "r9.status.current_state == 'unloaded'", "r9.status.current_pid == '-'"),
      ),
      t('unloaded again', svc('unloaded', 'r10')),
      t('already unloaded', check('not r10 is changed', "r10.status.current_state == 'unloaded'")),
      t('started with RunAtLoad', svc('started', 'r11', '        enabled: true\n')),
      t(
        'RunAtLoad written and started',
        check(
          'r11 is changed',
          "r11.status.previous_state == 'unloaded'",
          "r11.status.current_state == 'started'",
          "r11.status.current_pid != '-'",
        ),
      ),
      t('unloaded at the end', svc('unloaded', 'r12')),
      t(
        'an unknown service',
        '      community.general.launchd:\n        name: com.acme.unknownservice\n        state: started\n      register: r13\n      failed_when:\n        - "\'Unable to infer the path of com.acme.unknownservice service plist file\' not in r13.msg"\n',
      ),
      '',
    ].join('\n');
    writeFileSync(join(work, 'playbook.yml'), playbook);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${join(work, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: home,
      LAUNCHFLEET_RUN_DIR: dirs.runDir,
      ANSIBLE_HOME: join(work, 'ansible-home'),
      ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'false',
      ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      ANSIBLE_DEPRECATION_WARNINGS: 'false',
    };
    const r = await run(
      'ansible-playbook',
      ['-i', 'localhost,', '-c', 'local', join(work, 'playbook.yml')],
      env,
      work,
    );
    assert.equal(
      r.code,
      0,
      `ansible-playbook failed:\n${r.out}\n--- agent log ---\n${agent.log.slice(-4000)}`,
    );
    assert.match(r.out, /failed=0/);
    assert.match(readFileSync(plistPath, 'utf8'), /<key>RunAtLoad<\/key>\s*<true\/>/);
    const list = await agent.lfctl(['list']);
    assert.doesNotMatch(
      list.stdout,
      new RegExp(`\\t${label.replace(/\./g, '\\.')}\\n`),
      'unloaded at the end',
    );
  });
});
