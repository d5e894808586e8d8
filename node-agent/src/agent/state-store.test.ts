import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobStatus } from '../supervisor/job-status.ts';
import { FakeFileSystem } from '../testing/fake-file-system.ts';
import { StateStore } from './state-store.ts';

const file = '/state/agent-state.json';
const quiet = (): void => undefined;

/** The fields the store reads; the rest of a JobStatus does not matter to it. */
function status(over: Partial<JobStatus> & Pick<JobStatus, 'label' | 'subState' | 'runs'>): JobStatus {
  return { domain: 'system', ...over } as JobStatus;
}

test('runs and the last exit survive into the next life; this life adds to them', async () => {
  const fs = new FakeFileSystem();
  fs.mkdir('/state');
  const a = new StateStore(fs, file, 'boot-1', quiet);
  await a.load();
  a.onStatus(status({ label: 'x', subState: 'exited', runs: 2, lastExitCode: 7 }));
  a.onStatus(status({ label: 'y', subState: 'exited', runs: 1, lastTerminatingSignal: 'SIGTERM' }));
  await a.flush();
  const b = new StateStore(fs, file, 'boot-1', quiet);
  await b.load();
  assert.deepEqual(b.previous('system', 'x'), { runs: 2, lastExit: { code: 7 } });
  assert.deepEqual(b.previous('system', 'y'), { runs: 1, lastExit: { signal: 'SIGTERM' } });
  b.onStatus(status({ label: 'x', subState: 'waiting', runs: 1, lastExitCode: 0 }));
  await b.flush();
  const c = new StateStore(fs, file, 'boot-1', quiet);
  await c.load();
  assert.deepEqual(c.previous('system', 'x'), { runs: 3, lastExit: { code: 0 } });
});

test('a bootout forgets the job; a removal during shutdown keeps it', async () => {
  const fs = new FakeFileSystem();
  fs.mkdir('/state');
  const a = new StateStore(fs, file, 'boot-1', quiet);
  await a.load();
  a.onStatus(status({ label: 'gone', subState: 'exited', runs: 1, lastExitCode: 1 }));
  a.onStatus(status({ label: 'kept', subState: 'exited', runs: 1, lastExitCode: 1 }));
  a.onStatus(status({ label: 'gone', subState: 'removed', runs: 1, lastExitCode: 1 }));
  a.markShutdown();
  a.onStatus(status({ label: 'kept', subState: 'removed', runs: 1, lastExitCode: 1 }));
  await a.flush();
  const b = new StateStore(fs, file, 'boot-1', quiet);
  await b.load();
  assert.equal(b.previous('system', 'gone'), undefined);
  assert.deepEqual(b.previous('system', 'kept'), { runs: 1, lastExit: { code: 1 } });
});

test('recorded processes are offered to the reaper only within the same boot', async () => {
  const fs = new FakeFileSystem();
  fs.writeFile(
    file,
    JSON.stringify({
      version: 1,
      bootId: 'boot-1',
      jobs: { 'system/x': { runs: 0, process: { pid: 4242, startTicks: 99 } } },
    }),
  );
  const same = new StateStore(fs, file, 'boot-1', quiet);
  await same.load();
  assert.deepEqual(same.leftovers(), [{ key: 'system/x', proc: { pid: 4242, startTicks: 99 } }]);
  const other = new StateStore(fs, file, 'boot-2', quiet);
  await other.load();
  assert.deepEqual(other.leftovers(), []);
});

test('a corrupt or foreign file is reported and ignored', async () => {
  for (const text of [
    '{not json',
    JSON.stringify({ version: 9 }),
    JSON.stringify({ version: 1, jobs: { 'system/x': { runs: -1 } } }),
  ]) {
    const fs = new FakeFileSystem();
    fs.writeFile(file, text);
    const warnings: string[] = [];
    const s = new StateStore(fs, file, 'b', (_l, _s, m) => warnings.push(m));
    await s.load();
    assert.equal(s.previous('system', 'x'), undefined);
    assert.deepEqual(s.leftovers(), []);
    if (!text.includes('"runs":-1')) assert.equal(warnings.length, 1, text);
  }
});
