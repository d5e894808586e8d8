import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RealFileSystem } from '../adapters/file-system.ts';
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

test('a detach record is read back for adoption only in the same boot, and only with detachedAt', async () => {
  const fs = new FakeFileSystem();
  fs.mkdir('/state');
  const a = new StateStore(fs, file, 'boot-1', quiet);
  await a.load();
  a.onStatus(status({ label: 'kept', subState: 'running', runs: 0, pid: 4242 }));
  a.recordDetached('system/kept', { pid: 4242, startTicks: 99 }, 'def-1');
  await a.flush();
  const b = new StateStore(fs, file, 'boot-1', quiet);
  await b.load();
  assert.deepEqual(b.leftovers(), [
    { key: 'system/kept', proc: { pid: 4242, startTicks: 99 }, definition: 'def-1' },
  ]);
  const other = new StateStore(fs, file, 'boot-2', quiet);
  await other.load();
  assert.deepEqual(other.leftovers(), [], 'another boot: nothing, not even reaped');
  // Without detachedAt (a crash's file with an adopt record written by hand): reaped, not adopted.
  const doc = JSON.parse(new TextDecoder().decode(await fs.readFile(file))) as Record<string, unknown>;
  assert.equal(typeof doc['detachedAt'], 'number');
  delete doc['detachedAt'];
  await fs.writeFileAtomic(file, JSON.stringify(doc), 0o600);
  const c = new StateStore(fs, file, 'boot-1', quiet);
  await c.load();
  assert.deepEqual(c.leftovers(), [{ key: 'system/kept', proc: { pid: 4242, startTicks: 99 } }]);
  // The next life's own writes drop the adopt records: a crash after an adoption reaps.
  c.onStatus(status({ label: 'kept', subState: 'running', runs: 0 }));
  await c.flush();
  const d = new StateStore(fs, file, 'boot-1', quiet);
  await d.load();
  assert.equal(d.leftovers()[0]?.definition, undefined);
});

test('the reused write buffer: each write (real files) holds exactly its own document, longer or shorter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-state-'));
  try {
    const real = join(dir, 'agent-state.json');
    const fs = new RealFileSystem();
    const a = new StateStore(fs, real, 'boot-1', quiet);
    await a.load();
    const names = ['a-long-label-for-a-long-document', 'b', 'c', 'd'];
    for (const [i, n] of names.entries()) a.onStatus(status({ label: n, subState: 'exited', runs: i + 1 }));
    await a.flush();
    const long = readFileSync(real, 'utf8');
    assert.equal(Object.keys((JSON.parse(long) as { jobs: object }).jobs).length, 4);
    // Booted out: the document shrinks; no byte of the longer one may remain.
    for (const n of names.slice(1)) a.onStatus(status({ label: n, subState: 'removed', runs: 0 }));
    await a.flush();
    const short = readFileSync(real, 'utf8');
    assert.ok(short.length < long.length && short.endsWith('}\n'), short);
    assert.deepEqual(Object.keys((JSON.parse(short) as { jobs: object }).jobs), [
      'system/a-long-label-for-a-long-document',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
