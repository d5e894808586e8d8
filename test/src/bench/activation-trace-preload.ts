/**
 * Preloaded into the real agent by activation-trace.ts (`node --import=<this file's URL>?out=<path>`):
 * stamps, in CLOCK_MONOTONIC nanoseconds (process.hrtime, the clock of the benchmark's client and of
 * its C responder), what the agent does around each cold activation, without a change to the
 * agent's code:
 *
 *   wake       the lfnative addon's readability callback is entered (the agent woke up for the socket)
 *   wake-end   that callback returned (its synchronous part; microtasks run after it)
 *   turn-end   an immediate queued then ran: the callback's microtasks and the rest of that loop
 *              iteration's callbacks are done
 *   fork       spawnJob (the direct spawn) was called / returned: clone, the child's set-up and
 *              its exec (the addon returns once the job exec'd); the pid returned
 *   gc         a V8 GC pause (start, duration, kind), from a PerformanceObserver
 *   log        a synchronous write to fd 2 (the agent's log line) and its duration
 *   cb         with `&hooks=1`: every callback the event loop ran (async_hooks before/after, resource
 *              type): what kept the loop busy when a wake-up came late. Costs ~1 µs per callback.
 *   age        with `&age=<path>&gcs=N`: on SIGUSR2 the tracer allocates short-lived garbage until N
 *              V8 major GCs have run, then writes `<path>` (JSON: the GCs, their time, V8's bytecode
 *              size before and after). Those are the GCs of a long idle agent (allocation-driven, not
 *              forced: a forced GC leaves the functions' ages alone); after `--bytecode-old-age` of them
 *              V8 flushes the bytecode of every function not run meanwhile, such as the activation path.
 *
 * The addon's exports are wrapped as it is loaded (Module._extensions['.node']); the fs wrapper
 * is published to ES module imports with syncBuiltinESMExports. The stamps are written to `out`
 * (one JSON array) when the process exits. Not for production: a benchmark tool (test/bench/RESULTS.md,
 * issue 19).
 */
import { createHook, type AsyncHook } from 'node:async_hooks';
import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import v8 from 'node:v8';

type Stamp = [kind: string, tNs: number, a?: number | string, b?: number | string];

const params = new URL(import.meta.url).searchParams;
const out = params.get('out');
const withHooks = params.get('hooks') === '1';
const stamps: Stamp[] = [];
// Nanoseconds since an origin taken here, as a double (exact to the ns for days); written with the origin.
const origin = process.hrtime.bigint();
const now = (): number => Number(process.hrtime.bigint() - origin);
// performance.now() (ms since timeOrigin) to the same scale.
const perfOffsetNs = now() - performance.now() * 1e6;

interface Watch {
  stop(): void;
}
interface Lfnative {
  watchReadable?: (fd: number, cb: (err: Error | null) => void) => Watch;
  spawnJob?: (options: readonly string[], envp: readonly string[], fds: readonly number[]) => { pid: number };
}

/** A copy of the addon's exports (its properties are read-only) with the two functions wrapped. */
function wrapAddon(addon: Lfnative): Lfnative {
  const exports: Lfnative = {};
  for (const k of Object.getOwnPropertyNames(addon))
    (exports as Record<string, unknown>)[k] = (addon as Record<string, unknown>)[k];
  const watch = addon.watchReadable;
  if (watch) {
    exports.watchReadable = (fd, cb) =>
      watch(fd, (err) => {
        stamps.push(['wake', now(), fd]);
        try {
          cb(err);
        } finally {
          stamps.push(['wake-end', now(), fd]);
          // The check phase of this loop iteration: after the callback's microtasks.
          setImmediate(() => stamps.push(['turn-end', now(), fd]));
        }
      });
  }
  const spawnJob = addon.spawnJob;
  if (spawnJob) {
    exports.spawnJob = (options, envp, fds) => {
      const t = now();
      const r = spawnJob(options, envp, fds);
      stamps.push(['fork', t, now() - t, r.pid]);
      return r;
    };
  }
  return exports;
}

const require = createRequire(import.meta.url);
const Module = require('node:module') as {
  _extensions: Record<string, (module: { exports: unknown }, filename: string) => void>;
};
const loadNode = Module._extensions['.node'];
if (loadNode) {
  Module._extensions['.node'] = function (module, filename) {
    loadNode.call(this, module, filename);
    if (filename.endsWith('lfnative.node')) module.exports = wrapAddon(module.exports as Lfnative);
  };
}

const writeSync = fs.writeSync;
fs.writeSync = function (this: unknown, fd: number, ...rest: unknown[]): number {
  if (fd !== 2) return (writeSync as (...a: unknown[]) => number).call(this, fd, ...rest);
  const t = now();
  const n = (writeSync as (...a: unknown[]) => number).call(this, fd, ...rest);
  stamps.push(['log', t, now() - t]);
  return n;
};
syncBuiltinESMExports();

let majors = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as { detail?: { kind?: number } | null }).detail?.kind ?? 0;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
    stamps.push(['gc', perfOffsetNs + e.startTime * 1e6, e.duration * 1e6, kind]);
  }
}).observe({ entryTypes: ['gc'] });

/** Allocation until `gcs` more major GCs have run (60 s at most), then the report to `path`. */
async function age(gcs: number, path: string): Promise<void> {
  const t0 = now();
  const from = majors;
  const bytecodeBefore = v8.getHeapCodeStatistics().bytecode_and_metadata_size;
  // ~1 MB a turn, each chunk kept for 4 turns: it outlives the 1 MB young generation's scavenges,
  // is promoted and dies in the old generation, which fills until V8 collects it (a major GC).
  const ring: unknown[][] = [];
  while (majors - from < gcs && now() - t0 < 60e9) {
    const chunk: unknown[] = [];
    for (let i = 0; i < 20_000; i++) chunk.push({ i, s: `x${i}` });
    ring.push(chunk);
    if (ring.length > 4) ring.shift();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // The garbage (ring, dropped with this frame) is left to V8, as an idle agent's would be.
  stamps.push(['age', t0, now() - t0, majors - from]);
  const report = {
    gcs: majors - from,
    ms: (now() - t0) / 1e6,
    bytecodeBefore,
    bytecodeAfter: v8.getHeapCodeStatistics().bytecode_and_metadata_size,
  };
  fs.writeFileSync(path, JSON.stringify(report));
}
const agePath = params.get('age');
if (agePath) {
  const gcs = Number(params.get('gcs') ?? '8');
  process.on('SIGUSR2', () => void age(gcs, agePath));
}

let hook: AsyncHook | undefined;
if (withHooks) {
  const types = new Map<number, string>();
  hook = createHook({
    init(id, type) {
      types.set(id, type);
    },
    before(id) {
      stamps.push(['cb', now(), types.get(id) ?? '?']);
    },
    after() {
      stamps.push(['cb-end', now()]);
    },
    destroy(id) {
      types.delete(id);
    },
  });
  hook.enable();
}

process.on('exit', () => {
  hook?.disable();
  if (out) fs.writeFileSync(out, JSON.stringify({ originNs: origin.toString(), stamps }));
});
