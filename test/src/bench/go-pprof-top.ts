/**
 * `node test/dist/bench/go-pprof-top.js <profile.pb.gz>... [--top 25]`: the top functions of Go
 * CPU profiles (nats-server's `/debug/pprof/profile`, enabled in the fleet bench with
 * LF_BENCH_NATS_PROF_PORT; several captures are summed, e.g. consecutive ones over a benchmark
 * phase), self and cumulative, without a Go toolchain: a Go profile carries
 * its function names, so a small protobuf reader is enough.
 *
 * profile.proto (github.com/google/pprof): Profile { 1 sample_type, 2 sample, 4 location,
 * 5 function, 6 string_table }; Sample { 1 location_id (packed), 2 value (packed) };
 * Location { 1 id, 4 line }; Line { 1 function_id }; Function { 1 id, 2 name }. The first
 * Line of a Location is the innermost (inlined) function.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

interface Field {
  readonly no: number;
  readonly wire: number;
  readonly int: bigint;
  readonly bytes: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated varint');
      r |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return r;
      shift += 7n;
    }
  };
  const empty = new Uint8Array(0);
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, int: varint(), bytes: empty };
    else if (wire === 2) {
      const len = Number(varint());
      yield { no, wire, int: 0n, bytes: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function packedOrOne(f: Field): bigint[] {
  if (f.wire === 0) return [f.int];
  const out: bigint[] = [];
  for (const g of fields(prefixAsVarints(f.bytes))) out.push(g.int);
  return out;
}

/** Re-reads packed varints as a sequence of field-1 varints (key byte 0x08 before each). */
function prefixAsVarints(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = true;
  for (const byte of b) {
    if (start) out.push(0x08);
    out.push(byte);
    start = (byte & 0x80) === 0;
  }
  return Uint8Array.from(out);
}

const args = process.argv.slice(2);
const topArg = args.indexOf('--top');
const top = topArg >= 0 ? Number(args[topArg + 1]) : 25;
const files = args.filter((a, i) => a !== '--top' && i !== topArg + 1);
if (files.length === 0) {
  console.error('usage: go-pprof-top.js <profile.pb.gz>... [--top N]   (several profiles are summed)');
  process.exit(2);
}

const self = new Map<string, number>();
const cum = new Map<string, number>();
let total = 0;
let sampleCount = 0;
let valueName = '?';
for (const file of files) {
  const raw = readFileSync(file);
  const buf = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const strings: string[] = [];
  const samples: { locs: bigint[]; values: bigint[] }[] = [];
  const locations = new Map<bigint, bigint[]>(); // location id -> function ids, innermost first
  const functions = new Map<bigint, bigint>(); // function id -> name string index
  const sampleTypes: bigint[] = [];
  for (const f of fields(buf)) {
    if (f.no === 6) strings.push(new TextDecoder().decode(f.bytes));
    else if (f.no === 1) {
      for (const g of fields(f.bytes)) if (g.no === 1) sampleTypes.push(g.int);
    } else if (f.no === 2) {
      const s = { locs: [] as bigint[], values: [] as bigint[] };
      for (const g of fields(f.bytes)) {
        if (g.no === 1) s.locs.push(...packedOrOne(g));
        else if (g.no === 2) s.values.push(...packedOrOne(g));
      }
      samples.push(s);
    } else if (f.no === 4) {
      let id = 0n;
      const fns: bigint[] = [];
      for (const g of fields(f.bytes)) {
        if (g.no === 1) id = g.int;
        else if (g.no === 4) {
          for (const h of fields(g.bytes)) if (h.no === 1) fns.push(h.int);
        }
      }
      locations.set(id, fns);
    } else if (f.no === 5) {
      let id = 0n;
      let name = 0n;
      for (const g of fields(f.bytes)) {
        if (g.no === 1) id = g.int;
        else if (g.no === 2) name = g.int;
      }
      functions.set(id, name);
    }
  }
  // The CPU time value: the sample type named "cpu" (nanoseconds), else the last one.
  const typeNames = sampleTypes.map((t) => strings[Number(t)] ?? '');
  const vi = Math.max(0, typeNames.indexOf('cpu')) || sampleTypes.length - 1;
  valueName = typeNames[vi] ?? '?';
  const nameOf = (fid: bigint): string => strings[Number(functions.get(fid) ?? 0n)] ?? '?';
  for (const s of samples) {
    const v = Number(s.values[vi] ?? 0n);
    total += v;
    const stack = s.locs.flatMap((l) => locations.get(l) ?? []).map(nameOf);
    if (stack[0]) self.set(stack[0], (self.get(stack[0]) ?? 0) + v);
    for (const fn of new Set(stack)) cum.set(fn, (cum.get(fn) ?? 0) + v);
  }
  sampleCount += samples.length;
}
const pct = (v: number): string => `${((100 * v) / Math.max(1, total)).toFixed(1).padStart(5)} %`;
console.log(
  `total ${(total / 1e9).toFixed(2)} s of ${valueName} in ${sampleCount} samples from ${files.length} profile(s)`,
);
console.log('\nself (innermost function):');
for (const [fn, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${fn}`);
console.log('\ncumulative (on the stack):');
for (const [fn, v] of [...cum].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${fn}`);
