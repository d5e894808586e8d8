import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from '@launchfleet/shared/testing';
import { writeFileAtomic } from './atomic-write.ts';

test('writes of one file in flight at once all succeed and leave one whole content, no temp file', () =>
  withTempDir('lf-atomic-', async (dir) => {
    const path = join(dir, 'trust.json');
    // Large enough that the writes interleave; a shared temp name failed here with ENOENT on rename
    // or left one write's content renamed under the other's.
    const contents = ['a', 'b', 'c', 'd'].map((c) => c.repeat(256 * 1024));
    await Promise.all(contents.map((c) => writeFileAtomic(path, c, 0o600)));
    const got = await readFile(path, 'utf8');
    assert.ok(contents.includes(got), 'the file holds exactly one of the writes');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['trust.json']);
  }));

test('a write that fails leaves the old file and no temp file', () =>
  withTempDir('lf-atomic-', async (dir) => {
    const path = join(dir, 'f');
    await writeFileAtomic(path, 'old');
    await assert.rejects(writeFileAtomic(path, 1 as unknown as string));
    assert.equal(await readFile(path, 'utf8'), 'old');
    assert.deepEqual(await readdir(dir), ['f']);
  }));
