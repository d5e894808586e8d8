/**
 * Binary property lists (bplist00), read by one checking walk: every offset, size and object
 * reference is bounds-checked before it is read, cycles and exponential expansion of shared
 * objects are refused (the node cap counts each use of a shared object), "__proto__" keys and
 * duplicate keys are refused, and 8-byte integers beyond 2^53 come back as bigint. The values
 * are the ones the `plist` package's `parseBinary` reads from a valid file (plist-values.test.ts
 * compares them); that package trusts its input (no bounds or cycle checks), and loading it
 * costs the agent its XML DOM and builder libraries too (test/bench/RESULTS.md).
 */
import type { PlistDict, PlistValue } from '../job/job-spec.ts';
import { PlistParseFailure, type PlistParseErrorCode } from './parse-error.ts';
import type { PlistLimits } from './parse-options.ts';

const TRAILER = 32;
const HEADER = 8;
/** ms between 1970-01-01 and 2001-01-01 (CFAbsoluteTime's epoch). */
const EPOCH_2001 = 978307200000;

function fail(code: PlistParseErrorCode, message: string, offset?: number): never {
  throw new PlistParseFailure(
    offset === undefined ? { code, format: 'binary', message } : { code, format: 'binary', message, offset },
  );
}

/**
 * Parses a bplist00 document: walks the object graph from the top object (shared objects are
 * visited once per reference), checking every offset, size and reference before reading it.
 * Throws PlistParseFailure.
 */
