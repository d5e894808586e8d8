/**
 * Profiling tool (issue 19): where a V8 heap snapshot's bytes are, without DevTools. Prints the
 * self size by node type, the largest (type, name) groups, and the compiled code (bytecode,
 * machine code, the function infos, scopes and feedback) attributed to the script it comes from,
 * summed per package (node:internal, @launchfleet/..., node_modules/<name>).
 *
 *   node test/dist/bench/heap-snapshot-top.js <file.heapsnapshot> [--top=N]
 *
 * Take the snapshot of the process to look at with `v8.writeHeapSnapshot()` (e.g. from a module
 * preloaded with --import, on a signal) or `node --heapsnapshot-signal=SIGUSR2`. Self sizes only:
 * what an object holds through others is not added up (no dominator tree).
 */
import { readFileSync } from 'node:fs';
import { intArg, parseArgs } from './bench-output.ts';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv.slice(2).find((a) => !a.startsWith('--'));
const { values } = parseArgs(process.argv.slice(2).filter((a) => a !== file));
if (!file) {
  console.error('usage: heap-snapshot-top.js <file.heapsnapshot> [--top=N]');
  process.exit(2);
}
const TOP = intArg(values, 'top', 25);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const nf = snap.snapshot.meta.node_fields;
const ef = snap.snapshot.meta.edge_fields;
const nodeTypes = snap.snapshot.meta.node_types[0];
const edgeTypes = snap.snapshot.meta.edge_types[0];
const N = nf.length;
const E = ef.length;
const iType = nf.indexOf('type');
const iName = nf.indexOf('name');
const iSize = nf.indexOf('self_size');
const iEdges = nf.indexOf('edge_count');
const eType = ef.indexOf('type');
const eName = ef.indexOf('name_or_index');
const eTo = ef.indexOf('to_node');
const { nodes, edges, strings } = snap;
const count = nodes.length / N;

const typeOf = (n: number): string => nodeTypes[nodes[n * N + iType] ?? 0] ?? '?';
const nameOf = (n: number): string => strings[nodes[n * N + iName] ?? 0] ?? '';
const sizeOf = (n: number): number => nodes[n * N + iSize] ?? 0;

// First edge of each node.
const firstEdge = new Uint32Array(count + 1);
for (let n = 0, e = 0; n < count; n++) {
  firstEdge[n] = e;
  e += (nodes[n * N + iEdges] ?? 0) * E;
}
firstEdge[count] = edges.length;
function* out(n: number): Generator<{ type: string; name: string; to: number }> {
  for (let e = firstEdge[n] ?? 0; e < (firstEdge[n + 1] ?? 0); e += E) {
    const t = edgeTypes[edges[e + eType] ?? 0] ?? '?';
    const raw = edges[e + eName] ?? 0;
    const name = t === 'element' || t === 'hidden' ? String(raw) : (strings[raw] ?? '');
    yield { type: t, name, to: (edges[e + eTo] ?? 0) / N };
  }
}

const mb = (b: number): string => (b / 1e6).toFixed(3).padStart(8);
let total = 0;
const byType = new Map<string, number>();
const byName = new Map<string, { size: number; n: number }>();
for (let n = 0; n < count; n++) {
  const s = sizeOf(n);
  total += s;
  const t = typeOf(n);
  byType.set(t, (byType.get(t) ?? 0) + s);
  const key = `${t} ${t === 'string' || t === 'concatenated string' ? '(strings)' : nameOf(n).slice(0, 60)}`;
  const g = byName.get(key) ?? { size: 0, n: 0 };
  g.size += s;
  g.n += 1;
  byName.set(key, g);
}
console.log(`${file}: ${count} nodes, ${mb(total)} MB self size in all`);
console.log('\nby node type (MB)');
for (const [t, s] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`${mb(s)}  ${t}`);
console.log(`\nlargest (type, name) groups (MB, count)`);
for (const [k, g] of [...byName].sort((a, b) => b[1].size - a[1].size).slice(0, TOP))
  console.log(`${mb(g.size)} ${String(g.n).padStart(7)}  ${k}`);

// Code by script: every SharedFunctionInfo's own size and what hangs off it for it alone (bytecode,
// scope info, its code), attributed to its script. A Script is a 'code' node named by its URL
// (file://..., node:...); a SharedFunctionInfo is a 'code' node with a 'script_or_debug_info' edge.
const perPackage = new Map<string, number>();
const perScript = new Map<string, number>();
// Edges to what belongs to one function (an outer ScopeInfo, shared, is left out).
const owned = new Set([
  'bytecode',
  'function_data',
  'scope_info',
  'feedback_metadata',
  'code',
  'name_or_scope_info',
]);
for (let n = 0; n < count; n++) {
  if (typeOf(n) !== 'code') continue;
  let script: string | undefined;
  let size = sizeOf(n);
  for (const e of out(n)) {
    if (e.name === 'script' || e.name === 'script_or_debug_info') script = nameOf(e.to) || '(unnamed script)';
    else if (owned.has(e.name) && typeOf(e.to) === 'code') size += sizeOf(e.to);
  }
  if (script === undefined) continue;
  perScript.set(script, (perScript.get(script) ?? 0) + size);
  perPackage.set(packageOf(script), (perPackage.get(packageOf(script)) ?? 0) + size);
}
console.log('\ncompiled code (function infos, bytecode, scopes, machine code) by package (MB)');
for (const [p, s] of [...perPackage].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${mb(s)}  ${p}`);
console.log('\n... by script (MB)');
for (const [p, s] of [...perScript].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${mb(s)}  ${p}`);

function packageOf(script: string): string {
  if (script.startsWith('node:') || !script.includes('/')) return 'node (built-in modules)';
  const nm = script.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = script.slice(nm + 'node_modules/'.length).split('/');
    return `node_modules/${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const m = /\/(node-agent|shared|controller|test)\/(?:dist|src)\/([^/]+)/.exec(script);
  return m ? `@launchfleet/${m[1]}/${m[2]}` : script;
}
