import { statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** Timing of a PathWatcher. */
export interface PathWatcherOptions {
  /** Events within this window are coalesced into one onChange call. */
  readonly debounceMs: number;
  /**
   * Safety rescan period (0 = off): stat the path and its watched ancestor, call onChange if the
   * path's identity/size/times changed and re-arm the watches. This catches what inotify drops
   * silently (queue overflow, a watch limit hit, an event lost between re-arms). It does not see
   * a content change inside a directory that leaves the directory's own mtime alone.
   */
  readonly rescanIntervalMs: number;
  /** Poll period used instead of inotify when no watch could be placed at all (ENOSPC, EACCES). */
  readonly fallbackPollMs: number;
}

/** What identifies the state of a path for change detection. */
function fingerprint(st: Stats | undefined): string {
  if (!st) return 'absent';
  return `${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
/** Only what requires re-arming: existence, identity, kind. */
function identity(st: Stats | undefined): string {
  if (!st) return 'absent';
  return `${st.dev}:${st.ino}:${st.isDirectory() ? 'd' : 'f'}`;
}
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Watches one path the way WatchPaths / QueueDirectories / PathState need:
 *
 * - the parent directory is watched, filtered by the path's name, so create, delete, rename-over
 *   (atomic replace), write and attribute changes of the path are all seen, and a replaced file
 *   does not leave a dead watch behind (a watch on the file itself goes silent after rename);
 * - if the path is a directory, the directory itself is watched too (its entries changing);
 * - if the path (or some of its parents) does not exist, the nearest existing ancestor is watched
 *   for the next missing component, and the watches move down as components appear (and back up
 *   when they vanish);
 * - at most two inotify watches per path, never recursive; nothing throws after construction.
 */
export class PathWatcher {
  readonly #path: string;
  readonly #onChange: () => void;
  readonly #opts: PathWatcherOptions;
  #watchers: FSWatcher[] = [];
  /** The directory watched for `#childName` and the inode it had when armed. */
  #parentDir = '';
  #parentIdentity = '';
  #childName = '';
  #targetIdentity = '';
  #lastFingerprint: string;
  #debounce: NodeJS.Timeout | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #fallback: NodeJS.Timeout | undefined;
  #disposed = false;
  #rearmPending = false;

  constructor(path: string, onChange: () => void, opts: PathWatcherOptions) {
    this.#path = resolve(path);
    this.#onChange = onChange;
    this.#opts = opts;
    this.#lastFingerprint = fingerprint(statOrUndefined(this.#path));
    this.#arm();
    if (opts.rescanIntervalMs > 0) {
      this.#rescan = setInterval(() => this.#check(true), opts.rescanIntervalMs);
      this.#rescan.unref();
    }
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#closeWatchers();
    clearTimeout(this.#debounce);
    clearInterval(this.#rescan);
    clearInterval(this.#fallback);
  }

  #closeWatchers(): void {
    for (const w of this.#watchers) {
      try {
        w.close();
      } catch {
        // already closed by the OS (the watched directory vanished)
      }
    }
    this.#watchers = [];
  }

  /** Places the watches for the current state of the file system. */
  #arm(): void {
    if (this.#disposed) return;
    this.#closeWatchers();
    const target = this.#path;
    const targetStat = statOrUndefined(target);
    this.#targetIdentity = identity(targetStat);
    // Nearest existing ancestor directory, and the component below it on the way to the target.
    let child = basename(target);
    let dir = dirname(target);
    let dirStat = statOrUndefined(dir);
    while (!dirStat?.isDirectory() && dir !== dirname(dir)) {
      child = basename(dir);
      dir = dirname(dir);
      dirStat = statOrUndefined(dir);
    }
    this.#parentDir = dir;
    this.#childName = child;
    this.#parentIdentity = identity(dirStat);
    let placed = 0;
    if (target !== dir) placed += this.#tryWatch(dir, (name) => this.#onParentEvent(name));
    if (targetStat?.isDirectory()) placed += this.#tryWatch(target, () => this.#schedule());
    if (placed === 0 && !targetStat?.isDirectory() && target !== dir) {
      // Could not watch the nearest ancestor: poll instead (the rescan logic, more often).
      this.#fallback ??= setInterval(() => this.#check(true), this.#opts.fallbackPollMs);
      this.#fallback.unref();
    } else if (placed > 0 && this.#fallback) {
      clearInterval(this.#fallback);
      this.#fallback = undefined;
    }
    // A change between the stat above and the watch being in place would be lost: compare now.
    this.#check(false);
  }

  #tryWatch(dir: string, onEvent: (name: string | null) => void): number {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => onEvent(name));
      w.on('error', () => this.#rearmSoon());
      this.#watchers.push(w);
      return 1;
    } catch {
      return 0;
    }
  }

  #onParentEvent(name: string | null): void {
    if (this.#disposed) return;
    // An event named after the watched directory itself: it was deleted or moved away
    // (IN_DELETE_SELF / IN_MOVE_SELF), and its watch is dead. A directory made again at once can
    // get the same inode number back, so the identity checks cannot be trusted to notice.
    if (name !== null && name === basename(this.#parentDir)) this.#rearmSoon();
    if (name === null || name === this.#childName) {
      if (this.#parentDir === dirname(this.#path)) {
        this.#check(false);
        this.#schedule();
        // A directory target created, deleted or replaced: for the same reason its own watch may
        // be on a dead inode with the same number.
        if (this.#targetIdentity.endsWith(':d')) this.#rearmSoon();
      } else {
        this.#rearmSoon(); // a missing component on the way to the path appeared or changed
      }
      return;
    }
    // Another name: only matters if the watched directory itself went away or was replaced.
    if (identity(statOrUndefined(this.#parentDir)) !== this.#parentIdentity) this.#rearmSoon();
  }

  #rearmSoon(): void {
    if (this.#disposed || this.#rearmPending) return;
    this.#rearmPending = true;
    setImmediate(() => {
      this.#rearmPending = false;
      if (!this.#disposed) this.#arm();
    });
  }

  /**
   * Compares the path's fingerprint with the last one seen (a change = onChange) and re-arms if
   * the layout changed (the target or the watched ancestor appeared, vanished or was replaced).
   */
  #check(fromRescan: boolean): void {
    if (this.#disposed) return;
    const st = statOrUndefined(this.#path);
    const fp = fingerprint(st);
    if (fp !== this.#lastFingerprint) {
      this.#lastFingerprint = fp;
      this.#schedule();
    }
    const layoutChanged =
      identity(st) !== this.#targetIdentity ||
      identity(statOrUndefined(this.#parentDir)) !== this.#parentIdentity ||
      (fromRescan && this.#nearestExistingChanged());
    if (layoutChanged) this.#rearmSoon();
  }

  /** True if a component below the watched ancestor now exists (an event was missed). */
  #nearestExistingChanged(): boolean {
    if (this.#parentDir === dirname(this.#path)) return false;
    const next = resolve(this.#parentDir, this.#childName);
    return statOrUndefined(next)?.isDirectory() === true;
  }

  #schedule(): void {
    if (this.#disposed || this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      if (this.#disposed) return;
      this.#lastFingerprint = fingerprint(statOrUndefined(this.#path));
      try {
        this.#onChange();
      } catch {
        // The subscriber's failure must not break the watch; it has its own error handling.
      }
    }, this.#opts.debounceMs);
  }
}
