/**
 * XML property lists, read by the strict scanner (xml-scanner.ts) alone: it already checks the
 * whole document (well-formedness, launchd's refusals, depth and node caps, with locations) and
 * decodes every key and leaf (the predefined entities, character references, CDATA sections,
 * XML line-end normalisation). This module turns its tree into values: exact integers (bigint
 * beyond 2^53), reals from their text, dates, data from base64.
 *
 * It used to hand the text to the `plist` package (xmldom) as well and merge the two views. The
 * agent parses every plist it loads, and that second parser cost it a DOM per plist while
 * loading and ~3 MB of resident memory for the libraries (test/bench/RESULTS.md, "Where the
 * memory goes"); plist-values.test.ts checks that the values are the ones `plist` reads. The
 * `plist` package stays the project's plist writer (build-plist.ts: `launchfleet jobs apply` and
 * `rollout start` turn a binary plist into the XML the API carries with it), which the agent
 * never loads.
 */
import type { PlistDict, PlistValue } from '../job/job-spec.ts';
import { PlistParseFailure } from './parse-error.ts';
import type { PlistLimits } from './parse-options.ts';
import { scanXmlPlist, type XNode } from './xml-scanner.ts';

/** Parses XML plist text. Throws PlistParseFailure; parsePlist turns it into a value. */
export function parseXmlPlist(text: string, limits: PlistLimits): PlistValue {
  return toValue(scanXmlPlist(text, limits));
}

/** Exact integer from plist text: a number when it is safe, a bigint otherwise. */
export function integerFromText(text: string): number | bigint {
  const negative = text.startsWith('-');
  const body = text.replace(/^[+-]/, '');
  let big = BigInt(body.startsWith('0x') || body.startsWith('0X') ? body : body.replace(/^0+(?=\d)/, ''));
  if (negative) big = -big;
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** A real from plist text (inf, infinity and nan in any case, as CoreFoundation reads them). */
export function realFromText(text: string): number {
  const t = text.toLowerCase().replace(/^\+/, '');
  if (t === 'nan' || t === '-nan') return NaN;
  if (t === 'inf' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  return parseFloat(text);
}

/**
 * A copy of a string that shares no memory with the document. V8 represents a long substring
 * (13+ characters) as a slice of its parent: a label kept for the job's lifetime would keep the
 * whole plist text alive. Concatenating and slicing again makes V8 flatten into a new string.
 */
function ownCopy(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** base64 (whitespace ignored, as CoreFoundation and `plist` do) to bytes. */
function dataFromText(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text.replace(/\s+/g, ''));
  } catch (e) {
    throw new PlistParseFailure({
      code: 'invalid-plist',
      format: 'xml',
      message: `not a property list: <data> is not base64: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function toValue(node: XNode): PlistValue {
  switch (node.kind) {
    case 'dict': {
      const out: PlistDict = {};
      for (const [key, child] of node.entries) out[key] = toValue(child);
      return out;
    }
    case 'array':
      return node.items.map(toValue);
    case 'integer':
      return integerFromText(node.text);
    case 'real':
      return realFromText(node.text);
    case 'bool':
      return node.value;
    case 'string':
      return ownCopy(node.text);
    case 'date':
      // The scanner checked the form (YYYY-MM-DDTHH:MM:SSZ) and that it parses.
      return new Date(node.text);
    case 'data':
      return dataFromText(node.text);
  }
}
