/**
 * Profiling tool (issue 17, the soak): what grew between two V8 heap snapshots of one process.
 * Groups every node by (type, name) (strings and closures each as one group; compiled code by its
 * kind, e.g. "(code deopt data)", or its function) and prints the groups whose self size grew most
 * and shrank most, with the change in count. Both snapshots are taken after a full GC, so the
 * totals are live objects: a leak shows as one group growing with time; a heap settling as
 * compiled code (the JIT optimising more functions) and V8's own metadata.
 *
 *   node test/dist/bench/heap-snapshot-diff.js <older.heapsnapshot> <newer.heapsnapshot> [--top=N]
 *
 * The soak's `--agent-mem` takes such snapshots of the measured agent (mem-trace-preload.ts).
 * Self sizes only, as heap-snapshot-top.ts.
 */
import { readFileSync } from 'node:fs';
import { intArg, parseArgs } from './bench-output.ts';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function groups(file: string): {
  by: Map<string, { n: number; bytes: number }>;
  total: number;
  nodes: number;
} {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const w = nf.length;
  const [iT, iN, iS] = [nf.indexOf('type'), nf.indexOf('name'), nf.indexOf('self_size')];
  const by = new Map<string, { n: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += w) {
    const t = types[s.nodes[i + iT] ?? 0] ?? '?';
    let name = s.strings[s.nodes[i + iN] ?? 0] ?? '';
    if (t.endsWith('string')) name = '(strings)';
    else if (t === 'closure') name = '(closures)';
    if (name.length > 60) name = `${name.slice(0, 60)}...`;
    const key = `${t} | ${name}`;
    const self = s.nodes[i + iS] ?? 0;
    const e = by.get(key) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += self;
    by.set(key, e);
    total += self;
  }
  return { by, total, nodes: s.nodes.length / w };
}

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const { values } = parseArgs(process.argv.slice(2).filter((a) => a.startsWith('--')));
const [older, newer] = files;
if (older === undefined || newer === undefined) {
  console.error('usage: heap-snapshot-diff.js <older.heapsnapshot> <newer.heapsnapshot> [--top=N]');
  process.exit(2);
}
const top = intArg(values, 'top', 25);
const a = groups(older);
const b = groups(newer);
const mib = (x: number) => (x / 1048576).toFixed(3);
console.log(
  `older: ${a.nodes} nodes, ${mib(a.total)} MiB; newer: ${b.nodes} nodes, ${mib(b.total)} MiB; change ${mib(b.total - a.total)} MiB`,
);
const rows = [...new Set([...a.by.keys(), ...b.by.keys()])].map((k) => {
  const x = a.by.get(k) ?? { n: 0, bytes: 0 };
  const y = b.by.get(k) ?? { n: 0, bytes: 0 };
  return { k, dBytes: y.bytes - x.bytes, dN: y.n - x.n, n: y.n };
});
rows.sort((p, q) => q.dBytes - p.dBytes);
const byType = new Map<string, { older: number; newer: number }>();
for (const [which, g] of [
  ['older', a],
  ['newer', b],
] as const)
  for (const [k, e] of g.by) {
    const t = k.slice(0, k.indexOf(' | '));
    const x = byType.get(t) ?? { older: 0, newer: 0 };
    x[which] += e.bytes;
    byType.set(t, x);
  }
console.log('\nby node type (MiB: older, newer, change)');
for (const [t, x] of [...byType].sort((p, q) => q[1].newer - q[1].older - (p[1].newer - p[1].older)))
  console.log(
    `${mib(x.older).padStart(8)} ${mib(x.newer).padStart(8)} ${mib(x.newer - x.older).padStart(8)}  ${t}`,
  );
const line = (r: (typeof rows)[number]) =>
  `${(r.dBytes / 1024).toFixed(1).padStart(9)} KiB ${String(r.dN).padStart(7)} ${String(r.n).padStart(7)}  ${r.k}`;
console.log('\ngrew most (KiB, count change, count in the newer)');
for (const r of rows.slice(0, top)) console.log(line(r));
console.log('\nshrank most');
for (const r of rows.slice(-Math.min(top, 10)).reverse()) console.log(line(r));