export function parseBinaryPlist(bytes: Uint8Array, limits: PlistLimits): PlistValue {
  const len = bytes.length;
  if (len < HEADER + TRAILER + 1)
    fail('invalid-binary', `truncated: ${len} bytes is too short for a bplist00 file`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== 'bplist00') fail('invalid-binary', `unsupported binary plist version "${magic}"`, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const t = len - TRAILER;
  const offsetSize = view.getUint8(t + 6);
  const refSize = view.getUint8(t + 7);
  const numObjects = view.getBigUint64(t + 8);
  const topObject = view.getBigUint64(t + 16);
  const tableOffset = view.getBigUint64(t + 24);
  if (![1, 2, 4, 8].includes(offsetSize))
    fail('invalid-binary', `bad offset size ${offsetSize} in trailer`, t + 6);
  if (![1, 2, 4, 8].includes(refSize))
    fail('invalid-binary', `bad object reference size ${refSize} in trailer`, t + 7);
  if (numObjects === 0n) fail('invalid-binary', 'no objects', t + 8);
  if (numObjects > BigInt(limits.maxNodes)) {
    fail('too-many-nodes', `${numObjects} objects is more than ${limits.maxNodes}`, t + 8);
  }
  const count = Number(numObjects);
  if (topObject >= numObjects) fail('invalid-binary', `top object ${topObject} is out of range`, t + 16);
  if (tableOffset < BigInt(HEADER) || tableOffset + BigInt(count * offsetSize) > BigInt(t)) {
    fail('invalid-binary', `offset table at ${tableOffset} does not fit in the file`, t + 24);
  }
  const table = Number(tableOffset);
  const readUint = (at: number, size: number): number => {
    if (at + size > len) fail('invalid-binary', 'read past the end of the file', at);
    switch (size) {
      case 1:
        return view.getUint8(at);
      case 2:
        return view.getUint16(at);
      case 4:
        return view.getUint32(at);
      default: {
        const v = view.getBigUint64(at);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('invalid-binary', 'size or offset too large', at);
        return Number(v);
      }
    }
  };
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const o = readUint(table + i * offsetSize, offsetSize);
    if (o < HEADER || o >= table)
      fail('invalid-binary', `object ${i} offset ${o} is out of range`, table + i * offsetSize);
    offsets.push(o);
  }

  const onPath = new Set<number>();
  let visits = 0;

  const body = (at: number, marker: number): { start: number; size: number } => {
    let size = marker & 0x0f;
    let start = at + 1;
    if (size === 0x0f) {
      const ext = bytes[start];
      if (ext === undefined || ext >> 4 !== 0x1 || (ext & 0x0f) > 3)
        fail('invalid-binary', 'bad extended size', start);
      const n = 1 << (ext & 0x0f);
      size = readUint(start + 1, n);
      start += 1 + n;
    }
    return { start, size };
  };
  const need = (from: number, n: number, what: string): void => {
    if (n < 0 || from + n > table) fail('invalid-binary', `${what} runs past the object area`, from);
  };
  const ref = (at: number): number => {
    const r = readUint(at, refSize);
    if (r >= count) fail('invalid-binary', `object reference ${r} is out of range (${count} objects)`, at);
    return r;
  };

  const walk = (index: number, depth: number): PlistValue => {
    if (++visits > limits.maxNodes) {
      fail('too-many-nodes', `more than ${limits.maxNodes} values (counting each use of a shared object)`);
    }
    if (depth > limits.maxDepth) fail('too-deep', `nesting deeper than ${limits.maxDepth} levels`);
    const at = offsets[index] ?? fail('invalid-binary', `object ${index} missing`);
    const marker = view.getUint8(at);
    const type = marker >> 4;
    switch (type) {
      case 0x0:
        if (marker === 0x08 || marker === 0x09) return marker === 0x09;
        return fail(
          'invalid-binary',
          marker === 0 ? 'null is not a property-list value' : `unknown marker 0x${marker.toString(16)}`,
          at,
        );
      case 0x1: {
        const pow = marker & 0x0f;
        if (pow > 3) fail('invalid-binary', `${1 << pow}-byte integers are not supported`, at);
        const n = 1 << pow;
        need(at + 1, n, 'integer');
        // 1, 2 and 4-byte integers are unsigned, 8-byte ones signed (CFBinaryPList).
        if (n < 8) return readUint(at + 1, n);
        const v = view.getBigInt64(at + 1);
        return v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) ? v : Number(v);
      }
      case 0x2: {
        const pow = marker & 0x0f;
        if (pow !== 2 && pow !== 3) fail('invalid-binary', `${1 << pow}-byte reals are not supported`, at);
        need(at + 1, 1 << pow, 'real');
        return pow === 2 ? view.getFloat32(at + 1) : view.getFloat64(at + 1);
      }
      case 0x3:
        if (marker !== 0x33) fail('invalid-binary', `bad date marker 0x${marker.toString(16)}`, at);
        need(at + 1, 8, 'date');
        return new Date(view.getFloat64(at + 1) * 1000 + EPOCH_2001);
      case 0x4: {
        const { start, size } = body(at, marker);
        need(start, size, 'data');
        return new Uint8Array(bytes.subarray(start, start + size)); // a copy: no value aliases the input
      }
      case 0x5: {
        const { start, size } = body(at, marker);
        need(start, size, 'string');
        return stringAt(type, start, size);
      }
      case 0x6: {
        const { start, size } = body(at, marker);
        need(start, size * 2, 'string');
        return stringAt(type, start, size);
      }
      case 0xa:
      case 0xd: {
        const { start, size } = body(at, marker);
        const refs = type === 0xa ? size : size * 2;
        need(start, refs * refSize, type === 0xa ? 'array' : 'dictionary');
        if (onPath.has(index))
          fail('invalid-binary', `object ${index} contains itself (cyclic reference)`, at);
        onPath.add(index);
        let out: PlistValue;
        if (type === 0xa) {
          const items: PlistValue[] = [];
          for (let i = 0; i < size; i++) items.push(walk(ref(start + i * refSize), depth + 1));
          out = items;
        } else {
          const dict: PlistDict = {};
          for (let i = 0; i < size; i++) {
            const key = keyString(ref(start + i * refSize));
            if (key === '__proto__') fail('invalid-binary', 'the key "__proto__" is not supported', at);
            if (Object.hasOwn(dict, key)) fail('invalid-binary', `duplicate key "${key.slice(0, 40)}"`, at);
            dict[key] = walk(ref(start + (size + i) * refSize), depth + 1);
          }
          out = dict;
        }
        onPath.delete(index);
        return out;
      }
      default:
        return fail('invalid-binary', `object type 0x${type.toString(16)} is not a property-list value`, at);
    }
  };

  const keyString = (index: number): string => {
    if (++visits > limits.maxNodes) fail('too-many-nodes', `more than ${limits.maxNodes} values`);
    const at = offsets[index] ?? fail('invalid-binary', `object ${index} missing`);
    const marker = view.getUint8(at);
    const type = marker >> 4;
    if (type !== 0x5 && type !== 0x6) fail('invalid-binary', 'a dictionary key is not a string', at);
    const { start, size } = body(at, marker);
    need(start, type === 0x5 ? size : size * 2, 'key');
    return stringAt(type, start, size);
  };

  /** An ASCII (0x5, one byte per character) or UTF-16BE (0x6) string; bounds already checked. */
  const stringAt = (type: number, start: number, size: number): string => {
    let s = '';
    for (let i = 0; i < size; i++) {
      s += String.fromCharCode(type === 0x5 ? view.getUint8(start + i) : view.getUint16(start + i * 2));
    }
    return s;
  };

  return walk(Number(topObject), 0);
}
