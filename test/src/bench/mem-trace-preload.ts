/**
 * Preloaded into the soak's measured agent (soak.ts `--agent-mem`, issue 17) with
 * `node --import=<this file's URL>?out=<file.jsonl>&every=<ms>`: tells JS heap growth from native
 * growth without a change to the agent's code.
 *
 * - Every `every` ms (default 60 s) it appends one JSON line to `out`: process.memoryUsage() (rss,
 *   heapTotal, heapUsed, external, arrayBuffers) and V8's heap spaces (used/committed per space).
 * - On SIGUSR2 it writes a heap snapshot (v8.writeHeapSnapshot; a full GC first, so what it holds is
 *   live) next to `out`, then appends a line with the memory figures right after it (post-GC
 *   heapUsed) and the snapshot's path. Read it with heap-snapshot-top.ts.
 *
 * The timer is unref'd (never keeps the agent alive). Not for production: a measurement tool.
 */
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const params = new URL(import.meta.url).searchParams;
const out = params.get('out');
const every = Number(params.get('every') ?? '60000');

function line(extra: Record<string, unknown> = {}): void {
  if (!out) return;
  const m = process.memoryUsage();
  const spaces: Record<string, { used: number; committed: number }> = {};
  for (const s of getHeapSpaceStatistics())
    spaces[s.space_name] = { used: s.space_used_size, committed: s.physical_space_size };
  try {
    appendFileSync(out, `${JSON.stringify({ t: Date.now(), pid: process.pid, ...m, spaces, ...extra })}\n`);
  } catch {
    // the measurement must never hurt the agent
  }
}

if (out) {
  line({ event: 'start' });
  setInterval(() => line(), Number.isFinite(every) && every > 0 ? every : 60_000).unref();
  let n = 0;
  process.on('SIGUSR2', () => {
    const t = Date.now();
    const file = writeHeapSnapshot(`${out}.${process.pid}.${++n}.heapsnapshot`);
    line({ event: 'snapshot', file, snapshotMs: Date.now() - t });
  });
}
