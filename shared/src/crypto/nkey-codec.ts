/**
 * The NATS nkey text encoding, so keys can be read and written without the pure-JavaScript
 * `@nats-io/nkeys` library (which re-derives the key pair on every call; see native-nkeys.ts).
 *
 * An encoded key is base32 (RFC 4648 alphabet, no padding) of
 * `prefix bytes || payload || crc16(prefix bytes || payload)` with the CRC-16/XMODEM
 * checksum little-endian. A public key has one prefix byte (the role); a seed has two, the
 * seed marker and the role packed so the text starts with `S` followed by the role letter
 * (`SO…`, `SA…`, `SU…`). Decoding returns error values, never throws: the text may come from
 * a file or a request.
 */
import { type Result, ok, err } from '../errors.ts';

/** Prefix bytes (the role, or the seed/private marker) as nkeys defines them. */
export const nkeyPrefix = {
  seed: 18 << 3, // 'S'
  privateKey: 15 << 3, // 'P'
  operator: 14 << 3, // 'O'
  server: 13 << 3, // 'N'
  cluster: 2 << 3, // 'C'
  account: 0, // 'A'
  user: 20 << 3, // 'U'
  curve: 23 << 3, // 'X'
} as const;

/** The roles a signing key (an Ed25519 seed) may have. */
export type NkeyRole = 'operator' | 'account' | 'user' | 'server' | 'cluster';

const roleByByte = new Map<number, NkeyRole>([
  [nkeyPrefix.operator, 'operator'],
  [nkeyPrefix.account, 'account'],
  [nkeyPrefix.user, 'user'],
  [nkeyPrefix.server, 'server'],
  [nkeyPrefix.cluster, 'cluster'],
]);

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const alphabetIndex = new Int8Array(128).fill(-1);
for (let i = 0; i < alphabet.length; i++) alphabetIndex[alphabet.charCodeAt(i)] = i;

/** CRC-16/XMODEM (polynomial 0x1021, initial 0), table built once. */
const crcTable = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  crcTable[i] = c;
}

/** The nkeys checksum of `bytes`. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (crcTable[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** Base32 without padding, as nkeys writes it. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31];
  return out;
}

/** Decodes base32 without padding; undefined on a character outside the alphabet. */
export function base32Decode(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const v = code < 128 ? (alphabetIndex[code] ?? -1) : -1;
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** Encodes `prefix bytes || payload` with its checksum. */
function encodeRaw(prefix: readonly number[], payload: Uint8Array): string {
  const raw = new Uint8Array(prefix.length + payload.length + 2);
  raw.set(prefix, 0);
  raw.set(payload, prefix.length);
  const sum = crc16(raw.subarray(0, raw.length - 2));
  raw[raw.length - 2] = sum & 0xff;
  raw[raw.length - 1] = sum >> 8;
  const text = base32Encode(raw);
  raw.fill(0);
  return text;
}

/** The text of a seed: 32 raw bytes with the seed marker and `role`. */
export function encodeSeed(role: NkeyRole, seed32: Uint8Array): Result<string> {
  if (seed32.length !== 32) return err(`an nkey seed is 32 bytes, not ${seed32.length}`);
  const r = nkeyPrefix[role];
  return ok(encodeRaw([nkeyPrefix.seed | (r >> 5), (r & 31) << 3], seed32));
}

/** The text of a public key (`O…`, `A…`, `U…`) from its 32 raw bytes. */
export function encodePublicKey(role: NkeyRole, publicKey32: Uint8Array): string {
  return encodeRaw([nkeyPrefix[role]], publicKey32);
}

/** The text of a private key (`P…`): raw seed followed by raw public key, as nkeys writes it. */
export function encodePrivateKey(seed32: Uint8Array, publicKey32: Uint8Array): string {
  const both = new Uint8Array(64);
  both.set(seed32, 0);
  both.set(publicKey32, 32);
  const text = encodeRaw([nkeyPrefix.privateKey], both);
  both.fill(0);
  return text;
}

/** Base32 and checksum of an encoded key; returns the bytes before the checksum. */
function decodeRaw(text: string): Result<Uint8Array> {
  if (text.length < 4) return err('not an nkey: too short');
  // A seed is 58 characters and a public key 56; anything far longer is not a key.
  if (text.length > 256) return err('not an nkey: too long');
  const raw = base32Decode(text);
  if (!raw) return err('not an nkey: invalid base32');
  if (raw.length < 3) return err('not an nkey: too short');
  const body = raw.subarray(0, raw.length - 2);
  const sum = (raw[raw.length - 2] ?? 0) | ((raw[raw.length - 1] ?? 0) << 8);
  if (crc16(body) !== sum) return err('not an nkey: checksum mismatch');
  return ok(body);
}

/** A decoded seed: its role and 32 raw bytes (the caller zeroes them when done). */
export interface DecodedSeed {
  readonly role: NkeyRole;
  readonly seed32: Uint8Array;
}

/** Decodes the text of an Ed25519 seed (`S` + role letter). Curve (`SX…`) seeds are refused. */
export function decodeSeed(text: string): Result<DecodedSeed> {
  const body = decodeRaw(text);
  if (!body.ok) return body;
  const b = body.value;
  const b0 = b[0] ?? 0;
  const b1 = b[1] ?? 0;
  if ((b0 & 0xf8) !== nkeyPrefix.seed) {
    b.fill(0);
    return err('not an nkey seed');
  }
  const roleByte = ((b0 & 7) << 5) | ((b1 & 0xf8) >> 3);
  const role = roleByByte.get(roleByte);
  if (role === undefined) {
    b.fill(0);
    return err(roleByte === nkeyPrefix.curve ? 'curve keys cannot sign' : 'nkey seed with an unknown role');
  }
  if (b.length !== 34) {
    b.fill(0);
    return err(`nkey seed of ${b.length - 2} bytes, not 32`);
  }
  const seed32 = b.slice(2);
  b.fill(0);
  return ok({ role, seed32 });
}

/** Decodes the text of a public key (`O…`, `A…`, `U…`, `N…`, `C…`). */
export function decodePublicKey(text: string): Result<{ role: NkeyRole; publicKey32: Uint8Array }> {
  const body = decodeRaw(text);
  if (!body.ok) return body;
  const b = body.value;
  const role = roleByByte.get(b[0] ?? -1);
  if (role === undefined) return err('not an nkey public key');
  if (b.length !== 33) return err(`nkey public key of ${b.length - 1} bytes, not 32`);
  return ok({ role, publicKey32: b.slice(1) });
}
