/**
 * Bytes to text for XML and JSON plists. UTF-8 unless a byte-order mark or the XML declaration
 * says otherwise; invalid bytes are an error with their offset, never silently replaced (a
 * replaced byte in a path or label would load a different job than the one written).
 */
import { PlistParseFailure } from './parse-error.ts';

/** Offset of the first byte that is not valid UTF-8, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= n) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

const latin1Labels = new Set(['iso-8859-1', 'latin1', 'iso_8859-1', 'windows-1252', 'cp1252']);

/** Decodes an XML or JSON plist. Throws PlistParseFailure (caught by parsePlist). */
export function decodeText(bytes: Uint8Array, format: 'xml' | 'json'): string {
  if (
    bytes.length >= 2 &&
    ((bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0xff && bytes[1] === 0xfe))
  ) {
    const label = bytes[0] === 0xfe ? 'utf-16be' : 'utf-16le';
    try {
      return new TextDecoder(label, { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new PlistParseFailure({
        code: 'invalid-encoding',
        format,
        message: `not valid ${label.toUpperCase()}`,
      });
    }
  }
  if (format === 'xml') {
    // The declaration is ASCII, so a Latin-1 view of the first bytes is enough to read it.
    const head = String.fromCharCode(...bytes.subarray(0, 200));
    const m = /^(?:\uFEFF|\xEF\xBB\xBF)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);
    const declared = m?.[1]?.toLowerCase();
    if (declared !== undefined && latin1Labels.has(declared)) {
      return new TextDecoder('windows-1252').decode(bytes);
    }
    if (declared !== undefined && !['utf-8', 'utf8', 'us-ascii', 'ascii'].includes(declared)) {
      throw new PlistParseFailure({
        code: 'invalid-encoding',
        format,
        line: 1,
        column: 1,
        message: `unsupported encoding "${declared}" (UTF-8, UTF-16 with a byte-order mark, and ISO-8859-1 are read)`,
      });
    }
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    throw new PlistParseFailure({
      code: 'invalid-encoding',
      format,
      offset: bad,
      message: `invalid UTF-8 at byte ${bad} (0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')})`,
    });
  }
  let text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}
