/**
 * Puts the native pieces embedded in the single-file agent (the lfnative addon and the lf-exec
 * shim, see sea-assets.ts) on disk where the agent can dlopen and exec them, and checks them
 * before every use (native-check.ts has the rules and why).
 *
 * Layout: `<base>/<id>/lfnative.node` and `<base>/<id>/lf-exec`, with `<base>` the agent's
 * stateDir + `/native` (0700, root) and `<id>` the first 16 hex digits of a SHA-256 over both
 * pieces, so an upgraded binary extracts beside the old copy instead of over a file a running
 * agent may still hold; copies of other builds are removed once the current one is in place.
 *
 * A piece that is missing is written (temp file opened O_EXCL, fsync, rename). A piece that is
 * present is opened with O_NOFOLLOW and judged on that same descriptor (fstat, then its bytes),
 * so what was checked is what is used; a piece that fails is refused with
 * NativePieceRefusedError and left as found for the admin to look at.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestProblem, directoryProblem, pieceProblem, type PathFacts } from './native-check.ts';

/** One embedded piece. */
export interface NativePiece {
  readonly name: 'lfnative.node' | 'lf-exec';
  readonly bytes: Uint8Array;
  /** The mode it is written with (never group- or world-writable). */
  readonly mode: number;
}

/** A native piece (or a directory above it) the agent will not use; the message says why and what to do. */
export class NativePieceRefusedError extends Error {
  override readonly name = 'NativePieceRefusedError';
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, advice: string) {
    super(`refusing ${path}: it ${reason}. ${advice}`);
    this.path = path;
    this.reason = reason;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function factsOf(st: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  uid: number;
  mode: number;
}): PathFacts {
  const kind = st.isSymbolicLink()
    ? 'symlink'
    : st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'directory'
        : 'other';
  return { kind, uid: st.uid, mode: st.mode & 0o7777 };
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The uids a piece may belong to: root, and the agent's own user when it does not run as root. */
export function allowedOwners(euid: number): readonly number[] {
  return euid === 0 ? [0] : [0, euid];
}

/** Checks `dir` and every directory above it (after resolving symlinks in the path). */
async function checkDirectoryChain(
  dir: string,
  own: ReadonlySet<string>,
  allowed: readonly number[],
): Promise<void> {
  let p = await realpath(dir);
  for (;;) {
    const problem = directoryProblem(factsOf(await lstat(p)), allowed, own.has(p));
    if (problem)
      throw new NativePieceRefusedError(
        p,
        problem,
        'The single-file agent keeps its native pieces below it and runs them as root: make it owned by root and not writable by group or others.',
      );
    const up = dirname(p);
    if (up === p) return;
    p = up;
  }
}

/** Opens an existing piece without following a symlink and judges it; resolves false when it is missing. */
async function verifyPiece(
  path: string,
  expected: string,
  allowed: readonly number[],
  binary: string,
): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    if (isMissing(e)) return false;
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new NativePieceRefusedError(path, 'is a symlink, not a regular file', removeAdvice(path, binary));
    }
    throw e;
  }
  try {
    const problem =
      pieceProblem(factsOf(await fh.stat()), allowed) ?? digestProblem(sha256(await fh.readFile()), expected);
    if (problem) throw new NativePieceRefusedError(path, problem, removeAdvice(path, binary));
    return true;
  } finally {
    await fh.close();
  }
}

function removeAdvice(path: string, binary: string): string {
  return (
    `It is the agent's copy of a native piece embedded in ${binary}; if no admin changed it, something else with ` +
    `root (or the agent's user) did. Investigate, then remove it (rm ${path}) and start the agent again: it ` +
    'extracts a fresh copy.'
  );
}

async function writePiece(path: string, piece: NativePiece): Promise<void> {
  const tmp = join(dirname(path), `.${piece.name}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fh = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    piece.mode,
  );
  try {
    await fh.writeFile(piece.bytes);
    // The umask may have taken bits away; set exactly the mode asked for.
    await fh.chmod(piece.mode);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/**
 * Extracts (when missing) and checks the pieces below `base`; resolves with the directory that
 * holds them, ready for native-build.ts's useNativeDir. Throws NativePieceRefusedError when a
 * piece or a directory fails a check.
 */
export async function installNativePieces(
  base: string,
  pieces: readonly NativePiece[],
  o: { readonly euid: number; readonly binary: string },
): Promise<string> {
  const allowed = allowedOwners(o.euid);
  const digests = new Map(pieces.map((p) => [p.name, sha256(p.bytes)]));
  const id = sha256(
    new TextEncoder().encode(pieces.map((p) => `${p.name}=${digests.get(p.name)}`).join('\n')),
  ).slice(0, 16);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = join(base, id);
  await mkdir(dir, { mode: 0o700 }).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  });
  const baseReal = await realpath(base);
  await checkDirectoryChain(dir, new Set([baseReal, join(baseReal, id)]), allowed);
  for (const piece of pieces) {
    const path = join(dir, piece.name);
    const expected = digests.get(piece.name)!;
    if (!(await verifyPiece(path, expected, allowed, o.binary))) {
      await writePiece(path, piece);
      // Judged like any other copy: what is used is what was checked.
      await verifyPiece(path, expected, allowed, o.binary);
    }
  }
  // Copies from other builds of the agent (upgrades) are no longer needed.
  for (const name of await readdir(base)) {
    if (name !== id && /^[0-9a-f]{16}$/.test(name))
      await rm(join(base, name), { recursive: true, force: true });
  }
  return dir;
}

/** The pieces a single-file binary embeds, as read with `asset` (sea-assets.ts's seaAsset). */
export function embeddedPieces(asset: (name: string) => Uint8Array | undefined): NativePiece[] | undefined {
  const addon = asset('lfnative.node');
  const shim = asset('lf-exec');
  if (!addon || !shim) return undefined;
  return [
    { name: 'lfnative.node', bytes: addon, mode: 0o444 },
    { name: 'lf-exec', bytes: shim, mode: 0o555 },
  ];
}
