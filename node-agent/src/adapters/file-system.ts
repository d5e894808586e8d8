import { readFile } from 'node:fs';
import { lstat, opendir, stat } from 'node:fs/promises';
import type { Disposable, FileStat, FileSystemPort } from '../ports/file-system.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { PathWatcher } from './path-watcher.ts';

/** Options of the real file system port. */
export interface RealFileSystemOptions {
  /** Coalescing window of watch() callbacks. Default 50 ms. */
  readonly debounceMs?: number;
  /**
   * Period of the low-frequency safety rescan of every watched path (see PathWatcher):
   * inotify drops events silently on queue overflow, so a runtime that must not miss a change
   * (QueueDirectories) keeps this on. 0 turns it off. Default 30 s.
   */
  readonly rescanIntervalMs?: number;
  /** Poll period for a path whose ancestors cannot be watched at all. Default 1 s. */
  readonly fallbackPollMs?: number;
  /** listDir stops after this many entries (memory stays bounded on a huge directory). Default 100 000. */
  readonly maxListEntries?: number;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** FileSystemPort over node:fs and inotify (fs.watch on parent directories). */
export class RealFileSystem implements FileSystemPort {
  readonly #debounceMs: number;
  readonly #rescanIntervalMs: number;
  readonly #fallbackPollMs: number;
  readonly #maxListEntries: number;

  constructor(options: RealFileSystemOptions = {}) {
    this.#maxListEntries = options.maxListEntries ?? 100_000;
    this.#debounceMs = options.debounceMs ?? 50;
    this.#rescanIntervalMs = options.rescanIntervalMs ?? 30_000;
    this.#fallbackPollMs = options.fallbackPollMs ?? 1000;
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }

  /** Reads at most one entry (a queue directory may hold millions): opendir, read, close. */
  async dirHasEntries(path: string): Promise<boolean> {
    let dir;
    try {
      dir = await opendir(path, { bufferSize: 1 });
    } catch {
      return false;
    }
    try {
      return (await dir.read()) !== null;
    } catch {
      return false;
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  /** stat(2) (following symlinks) plus lstat's symlink bit; undefined if missing or dangling. */
  async stat(path: string): Promise<FileStat | undefined> {
    try {
      const [st, lst] = await Promise.all([stat(path), lstat(path)]);
      return {
        kind: st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other',
        isSymlink: lst.isSymbolicLink(),
        uid: st.uid,
        mode: st.mode & 0o7777,
      };
    } catch {
      return undefined;
    }
  }

  /** Entry names (no . or ..), read incrementally and capped at `maxListEntries`. */
  async listDir(path: string): Promise<readonly string[] | undefined> {
    let dir;
    try {
      dir = await opendir(path);
    } catch {
      return undefined;
    }
    const names: string[] = [];
    try {
      for (let e = await dir.read(); e !== null && names.length < this.#maxListEntries; e = await dir.read())
        names.push(e.name);
      return names;
    } catch {
      return undefined;
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  watch(path: string, onChange: () => void): Disposable {
    const w = new PathWatcher(path, onChange, {
      debounceMs: this.#debounceMs,
      rescanIntervalMs: this.#rescanIntervalMs,
      fallbackPollMs: this.#fallbackPollMs,
    });
    return { dispose: () => w.dispose() };
  }

  /**
   * The callback readFile: it sizes its buffer from fstat. fs/promises' readFile (Node 20) takes
   * a 64 KB buffer per read whatever the file's size, and the agent reads every plist of a
   * daemon directory at once: 64 MB of buffers for 1,000 jobs, whose freed pages stayed in the
   * agent's heap (test/bench/RESULTS.md, "Where the memory goes").
   */
  readFile(path: string): Promise<Uint8Array | undefined> {
    return new Promise((resolve, reject) =>
      readFile(path, (err, buf) => {
        if (err) {
          if (isMissing(err)) resolve(undefined);
          else reject(err);
        } else resolve(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      }),
    );
  }

  /** See atomic-write.ts: temp file, fsync, rename, directory fsync; a unique temp name per call. */
  writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
    return writeFileAtomic(path, data, mode);
  }
}
