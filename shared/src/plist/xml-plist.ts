/**
 * XML property lists: the strict scanner (xml-scanner.ts) first, then the `plist` package builds
 * the values, then the two views are merged: `plist` supplies strings, data and dates; the
 * scanner supplies exact integers (bigint beyond 2^53) and reals. Any structural disagreement
 * between the two is reported as a parse error rather than guessed around.
 */
import { parse as plistParse } from 'plist';
import type { PlistDict, PlistValue } from '../job/job-spec.ts';
import { PlistParseFailure } from './parse-error.ts';
import type { PlistLimits } from './parse-options.ts';
import { locate, scanXmlPlist, type XNode } from './xml-scanner.ts';

/** Parses XML plist text. Throws PlistParseFailure; parsePlist turns it into a value. */
export function parseXmlPlist(text: string, limits: PlistLimits): PlistValue {
  const tree = scanXmlPlist(text, limits);
  let parsed: unknown;
  // xmldom reports through console.error/warn before plist turns a fatal error into an
  // exception; the exception (reported below) is what matters, so the call is kept quiet.
  // Synchronous, and restored in `finally`.
  const { error, warn } = console;
  console.error = console.warn = () => undefined;
  try {
    parsed = plistParse(text);
  } catch (e) {
    throw new PlistParseFailure({
      code: 'invalid-plist',
      format: 'xml',
      message: `not a property list: ${e instanceof Error ? e.message : String(e)}`,
    });
  } finally {
    console.error = error;
    console.warn = warn;
  }
  return merge(tree, parsed, text);
}

/** Exact integer from plist text: a number when it is safe, a bigint otherwise. */
export function integerFromText(text: string): number | bigint {
  const negative = text.startsWith('-');
  const body = text.replace(/^[+-]/, '');
  let big = BigInt(body.startsWith('0x') || body.startsWith('0X') ? body : body.replace(/^0+(?=\d)/, ''));
  if (negative) big = -big;
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function realFromText(text: string): number {
  const t = text.toLowerCase().replace(/^\+/, '');
  if (t === 'nan' || t === '-nan') return NaN;
  if (t === 'inf' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  return parseFloat(text);
}

function merge(node: XNode, parsed: unknown, text: string): PlistValue {
  const disagree = (): never => {
    const { line, column } = locate(text, node.offset);
    throw new PlistParseFailure({
      code: 'invalid-plist',
      format: 'xml',
      line,
      column,
      message: `the XML parser read <${node.kind}> here differently (unsupported construct)`,
    });
  };
  switch (node.kind) {
    case 'dict': {
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return disagree();
      const source = parsed as Record<string, unknown>;
      const out: PlistDict = {};
      for (const [key, child] of node.entries) {
        if (!Object.hasOwn(source, key)) return disagree();
        out[key] = merge(child, source[key], text);
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(parsed) || parsed.length !== node.items.length) return disagree();
      return node.items.map((child, i) => merge(child, parsed[i], text));
    }
    case 'integer':
      return integerFromText(node.text);
    case 'real':
      return realFromText(node.text);
    case 'bool':
      return node.value;
    case 'string':
      return typeof parsed === 'string' ? parsed : disagree();
    case 'date':
      return parsed instanceof Date && !Number.isNaN(parsed.getTime()) ? parsed : disagree();
    case 'data':
      return parsed instanceof Uint8Array ? Uint8Array.from(parsed) : disagree();
  }
}
