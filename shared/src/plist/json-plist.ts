/**
 * The plist data model written as JSON, for APIs. JSON has no <date>, <data> or null: dates and
 * data arrive as strings and null is refused. Integers beyond 2^53 cannot be carried exactly by
 * JSON.parse on Node 20, so they are refused rather than silently rounded.
 */
import type { PlistDict, PlistValue } from '../job/job-spec.ts';
import { PlistParseFailure } from './parse-error.ts';
import type { PlistLimits } from './parse-options.ts';
import { locate } from './xml-scanner.ts';

/** Parses JSON text as a plist value. Throws PlistParseFailure. */
export function parseJsonPlist(text: string, limits: PlistLimits): PlistValue {
  checkJsonShape(text, limits);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const at = /position (\d+)/.exec(message);
    const where = at?.[1] !== undefined ? locate(text, Number(at[1])) : undefined;
    throw new PlistParseFailure({
      code: 'invalid-json',
      format: 'json',
      message: `not valid JSON: ${message}`,
      ...where,
    });
  }
  return fromJson(parsed, '');
}

/** Bounds depth and value count before JSON.parse builds anything. */
function checkJsonShape(text: string, limits: PlistLimits): void {
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) {
        throw new PlistParseFailure({
          code: 'too-deep',
          format: 'json',
          message: `nesting deeper than ${limits.maxDepth} levels`,
          ...locate(text, i),
        });
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c || c === 0x3a) {
      if (++values > limits.maxNodes * 2) {
        throw new PlistParseFailure({
          code: 'too-many-nodes',
          format: 'json',
          message: `more than ${limits.maxNodes} values`,
        });
      }
    }
  }
}

function fromJson(v: unknown, path: string): PlistValue {
  const bad = (message: string): never => {
    throw new PlistParseFailure({
      code: 'invalid-plist',
      format: 'json',
      message: `${path || '(root)'}: ${message}`,
    });
  };
  if (v === null) return bad('null is not a property-list value');
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Number.isSafeInteger(v))
      return bad(`integer ${v} is too large for JSON input`);
    return v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x, i) => fromJson(x, `${path}[${i}]`));
  if (typeof v === 'object') {
    const out: PlistDict = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === '__proto__') return bad('the key "__proto__" is not supported');
      out[k] = fromJson(x, path ? `${path}.${k}` : k);
    }
    return out;
  }
  return bad(`unsupported JSON value`);
}
