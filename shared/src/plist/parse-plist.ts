/**
 * The one entry point for reading a property list from bytes. The format is detected from the
 * content (`bplist00` magic; `{` or `[` after optional whitespace is JSON; anything else is
 * XML). Every failure, including an unexpected exception inside a dependency, comes back as a
 * `PlistParseError` value: this function never throws.
 */
import { err, ok, type Result } from '../errors.ts';
import type { PlistValue } from '../job/job-spec.ts';
import { parseBinaryPlist } from './binary-plist.ts';
import { parseJsonPlist } from './json-plist.ts';
import { PlistParseFailure, type PlistFormat, type PlistParseError } from './parse-error.ts';
import { resolveLimits, type PlistParseOptions } from './parse-options.ts';
import { decodeText } from './text-decode.ts';
import { parseXmlPlist } from './xml-plist.ts';

/** A parsed property list and the format it was written in. */
export interface ParsedPlist {
  readonly value: PlistValue;
  readonly format: PlistFormat;
}

/** Detects the format of a byte string without parsing it. */
export function detectPlistFormat(bytes: Uint8Array): PlistFormat {
  if (bytes.length >= 6 && String.fromCharCode(...bytes.subarray(0, 6)) === 'bplist') return 'binary';
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)
  )
    i++;
  return bytes[i] === 0x7b || bytes[i] === 0x5b ? 'json' : 'xml';
}

/** Parses XML, binary (bplist00) or JSON property-list bytes. Never throws. */
export function parsePlist(
  bytes: Uint8Array,
  opts?: PlistParseOptions,
): Result<ParsedPlist, PlistParseError> {
  const limits = resolveLimits(opts);
  if (bytes.length > limits.maxBytes) {
    return err({
      code: 'too-large',
      message: `${bytes.length} bytes is more than the ${limits.maxBytes}-byte limit`,
    });
  }
  if (bytes.length === 0) return err({ code: 'empty', message: 'empty file (0 bytes): not a property list' });
  const format = detectPlistFormat(bytes);
  try {
    if (format === 'binary') return ok({ value: parseBinaryPlist(bytes, limits), format });
    const text = decodeText(bytes, format);
    if (text.trim() === '')
      return err({ code: 'empty', format, message: 'only whitespace: not a property list' });
    const value = format === 'json' ? parseJsonPlist(text, limits) : parseXmlPlist(text, limits);
    return ok({ value, format });
  } catch (e) {
    if (e instanceof PlistParseFailure) return err(e.detail);
    // A dependency failed in a way the guards did not foresee (for example a RangeError from
    // deep recursion). Still a value: the input is what is wrong.
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return err({
      code: format === 'binary' ? 'invalid-binary' : 'invalid-plist',
      format,
      message: `unreadable: ${message}`,
    });
  }
}
