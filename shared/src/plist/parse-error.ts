/**
 * Why a byte string is not a property list we accept. A value, never thrown: `parsePlist`
 * returns it inside a `Result` so callers (lint, the agent's loader, the API) can report it.
 */

/** Stable, kebab-case reasons. */
export type PlistParseErrorCode =
  /** The input is larger than `maxBytes`. */
  | 'too-large'
  /** The file could not be read (missing, a directory, permission denied). */
  | 'unreadable'
  /** Zero bytes, or only whitespace. */
  | 'empty'
  /** The bytes are not valid in the text encoding (UTF-8 unless declared otherwise). */
  | 'invalid-encoding'
  /** Not well-formed XML (XML 1.0 rules; CoreFoundation tolerates some of these, launchd's judge here does not). */
  | 'not-well-formed'
  /** Well-formed XML or JSON, but not a property list (unknown element, `<true></true>`, missing value, ...). */
  | 'invalid-plist'
  /** A bplist00 file whose structure is broken (truncated, offsets or references out of range, cycles). */
  | 'invalid-binary'
  /** Not valid JSON. */
  | 'invalid-json'
  /** Nesting deeper than `maxDepth`. */
  | 'too-deep'
  /** More elements or objects than `maxNodes` (binary counts shared objects once per use). */
  | 'too-many-nodes';

/** The formats `parsePlist` recognises. */
export type PlistFormat = 'xml' | 'binary' | 'json';

/** A parse failure, with a location where one is known (1-based line and column for text, byte offset for binary). */
export interface PlistParseError {
  readonly code: PlistParseErrorCode;
  readonly message: string;
  readonly format?: PlistFormat;
  readonly line?: number;
  readonly column?: number;
  readonly offset?: number;
}

/** Renders an error as one line: `line 3, column 7: comment contains "--"`. */
export function formatParseError(e: PlistParseError): string {
  if (e.line !== undefined) return `line ${e.line}, column ${e.column ?? 0}: ${e.message}`;
  if (e.offset !== undefined) return `byte ${e.offset}: ${e.message}`;
  return e.message;
}

/**
 * Thrown only inside the plist parsers to unwind to `parsePlist`, which turns it back into a
 * value. It never escapes this folder.
 */
export class PlistParseFailure extends Error {
  readonly detail: PlistParseError;
  constructor(detail: PlistParseError) {
    super(detail.message);
    this.name = 'PlistParseFailure';
    this.detail = detail;
  }
}
