/**
 * Writing property lists. XML through the `plist` package's `build`. Binary through `plist`'s
 * `buildBinary` where it is exact, and `bplist-creator` where it is not: `buildBinary` writes
 * integers outside [-2^31, 2^32) as reals, bigints through a double, and only 1- or 2-byte
 * object references (so more than 65 536 objects corrupt the file).
 */
import bplistCreator from 'bplist-creator';
import { build, buildBinary, type PlistValue as LibValue } from 'plist';
import { InvalidArgumentError } from '../errors.ts';
import type { PlistValue } from '../job/job-spec.ts';

// eslint-disable-next-line no-control-regex -- these are exactly the characters XML 1.0 forbids
const invalidXmlChar = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

/**
 * An XML plist (UTF-8, Apple's DOCTYPE, tab indentation like CoreFoundation). Integral numbers
 * are written as <integer>, others as <real>. Throws InvalidArgumentError for a string or key
 * that XML 1.0 cannot carry (control characters), or for a non-finite real.
 */
export function buildXmlPlist(value: PlistValue): string {
  check(value, '');
  // plist's build writes any integral double as <integer> with toString(): 1e21 would become
  // "<integer>1e+21</integer>". Such doubles go out as the exact integer they hold.
  if (hasUnsafeIntegralDouble(value)) value = exactIntegers(value);
  // plist's build writes a bigint as <integer> at run time; its type just does not say so.
  return `${build(value as LibValue, { pretty: true, indent: '\t', newline: '\n' })}\n`;
}

/** A bplist00 document. Throws InvalidArgumentError for values no plist can carry. */
export function buildBinaryPlist(value: PlistValue): Uint8Array {
  const stats = { objects: 0, plistExact: true };
  scan(value, stats);
  if (stats.plistExact && stats.objects < 60_000) return buildBinary(value as LibValue);
  return new Uint8Array(bplistCreator(toCreator(value) as Record<string, unknown>));
}

function check(v: PlistValue, path: string): void {
  if (typeof v === 'string') {
    if (invalidXmlChar.test(v))
      throw new InvalidArgumentError(`${path || 'value'}: control character in string`, path);
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v))
      throw new InvalidArgumentError(`${path || 'value'}: ${v} cannot be written`, path);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => check(x, `${path}[${i}]`));
  } else if (typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) {
      if (invalidXmlChar.test(k)) throw new InvalidArgumentError(`${path}: control character in key`, path);
      check(x, path ? `${path}.${k}` : k);
    }
  }
}

function scan(v: PlistValue, stats: { objects: number; plistExact: boolean }): void {
  stats.objects++;
  if (typeof v === 'bigint') stats.plistExact = false;
  else if (typeof v === 'number' && Number.isInteger(v) && (v < -2147483648 || v > 4294967295))
    stats.plistExact = false;
  else if (Array.isArray(v)) v.forEach((x) => scan(x, stats));
  else if (typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    // Both libraries write a one-key dict {UID: n} as a keyed-archiver UID: avoid plist's path
    // for the common case only; see the report for the remaining edge.
    for (const [k, x] of Object.entries(v)) {
      stats.objects++;
      scan(x, stats);
      if (k === 'UID') stats.plistExact = false;
    }
  }
}

/** bplist-creator writes integral numbers as integers; non-integral ones must be wrapped as Real. */
function toCreator(v: PlistValue): unknown {
  if (typeof v === 'number' && !Number.isInteger(v)) return new bplistCreator.Real(v);
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(toCreator);
  if (typeof v === 'object' && !(v instanceof Date) && typeof v !== 'bigint') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCreator(x);
    return out;
  }
  return v;
}

function hasUnsafeIntegralDouble(v: PlistValue): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v);
  if (Array.isArray(v)) return v.some(hasUnsafeIntegralDouble);
  if (typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array) && typeof v !== 'bigint') {
    return Object.values(v).some(hasUnsafeIntegralDouble);
  }
  return false;
}

function exactIntegers(v: PlistValue): PlistValue {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(exactIntegers);
  if (typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array) && typeof v !== 'bigint') {
    const out: Record<string, PlistValue> = {};
    for (const [k, x] of Object.entries(v)) out[k] = exactIntegers(x);
    return out;
  }
  return v;
}
