/**
 * Node ids and the reversible encoding of launchd labels into one NATS subject token / KV key
 * segment.
 *
 * A NATS token may not contain `.`, `*`, `>` or whitespace, and KV keys allow only
 * `[-/_=.a-zA-Z0-9]`. Labels are reverse-DNS (`com.acme.backup`) but launchd accepts almost
 * anything. Encoding: `[A-Za-z0-9-]` stand for themselves; every other UTF-8 byte, `_`
 * included, becomes `_XX` (two upper-case hex digits). So `com.acme.backup` ->
 * `com_2Eacme_2Ebackup`; the mapping is injective and `decodeLabelToken` inverts it exactly.
 */
import { type Result, ok, err } from '../errors.ts';

/** Longest label we accept (bytes of UTF-8); keeps keys and subjects bounded. */
export const maxLabelBytes = 255;

const plain = /^[A-Za-z0-9-]$/;

/** Encodes a label as one subject token. The label must be non-empty and at most `maxLabelBytes`. */
export function encodeLabelToken(label: string): string {
  let out = '';
  for (const ch of label) {
    if (plain.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of new TextEncoder().encode(ch)) out += `_${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Inverts `encodeLabelToken`; rejects anything `encodeLabelToken` cannot have produced. */
export function decodeLabelToken(token: string): Result<string> {
  if (token.length === 0) return err('empty label token');
  const bytes: number[] = [];
  for (let i = 0; i < token.length;) {
    const c = token[i] ?? '';
    if (c === '_') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return err(`bad escape at ${i}`);
      const b = parseInt(hex, 16);
      // A byte that would have been written plain is not a canonical escape.
      if (b < 0x80 && plain.test(String.fromCharCode(b))) return err(`non-canonical escape at ${i}`);
      bytes.push(b);
      i += 3;
    } else if (plain.test(c)) {
      bytes.push(c.charCodeAt(0));
      i += 1;
    } else {
      return err(`character ${JSON.stringify(c)} not allowed at ${i}`);
    }
  }
  let label: string;
  try {
    label = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return err('escapes are not valid UTF-8');
  }
  return checkLabel(label);
}

/** Checks that a label can be used in keys and subjects (non-empty, bounded, no control characters). */
export function checkLabel(label: string): Result<string> {
  if (label.length === 0) return err('label is empty');
  if (new TextEncoder().encode(label).length > maxLabelBytes)
    return err(`label longer than ${maxLabelBytes} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(label)) return err('label contains a control character');
  return ok(label);
}

/**
 * Node ids: `n` followed by 20 characters of lower-case RFC 4648 base32 (100 random bits).
 * One subject token, a valid KV key segment, and never equal to `controller` or to a
 * wildcard, so a node id can be pasted into a permission subject without escaping.
 */
export const nodeIdPattern = /^n[a-z2-7]{20}$/;

/** True for a well-formed node id. */
export function isNodeId(s: unknown): s is string {
  return typeof s === 'string' && nodeIdPattern.test(s);
}

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Makes a node id from at least 13 random bytes (the caller supplies randomness). */
export function nodeIdFromRandom(random: Uint8Array): string {
  if (random.length < 13) throw new RangeError('nodeIdFromRandom needs 13 random bytes');
  let bits = 0;
  let acc = 0;
  let out = 'n';
  for (const b of random) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 21) {
      out += base32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= 21) break;
  }
  return out;
}
