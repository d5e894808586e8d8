/**
 * Port: the file system facts the supervisor's triggers and conditions need
 * (WatchPaths, QueueDirectories, KeepAlive.PathState, plist directories, state files).
 * Real adapter: node-agent/src/adapters/file-system.ts (fs + inotify via fs.watch on the parent
 * directory, so atomic rename-replace and not-yet-existing paths are seen; a periodic rescan
 * covers dropped events). Fake: an in-memory tree for unit tests.
 */

export interface Disposable {
  dispose(): void;
}

export interface FileSystemPort {
  /** True if the path exists (stat succeeds; a dangling symlink does not exist). */
  exists(path: string): Promise<boolean>;
  /** True if the directory exists and has an entry other than . and .. (QueueDirectories). */
  dirHasEntries(path: string): Promise<boolean>;
  /**
   * Calls `onChange` (coalesced, at most once per `debounceMs`) whenever `path` is created,
   * deleted, renamed over, written or has its attributes changed; also when an entry in it
   * changes if it is a directory. Works when `path` does not exist yet (watches the nearest
   * existing ancestor). Never throws for a missing or vanished path.
   */
  watch(path: string, onChange: () => void): Disposable;
  /** Reads a whole file; undefined if it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /**
   * Writes a file atomically (temp file in the same directory, fsync, rename). `data` is read only
   * until the promise settles: the caller may reuse its buffer afterwards.
   */
  writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void>;
  /**
   * stat(2) facts (following symlinks) for the plist ownership and permission checks
   * (docs/launchd-semantics.md §3.3), plus whether the path itself is a symlink (lstat); undefined if it does
   * not exist or dangles. Optional so adapters can add it; the domain manager refuses to load from paths
   * without it.
   */
  stat?(path: string): Promise<FileStat | undefined>;
  /** The entry names of a directory (no . or ..), or undefined if it is not a readable directory. */
  listDir?(path: string): Promise<readonly string[] | undefined>;
}

/** What the plist checks need from stat(2)/lstat(2). */
export interface FileStat {
  /** The type of what the path resolves to. */
  readonly kind: 'file' | 'directory' | 'other';
  /** The path itself is a symbolic link (lstat). */
  readonly isSymlink: boolean;
  /** Owner uid. */
  readonly uid: number;
  /** Permission bits (st_mode & 0o7777). */
  readonly mode: number;
}
