/**
 * Gives the C heap's freed pages back to the system, after start-up and then once a minute.
 *
 * Why: glibc keeps freed memory inside its arenas, and the agent's bursts (reading and parsing
 * every plist at boot, starting every job, V8's compiler zones) leave megabytes of it behind:
 * about 5 MB with 1,000 jobs, a tenth of the agent (test/bench/RESULTS.md, "Where the memory
 * goes"). malloc_trim(0) (lfnative's releaseFreeMemory) returns it; it costs well under a
 * millisecond, and one wake-up a minute is nothing against the idle CPU budget. The timers are
 * unref'd: they never keep the agent alive.
 */
import { loadAddon } from '../adapters/native-build.ts';

export interface MemoryTrim {
  stop(): void;
}

export interface MemoryTrimOptions {
  /** First trim after start-up (the boot burst settles, V8 gives its garbage back). Default 10 s. */
  readonly firstAfterMs?: number;
  /** Then every this many ms. Default 60 s. */
  readonly everyMs?: number;
  /** Default: the lfnative addon's releaseFreeMemory; a no-op without the addon. */
  readonly release?: () => boolean;
}

function addonRelease(): () => boolean {
  try {
    const a = loadAddon('lfnative') as { releaseFreeMemory?: () => boolean };
    if (typeof a.releaseFreeMemory === 'function') return a.releaseFreeMemory;
  } catch {
    // no addon: nothing to trim with
  }
  return () => false;
}

export function startMemoryTrim(o: MemoryTrimOptions = {}): MemoryTrim {
  const release = o.release ?? addonRelease();
  let every: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    release();
    every = setInterval(release, o.everyMs ?? 60_000);
    every.unref();
  }, o.firstAfterMs ?? 10_000);
  first.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
