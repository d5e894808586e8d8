import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from './context.ts';
import { LAUNCHCTL_MARKER, installLaunchctl, launchctlScript } from './install-launchctl.ts';

function ctx(): CliContext & { outText: string; errText: string } {
  const c = {
    uid: 0,
    cwd: '/',
    runDir: '/nonexistent',
    outText: '',
    errText: '',
    out(t: string) {
      c.outText += t;
    },
    err(t: string) {
      c.errText += t;
    },
    socketPath: () => '/nonexistent/system.sock',
    call: () => Promise.reject(new Error('no agent here')),
    close() {},
  };
  return c;
}

describe('lfctl install-launchctl', () => {
  it('refuses on macOS: /bin/launchctl is launchd own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lf-install-'));
    const c = ctx();
    assert.equal(installLaunchctl(c, ['--dir', dir], 'darwin'), 1);
    assert.match(c.errText, /refusing: on macOS \/bin\/launchctl is launchd's own/);
    rmSync(dir, { recursive: true });
  });

  it('writes its script, updates it, removes only its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lf-install-'));
    const c = ctx();
    assert.equal(installLaunchctl(c, ['--dir', dir], 'linux'), 0);
    const path = join(dir, 'launchctl');
    assert.equal(readFileSync(path, 'utf8').split('\n')[1], LAUNCHCTL_MARKER);
    assert.equal(statSync(path).mode & 0o777, 0o755);
    assert.equal(installLaunchctl(c, ['--dir', dir], 'linux'), 0, 'again: updated');
    assert.equal(installLaunchctl(c, ['--dir', dir, '--remove'], 'linux'), 0);
    writeFileSync(path, '#!/bin/sh\necho mine\n');
    assert.equal(installLaunchctl(c, ['--dir', dir], 'linux'), 1);
    assert.equal(installLaunchctl(c, ['--dir', dir, '--remove'], 'linux'), 1);
    assert.equal(readFileSync(path, 'utf8'), '#!/bin/sh\necho mine\n');
    assert.equal(installLaunchctl(c, ['--bogus'], 'linux'), 64);
    rmSync(dir, { recursive: true });
  });

  it('quotes paths for sh', () => {
    assert.match(
      launchctlScript("/opt/it's/node", '/x/lfctl.js'),
      /exec '\/opt\/it'\\''s\/node' '\/x\/lfctl\.js' "\$@"/,
    );
  });
});
