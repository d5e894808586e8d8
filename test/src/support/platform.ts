/**
 * Tests that need Linux itself (/proc, utmp, useradd, setpriv, inotify, Debian's daemons) say so
 * with `{ skip: linuxOnly('why') }`: on macOS (.github/workflows/macos.yml) they are skipped with
 * the reason, everywhere else they run. The README's "macOS" section lists what differs there.
 */
export function linuxOnly(why: string): string | false {
  return process.platform === 'linux' ? false : `Linux only: ${why}`;
}

/** In a test body: skips the test with the reason off Linux; true when skipped (return then). */
export function skipUnlessLinux(t: { skip(message?: string): void }, why: string): boolean {
  const reason = linuxOnly(why);
  if (reason) t.skip(reason);
  return reason !== false;
}
