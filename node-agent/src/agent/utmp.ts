/**
 * Parses glibc's utmp file (/var/run/utmp) on Linux (x86-64 and aarch64 layout, 384-byte
 * records) for the logged-in users: USER_PROCESS entries. Pure: bytes in, entries out.
 */

/** The size of one `struct utmp` record with glibc on 64-bit Linux. */
export const UTMP_RECORD_SIZE = 384;
const USER_PROCESS = 7;

export interface UtmpLogin {
  readonly user: string;
  /** The login process (sshd session, getty, terminal); a record whose process died is stale. */
  readonly pid: number;
  readonly line: string;
}

function cString(buf: Uint8Array, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? slice.subarray(0, nul) : slice);
}

/** USER_PROCESS records of a utmp file; a trailing partial record is ignored. */
export function parseUtmp(buf: Uint8Array): UtmpLogin[] {
  const out: UtmpLogin[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let off = 0; off + UTMP_RECORD_SIZE <= buf.byteLength; off += UTMP_RECORD_SIZE) {
    const type = view.getInt16(off, true);
    if (type !== USER_PROCESS) continue;
    const pid = view.getInt32(off + 4, true);
    const line = cString(buf, off + 8, 32);
    const user = cString(buf, off + 44, 32);
    if (user !== '') out.push({ user, pid, line });
  }
  return out;
}

/** Builds one record (tests, and the documentation of the layout). */
export function utmpRecord(type: number, pid: number, line: string, user: string): Uint8Array {
  const b = new Uint8Array(UTMP_RECORD_SIZE);
  const v = new DataView(b.buffer);
  v.setInt16(0, type, true);
  v.setInt32(4, pid, true);
  b.set(new TextEncoder().encode(line).subarray(0, 32), 8);
  b.set(new TextEncoder().encode(user).subarray(0, 32), 44);
  return b;
}
