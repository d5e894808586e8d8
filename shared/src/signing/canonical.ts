/**
 * The canonical byte encoding that signatures cover: JSON with object keys sorted by UTF-16
 * code unit order, no insignificant whitespace, integers only (no floats, no -0, no NaN),
 * strings as JSON.stringify writes them. Two values that are equal as data encode to the same
 * bytes, so the signer and the verifier never disagree about "what was signed".
 *
 * Signatures are also domain-separated: the signed bytes are `<context>\n<canonical JSON>`,
 * so a signature over a job bundle can never be replayed as a trust store update or the
 * reverse.
 */
import { type Result, ok, err } from '../errors.ts';

/** Signing contexts (domain separation). */
export const signingContexts = {
  bundle: 'launchfleet/job-bundle/v1',
  trustStore: 'launchfleet/trust-store/v1',
} as const;

export type SigningContext = (typeof signingContexts)[keyof typeof signingContexts];

/** Encodes a JSON-like value canonically; an unsupported value is an error, never a guess. */
export function canonicalJson(value: unknown): Result<string> {
  const parts: string[] = [];
  const problem = write(value, parts, 0);
  return problem === undefined ? ok(parts.join('')) : err(problem);
}

/** The exact bytes a signature covers. */
export function signedBytes(context: SigningContext, value: unknown): Result<Uint8Array> {
  const c = canonicalJson(value);
  if (!c.ok) return c;
  return ok(new TextEncoder().encode(`${context}\n${c.value}`));
}

function write(v: unknown, out: string[], depth: number): string | undefined {
  if (depth > 16) return 'nested too deeply';
  if (v === null) {
    out.push('null');
    return undefined;
  }
  switch (typeof v) {
    case 'string':
      out.push(JSON.stringify(v));
      return undefined;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return undefined;
    case 'number':
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) return `number ${v} is not a safe integer`;
      out.push(String(v));
      return undefined;
    case 'object': {
      if (Array.isArray(v)) {
        out.push('[');
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out.push(',');
          const p = write(v[i], out, depth + 1);
          if (p !== undefined) return p;
        }
        out.push(']');
        return undefined;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return 'only plain objects can be encoded';
      const rec = v as Record<string, unknown>;
      const names = Object.keys(rec)
        .filter((k) => rec[k] !== undefined)
        .sort();
      out.push('{');
      for (let i = 0; i < names.length; i++) {
        const k = names[i] as string;
        if (i > 0) out.push(',');
        out.push(JSON.stringify(k), ':');
        const p = write(rec[k], out, depth + 1);
        if (p !== undefined) return p;
      }
      out.push('}');
      return undefined;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return `a ${typeof v} cannot be encoded`;
  }
  return 'unsupported value';
}
