// The direct spawner's warm-up (ProcessSpawner.warm, run at a socket job's load so that V8
// compiles the spawn's preparation before the first activation): it must start nothing and leave
// the request as it was; the same request given to `spawn` does start the job (the check that the
// marker below would see a spawn).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SpawnRequest } from '../ports/process-spawner.ts';
import { spawnRequest } from '../testing/spawn-request.ts';
import { DirectProcessSpawner, directSpawnAvailable } from './direct-spawner.ts';

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** A job that leaves `marker` behind if it ever runs. */
function markerRequest(marker: string): SpawnRequest {
  return spawnRequest({
    label: 'warm.test',
    program: '/bin/sh',
    argv: ['sh', '-c', `echo ran > '${marker}'`],
    env: { PATH: '/usr/bin:/bin', XPC_SERVICE_NAME: 'warm.test' },
    softLimits: { NumberOfFiles: 256 },
    umask: 0o22,
    workingDirectory: '/',
  });
}

/** Pids of this process's children (every thread's). */
function children(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    const text = readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim();
    if (text !== '') out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('warm: prepares a request without starting anything or changing it; spawn of the same request runs it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-warm-'));
  try {
    const marker = join(dir, 'ran');
    const spawner = new DirectProcessSpawner();
    const before = children();
    const req = deepFreeze(markerRequest(marker));
    spawner.warm(req); // a frozen request: any write to it throws here (modules are strict)
    spawner.warm(deepFreeze({ ...markerRequest(marker), program: 'bad\0program' })); // invalid: dropped too
    await wait(200);
    assert.equal(existsSync(marker), false, 'the job did not run');
    assert.deepEqual(children(), before, 'no process started');
    assert.deepEqual(req, markerRequest(marker));

    if (!directSpawnAvailable()) {
      t.diagnostic('the lfnative addon has no direct spawn here: the spawn half is skipped');
      return;
    }
    const exited = new Promise<void>((resolve) => {
      void spawner.spawn(req, () => resolve()).then((r) => assert.equal(r.ok, true));
    });
    await exited;
    assert.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the same request, spawned, runs the job');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
