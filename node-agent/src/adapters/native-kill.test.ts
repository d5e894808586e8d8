// kill(2) through the addon (lf-spawn.c js_kill): the supervisor's group signal after every exit
// is answered without an exception, and says false for a group that is gone, as before.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { killNoThrow, spawnAddon } from './native-spawn-addon.ts';
import { signalJobGroup, signalJobProcess } from './process-spawner.ts';

function addonKill(): boolean {
  try {
    return typeof spawnAddon().kill === 'function';
  } catch {
    return false;
  }
}

test('killNoThrow: delivered, gone (ESRCH) and refused targets; signalJob* answer the same', async (t) => {
  if (!addonKill()) {
    t.skip('the lfnative addon is not built here');
    return;
  }
  // detached: the child leads its own process group, as a job does.
  const child = spawn('/bin/sleep', ['30'], { detached: true, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  assert.ok(pid > 0);
  const exited = once(child, 'exit');
  assert.equal(killNoThrow(pid, 'SIGCONT'), true, 'a live process');
  assert.equal(killNoThrow(-pid, 'SIGTERM'), true, 'its group');
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.deepEqual([code, signal], [null, 'SIGTERM']);
  assert.equal(killNoThrow(-pid, 'SIGTERM'), false, 'the group is gone: ESRCH, no exception');
  assert.equal(signalJobGroup(pid, 'SIGTERM'), false);
  assert.equal(signalJobProcess(pid, 'SIGTERM'), false);
  assert.throws(() => killNoThrow(-1, 'SIGTERM'), /errno/, 'every process: refused (EINVAL), never sent');
  assert.throws(() => killNoThrow(0, 'SIGTERM'), /errno/, "the agent's own group: refused");
  assert.equal(
    killNoThrow(pid, 'SIGNOPE' as NodeJS.Signals),
    undefined,
    'an unknown name: process.kill decides',
  );
});
