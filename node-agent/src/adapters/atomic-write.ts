/**
 * Writing a file so that a reader (or the agent after a crash) sees the old content or the new,
 * never a mix: a temp file in the same directory (same file system, so rename is atomic), written
 * and fsync'ed, renamed over the target, then the directory fsync'ed so the rename is durable.
 *
 * Every call has its own temp name: two writes of one file in flight at once (the trust store
 * arrives twice in a row when a key is revoked) must not share a temp file, or one write's
 * rename takes the other's half-written content and the other fails with ENOENT. Callers that
 * need the last write to win must still order their writes (rename order is completion order).
 */
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const tmpPrefix = `${process.pid}.${Date.now().toString(36)}`;
let tmpSerial = 0;

/** Writes `data` to `path` atomically; with `mode` the file gets exactly that mode (not the umask). */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
  const dir = dirname(path);
  // Unique, not secret: O_EXCL refuses any name that exists (a symlink too).
  const tmp = join(dir, `.${basename(path)}.${tmpPrefix}.${(++tmpSerial).toString(36)}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode ?? 0o666);
  let renamed = false;
  try {
    if (mode !== undefined) await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    }
  }
  const d = await open(dir, constants.O_RDONLY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
