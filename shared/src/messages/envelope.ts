/**
 * The envelope every Launchfleet message on NATS travels in, and hand-written runtime
 * validation helpers. Decoding never throws: malformed, oversized or unexpected input becomes
 * a `MessageError` value the caller reports (and, where it has a connection, turns into an event).
 *
 * Wire form (JSON, UTF-8): `{ "v": 1, "kind": "<kind>", "ts": <ms since epoch>, "body": {...} }`.
 * `v` is the schema version: a reader refuses a newer major it does not know rather than
 * guessing at fields.
 */
import { type Result, ok, err } from '../errors.ts';

/** The schema version this code writes and reads. */
export const schemaVersion = 1;

/** Default cap for a message we accept (bytes). Bundles have their own, larger cap. */
export const defaultMaxMessageBytes = 64 * 1024;

/** Why a message was refused. */
export interface MessageError {
  readonly code: 'oversized' | 'malformed' | 'unsupported-version' | 'wrong-kind' | 'invalid';
  readonly detail: string;
}

/** A decoded envelope; `body` is still unvalidated. */
export interface Envelope<K extends string = string> {
  readonly v: number;
  readonly kind: K;
  readonly ts: number;
  readonly body: unknown;
}

/** Encodes a message into its envelope bytes. */
export function encodeEnvelope(kind: string, ts: number, body: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: schemaVersion, kind, ts, body }));
}

/** Parses JSON bytes under a size cap; never throws. */
export function parseJsonBytes(data: Uint8Array | string, maxBytes: number): Result<unknown, MessageError> {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > maxBytes) return err({ code: 'oversized', detail: `${size} bytes > ${maxBytes}` });
  let text: string;
  try {
    text = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return err({ code: 'malformed', detail: 'not UTF-8' });
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (e) {
    return err({ code: 'malformed', detail: `not JSON: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** Decodes an envelope of the expected kind. */
export function decodeEnvelope<K extends string>(
  data: Uint8Array | string,
  kind: K,
  maxBytes = defaultMaxMessageBytes,
): Result<Envelope<K>, MessageError> {
  const parsed = parseJsonBytes(data, maxBytes);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (!isRecord(o)) return err({ code: 'malformed', detail: 'envelope is not an object' });
  if (typeof o['v'] !== 'number' || !Number.isInteger(o['v']))
    return err({ code: 'malformed', detail: 'envelope.v missing' });
  if (o['v'] !== schemaVersion)
    return err({
      code: 'unsupported-version',
      detail: `schema version ${o['v']}, this reader knows ${schemaVersion}`,
    });
  if (typeof o['kind'] !== 'string') return err({ code: 'malformed', detail: 'envelope.kind missing' });
  if (o['kind'] !== kind)
    return err({ code: 'wrong-kind', detail: `expected ${kind}, got ${o['kind'].slice(0, 64)}` });
  if (typeof o['ts'] !== 'number' || !Number.isFinite(o['ts']))
    return err({ code: 'malformed', detail: 'envelope.ts missing' });
  if (!('body' in o)) return err({ code: 'malformed', detail: 'envelope.body missing' });
  return ok({ v: o['v'], kind, ts: o['ts'], body: o['body'] });
}

/** A plain JSON object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads typed fields out of an unknown object, collecting every problem (so a refusal names
 * all of them). Call `done(value)` at the end.
 */
export class FieldReader {
  readonly #o: Record<string, unknown>;
  readonly #path: string;
  readonly problems: string[] = [];

  constructor(o: unknown, path = 'body') {
    this.#path = path;
    if (isRecord(o)) this.#o = o;
    else {
      this.#o = {};
      this.problems.push(`${path} is not an object`);
    }
  }

  /** A required string of at most `max` characters, optionally matching `pattern`. */
  string(name: string, max: number, pattern?: RegExp): string {
    const v = this.#o[name];
    if (typeof v !== 'string') return this.#bad(name, 'a string', '');
    if (v.length > max) return this.#bad(name, `at most ${max} characters`, '');
    if (pattern && !pattern.test(v)) return this.#bad(name, `matching ${String(pattern)}`, '');
    return v;
  }

  /** An optional string. */
  optString(name: string, max: number, pattern?: RegExp): string | undefined {
    return this.#o[name] === undefined ? undefined : this.string(name, max, pattern);
  }

  /** A required integer in [min, max]. */
  int(name: string, min: number, max: number): number {
    const v = this.#o[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      return this.#bad(name, `an integer in [${min}, ${max}]`, 0);
    return v;
  }

  /** An optional integer. */
  optInt(name: string, min: number, max: number): number | undefined {
    return this.#o[name] === undefined ? undefined : this.int(name, min, max);
  }

  /** A required boolean. */
  bool(name: string): boolean {
    const v = this.#o[name];
    if (typeof v !== 'boolean') return this.#bad(name, 'a boolean', false);
    return v;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const v = this.#o[name];
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
      return this.#bad(name, `one of ${values.join('|')}`, values[0] as T);
    return v as T;
  }

  /** A flat map of short strings to short strings (labels, tags, inventory facts). */
  stringMap(name: string, maxEntries: number, maxLen: number): Record<string, string> {
    const v = this.#o[name];
    if (v === undefined) return {};
    if (!isRecord(v)) return this.#bad(name, 'an object of strings', {});
    const entries = Object.entries(v);
    if (entries.length > maxEntries) return this.#bad(name, `at most ${maxEntries} entries`, {});
    const out: Record<string, string> = {};
    for (const [k, s] of entries) {
      if (k.length > maxLen || typeof s !== 'string' || s.length > maxLen)
        return this.#bad(name, `strings of at most ${maxLen} characters`, {});
      out[k] = s;
    }
    return out;
  }

  /** A nested value, returned as is for its own reader. */
  raw(name: string): unknown {
    return this.#o[name];
  }

  /** Finishes: the value if no problem was found. */
  done<T>(value: T): Result<T, MessageError> {
    if (this.problems.length > 0) return err({ code: 'invalid', detail: this.problems.join('; ') });
    return ok(value);
  }

  #bad<T>(name: string, want: string, fallback: T): T {
    this.problems.push(`${this.#path}.${name} must be ${want}`);
    return fallback;
  }
}
