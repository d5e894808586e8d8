/**
 * Typed reads of plist values that record an issue instead of failing. Every reader returns
 * `undefined` when the value cannot be used, after saying why.
 */
import { IssueList, type LaunchdReaction } from './issue.ts';
import type { DomainKind, PlistDict, PlistValue } from './job-spec.ts';

/** What validation may know about where the plist comes from. */
export interface JobContext {
  /** The domain the job is loaded into: some keys only apply to daemons or to agents. */
  readonly domain?: DomainKind;
  /** The plist's file name (base name or path): launchd expects `<Label>.plist`. */
  readonly fileName?: string;
}

/** Appends a dictionary key to a key path: `.Hour`, or `["com.example.name"]` for keys that are not identifiers. */
export function childPath(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** Appends an array index to a key path. */
export function indexPath(path: string, i: number): string {
  return `${path}[${i}]`;
}

export function isDict(v: PlistValue | undefined): v is PlistDict {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array)
  );
}

export function isInteger(v: PlistValue | undefined): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

/** Reads values for one job, collecting issues. */
export class ValueReader {
  readonly issues = new IssueList();
  readonly ctx: JobContext;

  constructor(ctx: JobContext) {
    this.ctx = ctx;
  }

  bool(path: string, v: PlistValue, launchd: LaunchdReaction = 'ignores-value'): boolean | undefined {
    if (typeof v === 'boolean') return v;
    this.issues.wrongType(path, v, 'bool', launchd);
    return undefined;
  }

  string(
    path: string,
    v: PlistValue,
    launchd: LaunchdReaction = 'ignores-value',
    expected = 'string',
  ): string | undefined {
    if (typeof v === 'string') return v;
    this.issues.wrongType(path, v, expected, launchd);
    return undefined;
  }

  /** An integer as a JS number; bigints outside the safe range are reported as out of range. */
  integer(
    path: string,
    v: PlistValue,
    launchd: LaunchdReaction = 'ignores-value',
    expected = 'integer',
  ): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'bigint') {
      this.issues.outOfRange(path, v, expected, launchd);
      return undefined;
    }
    this.issues.wrongType(path, v, expected, launchd);
    return undefined;
  }

  /** An integer checked against an inclusive range. */
  integerIn(
    path: string,
    v: PlistValue,
    min: number,
    max: number,
    launchd: LaunchdReaction = 'ignores-value',
  ): number | undefined {
    const expected = `integer ${min}..${max}`;
    const n = this.integer(path, v, launchd, expected);
    if (n === undefined) return undefined;
    if (n < min || n > max) {
      this.issues.outOfRange(path, n, expected, launchd);
      return undefined;
    }
    return n;
  }

  /** An array of strings; non-string elements are dropped with a warning. */
  stringArray(path: string, v: PlistValue, launchd: LaunchdReaction = 'ignores-value'): string[] | undefined {
    if (!Array.isArray(v)) {
      this.issues.wrongType(path, v, 'array of strings', launchd);
      return undefined;
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item === 'string') out.push(item);
      else this.issues.wrongType(indexPath(path, i), item, 'string', 'ignores-value');
    });
    return out;
  }

  /** A string, or an array of strings (LimitLoadToSessionType, AssociatedBundleIdentifiers). */
  stringOrArray(path: string, v: PlistValue): string[] | undefined {
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return this.stringArray(path, v);
    this.issues.wrongType(path, v, 'string or array of strings', 'ignores-value');
    return undefined;
  }

  dict(
    path: string,
    v: PlistValue,
    expected = 'dict',
    launchd: LaunchdReaction = 'ignores-value',
  ): PlistDict | undefined {
    if (isDict(v)) return v;
    this.issues.wrongType(path, v, expected, launchd);
    return undefined;
  }

  /**
   * Matches the keys of a sub-dictionary against known names, case-insensitively (launchd uses
   * strcasecmp there too). Unknown keys are warnings; the result is keyed by canonical name.
   */
  subKeys(
    path: string,
    dict: PlistDict,
    known: readonly string[],
    unknownReason = 'launchd ignores unknown keys',
  ): Map<string, PlistValue> {
    const out = new Map<string, PlistValue>();
    const byLower = new Map(known.map((name) => [name.toLowerCase(), name]));
    for (const [key, value] of Object.entries(dict)) {
      const canonical = byLower.get(key.toLowerCase());
      if (canonical === undefined) {
        this.issues.add({
          severity: 'warning',
          code: 'unknown-key',
          keyPath: childPath(path, key),
          value,
          what: `unknown key "${key}"; known here: ${known.join(', ')}`,
          launchd: 'ignores-key',
          because: unknownReason,
        });
        continue;
      }
      if (canonical !== key) {
        this.issues.add({
          severity: 'warning',
          code: 'key-case',
          keyPath: childPath(path, canonical),
          what: `key spelled "${key}", launchd's spelling is "${canonical}"`,
          launchd: 'warns',
          because: 'launchd matches keys case-insensitively and loads the job',
        });
      }
      if (out.has(canonical)) {
        this.issues.add({
          severity: 'warning',
          code: 'duplicate-key',
          keyPath: childPath(path, canonical),
          what: `"${key}" repeats ${canonical} in another case; the first one is used`,
          launchd: 'warns',
          because: 'launchd keeps one of them and loads the job',
        });
        continue;
      }
      out.set(canonical, value);
    }
    return out;
  }
}
