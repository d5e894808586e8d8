/**
 * Validation issues: what is wrong with a job dictionary, where, and what launchd does about it.
 * Issues are values (docs/engineering.md: expected outcomes are not exceptions).
 */
import type { PlistValue } from './job-spec.ts';

/** `error`: the job is not loaded. `warning`: it loads, perhaps without the value. */
export type IssueSeverity = 'error' | 'warning';

/**
 * What launchd does with the problem (docs/launchd-semantics.md §1). `accepts` marks a rule Launchfleet adds
 * on top of launchd (a label that cannot become a file or subject name): launchd would load the job.
 */
export type LaunchdReaction =
  'refuses' | 'ignores-value' | 'ignores-key' | 'ignores-dict' | 'warns' | 'accepts';

/** Stable, kebab-case issue codes. Scripts match on these; never rename one. */
export type IssueCode =
  | 'not-a-dictionary'
  | 'missing-label'
  | 'invalid-label'
  | 'reserved-label'
  | 'unsafe-label'
  | 'missing-program'
  | 'program-not-absolute'
  | 'wrong-type'
  | 'out-of-range'
  | 'unknown-key'
  | 'key-case'
  | 'duplicate-key'
  | 'deprecated-key'
  | 'not-on-linux'
  | 'ignored-in-domain'
  | 'reserved-name'
  | 'meaningless-combination'
  | 'throttle-zero'
  | 'infinite-exit-timeout'
  | 'calendar-wildcard-quirk'
  | 'unknown-value'
  | 'file-name-mismatch'
  | 'not-launchd-format';

/** One problem in a job dictionary. */
export interface ValidationIssue {
  readonly severity: IssueSeverity;
  readonly code: IssueCode;
  /** Canonical key path: `StartCalendarInterval[1].Hour`, `Sockets.Listeners[0].SockType`. Empty for the root. */
  readonly keyPath: string;
  /** A short rendering of the offending value. */
  readonly value?: string;
  /** What was expected, in words: `integer 0-23`. */
  readonly expected?: string;
  /** A sentence that ends with what launchd does, in parentheses. */
  readonly message: string;
  readonly launchd: LaunchdReaction;
}

/**
 * Codes that mean "a documented key has the wrong type or range". The corpus manifest judges a
 * file `invalid` for these even where launchd only ignores the value (corpus README).
 */
export const typeOrRangeCodes: ReadonlySet<IssueCode> = new Set<IssueCode>(['wrong-type', 'out-of-range']);

/** True when the issue makes the corpus verdict `invalid`: any error, or a type/range problem on a documented key. */
export function makesInvalid(issue: ValidationIssue): boolean {
  return issue.severity === 'error' || typeOrRangeCodes.has(issue.code);
}

const reactionText: Record<LaunchdReaction, string> = {
  refuses: 'launchd refuses to load the job',
  'ignores-value': 'launchd ignores this value and loads the job',
  'ignores-key': 'launchd ignores this key and loads the job',
  'ignores-dict': 'launchd ignores this dictionary and loads the job',
  warns: 'launchd loads the job',
  accepts: 'launchd would load it, but Launchfleet refuses it',
};

/** The parenthetical that ends every message. */
export function describeReaction(reaction: LaunchdReaction, override?: string): string {
  return override ?? reactionText[reaction];
}

/** The plist type name of a value, as messages say it. */
export function typeName(v: PlistValue): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'real';
  if (v instanceof Date) return 'date';
  if (v instanceof Uint8Array) return 'data';
  if (Array.isArray(v)) return 'array';
  return 'dict';
}

/** A short rendering of a value for messages: strings quoted and clipped, containers summarised. */
export function renderValue(v: PlistValue): string {
  if (typeof v === 'string') {
    const clipped = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return JSON.stringify(clipped);
  }
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
    return typeof v === 'number' && !Number.isInteger(v) ? `real ${v}` : String(v);
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'date (invalid)' : `date ${v.toISOString()}`;
  if (v instanceof Uint8Array) return `data (${v.length} bytes)`;
  if (Array.isArray(v)) return `array (${v.length} ${v.length === 1 ? 'item' : 'items'})`;
  const n = Object.keys(v).length;
  return `dict (${n} ${n === 1 ? 'key' : 'keys'})`;
}

/** `string "yes"`, `real 1.5`, `dict (3 keys)`: the type, then the value, without repeating the type. */
export function describeGot(v: PlistValue): string {
  const type = typeName(v);
  const rendered = renderValue(v);
  return rendered.startsWith(type) ? rendered : `${type} ${rendered}`;
}

/** Collects issues while a dictionary is read. */
export class IssueList {
  readonly items: ValidationIssue[] = [];

  add(issue: {
    severity: IssueSeverity;
    code: IssueCode;
    keyPath: string;
    value?: PlistValue;
    expected?: string;
    what: string;
    launchd: LaunchdReaction;
    /** Replaces the standard "launchd ..." parenthetical. */
    because?: string;
  }): void {
    const out: ValidationIssue = {
      severity: issue.severity,
      code: issue.code,
      keyPath: issue.keyPath,
      ...(issue.value !== undefined ? { value: renderValue(issue.value) } : {}),
      ...(issue.expected !== undefined ? { expected: issue.expected } : {}),
      message: `${issue.what} (${describeReaction(issue.launchd, issue.because)})`,
      launchd: issue.launchd,
    };
    this.items.push(out);
  }

  /** A value of the wrong type: `expected bool, got string "yes"`. */
  wrongType(
    keyPath: string,
    value: PlistValue,
    expected: string,
    launchd: LaunchdReaction,
    severity: IssueSeverity = launchd === 'refuses' ? 'error' : 'warning',
    because?: string,
  ): void {
    this.add({
      severity,
      code: 'wrong-type',
      keyPath,
      value,
      expected,
      what: `expected ${expected}, got ${describeGot(value)}`,
      launchd,
      ...(because !== undefined ? { because } : {}),
    });
  }

  /** A value of the right type outside its range: `expected integer 0-23, got 24`. */
  outOfRange(
    keyPath: string,
    value: PlistValue,
    expected: string,
    launchd: LaunchdReaction,
    because?: string,
  ): void {
    this.add({
      severity: launchd === 'refuses' ? 'error' : 'warning',
      code: 'out-of-range',
      keyPath,
      value,
      expected,
      what: `expected ${expected}, got ${renderValue(value)}`,
      launchd,
      ...(because !== undefined ? { because } : {}),
    });
  }
}
