/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`, or LF_BENCH_CPU_PROF=<dir> for the
 * benchmark workers): the top functions by self time, and by total time (self + callees), so
 * RESULTS.md can say what limits a target from a profile rather than a guess.
 *
 *   node test/dist/bench/cpu-profile-top.js <file.cpuprofile|dir> [--top=N]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { intArg, parseArgs, table } from './bench-output.ts';
import { round } from './bench-stats.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

function frameName(n: ProfileNode): string {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|work\/main)\//, '');
  const fn = f.functionName || '(anonymous)';
  return url ? `${fn} ${url}:${f.lineNumber + 1}` : fn;
}

/** Top frames of one profile: self and total ms per frame name. */
export function topFrames(p: Profile, top: number): { self: string[][]; total: string[][]; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    all += us;
    self.set(frameName(n), (self.get(frameName(n)) ?? 0) + us);
    // Count each frame name once per stack (recursion would double-count).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur);
      if (!c) break;
      const name = frameName(c);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>): string[][] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => [String(round(us / 1000, 1)), `${round((us / all) * 100, 1)}%`, name]);
  return { self: rows(self), total: rows(total), totalMs: round(all / 1000, 1) };
}

function main(): void {
  const args = process.argv.slice(2);
  const target = args.find((a) => !a.startsWith('--'));
  if (target === undefined) throw new Error('usage: cpu-profile-top <file.cpuprofile|dir> [--top=N]');
  const { values } = parseArgs(args.filter((a) => a.startsWith('--')));
  const top = intArg(values, 'top', 15);
  const files = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(target, f))
    : [target];
  for (const f of files) {
    const p = JSON.parse(readFileSync(f, 'utf8')) as Profile;
    const t = topFrames(p, top);
    console.log(`== ${f}: ${t.totalMs} ms sampled`);
    console.log(table(['self ms', 'self %', 'frame'], t.self));
    console.log('');
    console.log(table(['total ms', 'total %', 'frame (self + callees)'], t.total));
    console.log('');
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`cpu-profile-top: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
