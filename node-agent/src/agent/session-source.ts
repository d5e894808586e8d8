/**
 * Which users have a login session, so the agent gives them gui/<uid> domains (docs/launchd-semantics.md
 * §3.1: "It exists only while that UID has a live GUI session"). Sources (the config's
 * `sessions.source`):
 * - `utmp`: users with a USER_PROCESS record in /var/run/utmp whose login process is alive,
 *   re-read whenever the file changes (inotify on its directory, so a file that appears later is
 *   seen; the FileSystemPort's periodic rescan covers dropped events). root is left out: its
 *   agents would run as root in every root shell.
 * - `console`: the owner of /dev/console when it is not root (macOS's console user).
 * - `none`: no sessions; gui and user domains exist only when root asks (`lfctl bootstrap`).
 */
import { readFile, stat } from 'node:fs/promises';
import type { Disposable, FileSystemPort } from '../ports/file-system.ts';
import type { UserDb } from '../ports/user-db.ts';
import { parseUtmp } from './utmp.ts';

export type SessionSourceKind = 'utmp' | 'console' | 'none';

export interface SessionSourceOptions {
  readonly kind: SessionSourceKind;
  readonly fs: FileSystemPort;
  readonly users: UserDb;
  /** Default: /var/run/utmp, falling back to /run/utmp. */
  readonly utmpPath?: string;
}

function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SessionSource {
  private readonly o: SessionSourceOptions;
  private watch: Disposable | undefined;

  constructor(o: SessionSourceOptions) {
    this.o = o;
  }

  /** The uids with a session now. Never throws: a missing or unreadable source means none. */
  async current(): Promise<Set<number>> {
    const uids = new Set<number>();
    switch (this.o.kind) {
      case 'none':
        return uids;
      case 'console': {
        const st = await stat('/dev/console').catch(() => undefined);
        if (st && st.uid !== 0) uids.add(st.uid);
        return uids;
      }
      case 'utmp': {
        const bytes = await this.readUtmp();
        for (const login of parseUtmp(bytes)) {
          if (!pidAlive(login.pid)) continue;
          const u = await this.o.users.userByName(login.user);
          if (u && u.uid !== 0) uids.add(u.uid);
        }
        return uids;
      }
      default: {
        const never: never = this.o.kind;
        throw new Error(`unknown session source ${String(never)}`);
      }
    }
  }

  /** Calls `onChange` (debounced by the port) when sessions may have changed. */
  start(onChange: () => void): void {
    if (this.o.kind !== 'utmp' || this.watch) return;
    this.watch = this.o.fs.watch(this.utmpPath(), onChange);
  }

  stop(): void {
    this.watch?.dispose();
    this.watch = undefined;
  }

  private utmpPath(): string {
    return this.o.utmpPath ?? '/var/run/utmp';
  }

  private async readUtmp(): Promise<Uint8Array> {
    for (const p of this.o.utmpPath ? [this.o.utmpPath] : ['/var/run/utmp', '/run/utmp']) {
      try {
        return new Uint8Array(await readFile(p));
      } catch {
        // try the next
      }
    }
    return new Uint8Array(0);
  }
}
