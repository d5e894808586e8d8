/**
 * Plist ownership/permission checks (docs/launchd-semantics.md §3.3, legacy launchctl's
 * `path_goodness_check`) and the rules that keep labels and paths inside their directories.
 */
import { basename, isAbsolute, join, normalize, resolve } from 'node:path';
import type { FileStat } from '../../ports/file-system.ts';
import { LaunchdCode, failure, type LaunchdFailure } from './launchd-errors.ts';

/**
 * Checks one plist path in launchd's order: exists; not group/world-writable; owned by root or
 * by the requesting user (so root cannot load a user-owned plist); a regular file or directory;
 * named *.plist (files only). Read bits do not matter. Returns the failure, or undefined if good.
 * `requesterUid` undefined is `load -F`: "skip all remaining checks" after the stat.
 */
export function checkPlistPath(
  path: string,
  st: FileStat | undefined,
  requesterUid: number | undefined,
): LaunchdFailure | undefined {
  if (!st)
    return failure(LaunchdCode.INVALID_PATH, `Couldn't stat("${path}"): No such file or directory`, { path });
  if (requesterUid === undefined) return undefined;
  if ((st.mode & 0o022) !== 0)
    return failure(LaunchdCode.BAD_PERMISSIONS, 'Dubious permissions on file (skipping)', { path });
  if (st.uid !== 0 && st.uid !== requesterUid)
    return failure(LaunchdCode.BAD_PERMISSIONS, 'Dubious ownership on file (skipping)', { path });
  // 842's launchctl read the plist with the requester's own rights; the agent reads it as root,
  // so a user may not load (and thereby read) a root-owned plist that is not world-readable.
  if (requesterUid !== 0 && st.uid !== requesterUid && (st.mode & 0o004) === 0)
    return failure(LaunchdCode.BAD_PERMISSIONS, 'Not readable by the requesting user (skipping)', { path });
  if (st.kind !== 'file' && st.kind !== 'directory')
    return failure(LaunchdCode.INVALID_PATH, 'Dubious path. Not a regular file or directory (skipping)', {
      path,
    });
  if (st.kind === 'file' && !/\.plist$/i.test(path))
    return failure(LaunchdCode.INVALID_PATH, 'Dubious file. Not of type .plist (skipping)', { path });
  return undefined;
}

/** An absolute, normalised path, or undefined when the input cannot be one (relative, NUL byte). */
export function safeAbsolutePath(path: string): string | undefined {
  if (path.length === 0 || path.includes('\0') || !isAbsolute(path)) return undefined;
  return normalize(resolve(path));
}

/**
 * A directory entry's full path, or undefined if the name is not a plain entry of `dir`
 * (dot-files are skipped as launchctl does; `/` or `..` cannot escape the directory).
 */
export function entryPath(dir: string, name: string): string | undefined {
  if (name.length === 0 || name.startsWith('.') || name.includes('/') || name.includes('\0'))
    return undefined;
  const p = join(dir, name);
  return p.startsWith(dir.endsWith('/') ? dir : dir + '/') && basename(p) === name ? p : undefined;
}

/**
 * Whether a label can be used as a file name inside a state directory: no `/`, no NUL or
 * control characters, not `.` or `..`, at most 255 bytes. Labels that fail cannot be loaded,
 * so no per-job state file can ever land outside its directory.
 */
export function labelIsSafe(label: string): boolean {
  if (label.length === 0 || label === '.' || label === '..') return false;
  if (Buffer.byteLength(label) > 255) return false;
  // eslint-disable-next-line no-control-regex
  return !/[/\u0000-\u001f\u007f]/.test(label);
}

/** The path of a per-label state file, or undefined if the label could escape `stateDir`. */
export function statePathFor(stateDir: string, label: string, suffix = '.json'): string | undefined {
  if (!labelIsSafe(label)) return undefined;
  const p = join(stateDir, label + suffix);
  return p.startsWith(stateDir.endsWith('/') ? stateDir : stateDir + '/') ? p : undefined;
}
