/**
 * Watching a process that is not the agent's child (an adopted job, docs/upgrades.md) through
 * a Linux pidfd: the lfnative addon's pidfdOpen (pidfd_open(2)) and its one-shot watchReadable,
 * which libuv polls with the agent's other fds: no timer, no /proc reads. Where there is no
 * pidfd (macOS, a kernel before 5.3, an addon without pidfdOpen) `openPidfd` says so and the
 * caller polls instead.
 */
import { loadAddon } from './native-build.ts';

interface PidfdAddon {
  pidfdOpen(pid: number): number;
  watchReadable(fd: number, cb: (err: Error | null) => void): { stop(): void };
  close(fd: number): void;
}

let addon: PidfdAddon | null | undefined;
function pidfdAddon(): PidfdAddon | null {
  if (addon !== undefined) return addon;
  try {
    const a = loadAddon('lfnative') as Partial<PidfdAddon>;
    addon =
      typeof a.pidfdOpen === 'function' &&
      typeof a.watchReadable === 'function' &&
      typeof a.close === 'function'
        ? (a as PidfdAddon)
        : null;
  } catch {
    addon = null;
  }
  return addon;
}

/** An open pidfd: bound to the process that had the pid when it was opened. */
export interface Pidfd {
  /** Calls `onGone` once when the process has exited (then the fd is closed). Returns a cancel. */
  watch(onGone: () => void): () => void;
  /** Closes the fd without watching. */
  close(): void;
}

/**
 * A pidfd for `pid`, or 'gone' (no such process), or undefined where pidfds are not available.
 * Open it BEFORE checking the process's identity (start time): once open, the fd cannot come to
 * mean another process, so an identity check after the open holds for the fd.
 */
export function openPidfd(pid: number): Pidfd | 'gone' | undefined {
  const a = pidfdAddon();
  if (!a) return undefined;
  let fd: number;
  try {
    fd = a.pidfdOpen(pid);
  } catch (e) {
    if ((e as { code?: string }).code === 'ESRCH') return 'gone';
    return undefined; // ENOSYS, EPERM (seccomp), ...: poll instead
  }
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    a.close(fd);
  };
  return {
    close,
    watch: (onGone) => {
      const w = a.watchReadable(fd, () => {
        close();
        onGone();
      });
      return () => {
        w.stop();
        close();
      };
    },
  };
}
