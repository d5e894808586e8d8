/**
 * Whether a native piece the single-file agent extracted (the addon it loads into itself, the
 * shim it execs as root before every job) may be used: the pure rules, applied by
 * native-pieces.ts to what fstat/lstat and a SHA-256 say. Anyone who can change these files
 * runs code as root, so a piece is used only when
 *
 * - it is a regular file (not a symlink, which could point anywhere later);
 * - its owner is root (or the agent's own user, for an unprivileged development run);
 * - neither group nor others may write it;
 * - its SHA-256 equals that of the copy embedded in the binary;
 *
 * and every directory above it is owned by root or that user and not writable by group or
 * others, except a root-owned sticky directory such as /tmp, where others cannot rename or
 * remove what they do not own. Anything else is refused with the reason, never repaired
 * silently: a changed file is a sign that something else has root or the agent's user.
 */

/** What the agent saw of a path (lstat or fstat). */
export interface PathFacts {
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly uid: number;
  /** st_mode's permission bits, including setuid/setgid/sticky (mode & 0o7777). */
  readonly mode: number;
}

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function ownerText(uid: number, allowed: readonly number[]): string {
  return `owned by uid ${uid}, not ${allowed.map((u) => (u === 0 ? 'root' : `uid ${u}`)).join(' or ')}`;
}

/** Why a piece (a file the agent loads or execs) must not be used, or undefined when it may. */
export function pieceProblem(f: PathFacts, allowedUids: readonly number[]): string | undefined {
  if (f.kind !== 'file') return `is a ${f.kind}, not a regular file`;
  if (!allowedUids.includes(f.uid)) return ownerText(f.uid, allowedUids);
  if ((f.mode & GROUP_OR_OTHER_WRITE) !== 0) return `is writable by group or others (mode ${octal(f.mode)})`;
  return undefined;
}

/**
 * Why a directory holding the pieces (`own`: the directories the agent made for them) or one
 * above it must not be trusted, or undefined when it may.
 */
export function directoryProblem(
  f: PathFacts,
  allowedUids: readonly number[],
  own: boolean,
): string | undefined {
  if (f.kind !== 'directory') return `is a ${f.kind}, not a directory`;
  const rootSticky = !own && f.uid === 0 && (f.mode & STICKY) !== 0;
  if (!allowedUids.includes(f.uid)) return ownerText(f.uid, allowedUids);
  if ((f.mode & GROUP_OR_OTHER_WRITE) !== 0 && !rootSticky)
    return `is writable by group or others (mode ${octal(f.mode)})`;
  return undefined;
}

/** Why a piece's content differs from the embedded copy, or undefined when it is the same. */
export function digestProblem(actualSha256: string, expectedSha256: string): string | undefined {
  return actualSha256 === expectedSha256
    ? undefined
    : `has SHA-256 ${actualSha256}, but the copy embedded in this binary has ${expectedSha256} (the file was changed)`;
}
