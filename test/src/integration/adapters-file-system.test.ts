// RealFileSystem on real files: watch() through create/modify/delete/rename-over/missing
// parents, the safety rescan, and the plain file operations.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RealFileSystem } from '@launchfleet/node-agent';
import { waitUntil, within } from './adapters-helpers.ts';
import { skipUnlessLinux } from '../support/platform.ts';

let root = '';
let n = 0;
const fs = new RealFileSystem({ debounceMs: 20, rescanIntervalMs: 0 });

before(() => {
  root = mkdtempSync(join(tmpdir(), 'lf-fs-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function fresh(): string {
  const d = join(root, `case-${++n}`);
  mkdirSync(d);
  return d;
}

/** Counts onChange calls; `next()` resolves at the next call after it was asked. */
function counter(path: string, port = fs) {
  let count = 0;
  let waiters: (() => void)[] = [];
  const sub = port.watch(path, () => {
    count++;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  return {
    count: () => count,
    next: (what: string) => within(new Promise<void>((r) => waiters.push(r)), 5000, what),
    dispose: () => sub.dispose(),
  };
}

/** Waits long enough for a debounced event that should NOT come. */
const quiet = () => new Promise((r) => setTimeout(r, 200));

describe('RealFileSystem.watch', () => {
  test('create, modify, attribute change and delete of a file', async () => {
    const d = fresh();
    const p = join(d, 'file');
    const c = counter(p);
    let next = c.next('create');
    writeFileSync(p, 'a');
    await next;
    next = c.next('modify');
    appendFileSync(p, 'b');
    await next;
    next = c.next('chmod');
    chmodSync(p, 0o600);
    await next;
    next = c.next('delete');
    unlinkSync(p);
    await next;
    // Other names in the same directory are not this path.
    const before = c.count();
    writeFileSync(join(d, 'other'), 'x');
    await quiet();
    assert.equal(c.count(), before);
    c.dispose();
  });

  test('survives atomic rename-replace, again and again', async () => {
    const d = fresh();
    const p = join(d, 'config.plist');
    writeFileSync(p, 'v0');
    const c = counter(p);
    for (let i = 1; i <= 3; i++) {
      const next = c.next(`replace ${i}`);
      writeFileSync(join(d, `.tmp${i}`), `v${i}`);
      renameSync(join(d, `.tmp${i}`), p);
      await next;
    }
    // After the replacements, an in-place write is still seen (the watch is not on a dead inode).
    const next = c.next('write after replace');
    appendFileSync(p, 'more');
    await next;
    c.dispose();
  });

  test('coalesces a burst of events into few calls', async () => {
    const d = fresh();
    const p = join(d, 'busy');
    const c = counter(p);
    const first = c.next('burst');
    for (let i = 0; i < 200; i++) appendFileSync(p, 'x');
    await first;
    await quiet();
    assert.ok(c.count() >= 1 && c.count() <= 3, `burst of 200 writes gave ${c.count()} calls`);
    c.dispose();
  });

  test('a path whose parents do not exist yet: seen when the whole chain appears, then tracked', async () => {
    const d = fresh();
    const p = join(d, 'a', 'b', 'c', 'target');
    const c = counter(p);
    mkdirSync(join(d, 'a'));
    mkdirSync(join(d, 'a', 'b'));
    await quiet();
    assert.equal(c.count(), 0, 'intermediate directories are not the path');
    const next = c.next('created deep');
    mkdirSync(join(d, 'a', 'b', 'c'));
    writeFileSync(p, 'here');
    await next;
    const mod = c.next('modified deep');
    appendFileSync(p, '!');
    await mod;
    // The whole chain vanishes and comes back: still watched.
    const gone = c.next('chain removed');
    rmSync(join(d, 'a'), { recursive: true });
    await gone;
    await quiet();
    const back = c.next('chain recreated');
    mkdirSync(join(d, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(p, 'again');
    await back;
    c.dispose();
  });

  test('a directory path reports entries changing (QueueDirectories) and its own replacement', async () => {
    const d = fresh();
    const q = join(d, 'queue');
    mkdirSync(q);
    const c = counter(q);
    let next = c.next('entry added');
    writeFileSync(join(q, 'job1'), '');
    await next;
    assert.equal(await fs.dirHasEntries(q), true);
    next = c.next('entry removed');
    unlinkSync(join(q, 'job1'));
    await next;
    assert.equal(await fs.dirHasEntries(q), false);
    // Replace the directory itself; entries in the new one are still seen.
    next = c.next('dir replaced');
    mkdirSync(join(d, 'queue.new'));
    rmSync(q, { recursive: true });
    renameSync(join(d, 'queue.new'), q);
    await next;
    await quiet();
    next = c.next('entry in new dir');
    writeFileSync(join(q, 'job2'), '');
    await next;
    c.dispose();
  });

  // rm -r and mkdir in one go usually give the new directory the old inode number back, so
  // only the watch events can tell that the old watch died with the old directory.
  test('a parent directory deleted and made again at once (same inode number): a file in it is seen', async () => {
    for (let i = 0; i < 5; i++) {
      const d = fresh();
      const dir = join(d, 'watched');
      mkdirSync(dir);
      const target = join(dir, 'trigger');
      const c = counter(target);
      await quiet();
      const next = c.next(`trigger created in the new directory (round ${i})`);
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      writeFileSync(target, 'x');
      await next;
      // And the watch now lives on the new directory.
      await quiet();
      const again = c.next(`trigger changed (round ${i})`);
      writeFileSync(target, 'xy');
      await again;
      c.dispose();
    }
  });

  test('a watched directory deleted and made again at once: entries in the new one are seen', async () => {
    for (let i = 0; i < 5; i++) {
      const d = fresh();
      const q = join(d, 'queue');
      mkdirSync(q);
      const c = counter(q);
      await quiet();
      let next = c.next(`dir replaced (round ${i})`);
      rmSync(q, { recursive: true });
      mkdirSync(q);
      await next;
      await quiet();
      next = c.next(`entry in the new dir (round ${i})`);
      writeFileSync(join(q, 'job'), '');
      await next;
      c.dispose();
    }
  });

  test('dispose stops callbacks; watching nonsense paths never throws', async () => {
    const d = fresh();
    const p = join(d, 'x');
    const c = counter(p);
    c.dispose();
    c.dispose();
    writeFileSync(p, '1');
    await quiet();
    assert.equal(c.count(), 0);
    const weird = [join(d, 'file-as-dir', 'child'), '/', '', 'relative/path', '/proc/self/fd/0/x'];
    writeFileSync(join(d, 'file-as-dir'), '');
    const subs = weird.map((w) => fs.watch(w, () => undefined));
    for (const s of subs) s.dispose();
  });

  test('the safety rescan sees changes inotify never reports (/proc/<pid> vanishing)', async (ctx) => {
    if (skipUnlessLinux(ctx, 'inotify and /proc')) return;
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    const withRescan = new RealFileSystem({ debounceMs: 10, rescanIntervalMs: 100 });
    const a = counter(`/proc/${pid}`, withRescan);
    const b = counter(`/proc/${pid}`, fs);
    const next = a.next('rescan noticed the exit');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await waitUntil(() => !existsSync(`/proc/${pid}`), 5000, 'process reaped');
    await next;
    assert.equal(b.count(), 0, 'without the rescan the change goes unnoticed');
    a.dispose();
    b.dispose();
  });
});

describe('RealFileSystem: file operations', () => {
  test('exists, dirHasEntries and readFile', async () => {
    const d = fresh();
    assert.equal(await fs.exists(d), true);
    assert.equal(await fs.exists(join(d, 'nope')), false);
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling'));
    assert.equal(await fs.exists(join(d, 'dangling')), false, 'a dangling symlink does not exist');
    assert.equal(await fs.dirHasEntries(join(d, 'nope')), false);
    writeFileSync(join(d, 'f'), 'content');
    assert.equal(await fs.dirHasEntries(join(d, 'f')), false, 'a file is not a non-empty directory');
    assert.equal(await fs.dirHasEntries(d), true);
    assert.deepEqual(await fs.readFile(join(d, 'f')), new Uint8Array(Buffer.from('content')));
    assert.equal(await fs.readFile(join(d, 'nope')), undefined);
    assert.equal(await fs.readFile(join(d, 'f', 'under-a-file')), undefined);
  });

  test('stat and listDir give the facts the plist checks need', async () => {
    const d = fresh();
    writeFileSync(join(d, 'a.plist'), '<plist/>');
    chmodSync(join(d, 'a.plist'), 0o664);
    symlinkSync(join(d, 'a.plist'), join(d, 'link.plist'));
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling'));
    assert.deepEqual(await fs.stat(join(d, 'a.plist')), {
      kind: 'file',
      isSymlink: false,
      uid: 0,
      mode: 0o664,
    });
    assert.deepEqual(await fs.stat(join(d, 'link.plist')), {
      kind: 'file',
      isSymlink: true,
      uid: 0,
      mode: 0o664,
    });
    assert.equal((await fs.stat(d))?.kind, 'directory');
    assert.equal((await fs.stat('/dev/null'))?.kind, 'other');
    assert.equal(await fs.stat(join(d, 'dangling')), undefined);
    assert.equal(await fs.stat(join(d, 'nope')), undefined);
    assert.deepEqual([...((await fs.listDir(d)) ?? [])].sort(), ['a.plist', 'dangling', 'link.plist']);
    assert.equal(await fs.listDir(join(d, 'a.plist')), undefined);
    assert.equal(await fs.listDir(join(d, 'nope')), undefined);
    const capped = new RealFileSystem({ maxListEntries: 2 });
    assert.equal((await capped.listDir(d))?.length, 2);
  });

  test('dirHasEntries on a large directory answers without listing it', async () => {
    const d = fresh();
    for (let i = 0; i < 5000; i++) writeFileSync(join(d, `e${i}`), '');
    const t0 = performance.now();
    assert.equal(await fs.dirHasEntries(d), true);
    assert.ok(performance.now() - t0 < 200);
  });

  test('writeFileAtomic replaces atomically, sets the mode, leaves no temp files', async () => {
    const d = fresh();
    const p = join(d, 'state.json');
    await fs.writeFileAtomic(p, '{"v":1}');
    await fs.writeFileAtomic(p, new Uint8Array(Buffer.from('{"v":2}')), 0o600);
    assert.equal(Buffer.from((await fs.readFile(p)) ?? []).toString(), '{"v":2}');
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(d), ['state.json']);
    await assert.rejects(fs.writeFileAtomic(join(d, 'missing-dir', 'x'), 'x'), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(d), ['state.json']);
    // A watcher on the path sees one change per atomic write.
    const c = counter(p);
    const next = c.next('atomic write seen');
    await fs.writeFileAtomic(p, '{"v":3}');
    await next;
    c.dispose();
  });
});

function existsSync(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
