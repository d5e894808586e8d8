/**
 * `launchfleet lint` (and `lfctl lint`): plutil -lint plus launchd's rules. Two views of a file:
 * - `loadable`: launchd would load it (no parse error, no error-severity issue). The CLI's exit
 *   code is about this.
 * - `verdict`: the corpus judgement (docs/engineering.md, "The plist corpus"): `invalid` when not loadable,
 *   or when a documented key has the wrong type or range even though launchd only ignores it.
 */
import { readFile, stat } from 'node:fs/promises';
import { formatParseError, type PlistFormat, type PlistParseError } from '../plist/parse-error.ts';
import { resolveLimits, type PlistParseOptions } from '../plist/parse-options.ts';
import { parsePlist } from '../plist/parse-plist.ts';
import { makesInvalid, type ValidationIssue } from './issue.ts';
import type { DomainKind } from './job-spec.ts';
import { normalizeJob } from './normalize-job.ts';

export interface LintOptions {
  /** The domain the file is meant for (daemons: system; agents: gui or user). */
  readonly domain?: DomainKind;
  /** Accept JSON (Launchfleet's API format). launchd itself reads only XML and binary plists. */
  readonly allowJson?: boolean;
  /** The name to check against `<Label>.plist`; defaults to the file's own name. */
  readonly fileName?: string;
  readonly parse?: PlistParseOptions;
}

/** The lint result for one file. */
export interface LintResult {
  readonly file: string;
  readonly format?: PlistFormat;
  readonly parseError?: PlistParseError;
  readonly issues: readonly ValidationIssue[];
  /** launchd would load the job. */
  readonly loadable: boolean;
  /** The corpus-manifest view: `invalid` also for documented-key type/range problems. */
  readonly verdict: 'valid' | 'invalid';
}

/** Lints bytes already in memory. Never throws. */
export function lintBytes(file: string, bytes: Uint8Array, opts: LintOptions = {}): LintResult {
  const parsed = parsePlist(bytes, opts.parse);
  if (!parsed.ok) {
    return {
      file,
      ...(parsed.error.format !== undefined ? { format: parsed.error.format } : {}),
      parseError: parsed.error,
      issues: [],
      loadable: false,
      verdict: 'invalid',
    };
  }
  const { value, format } = parsed.value;
  const issues: ValidationIssue[] = [];
  if (format === 'json' && opts.allowJson !== true) {
    issues.push({
      severity: 'error',
      code: 'not-launchd-format',
      keyPath: '',
      value: 'JSON',
      expected: 'an XML or binary property list',
      message:
        'JSON is not a property-list format launchd reads ("Invalid property list", openradar 23486380); Launchfleet\'s API accepts it (launchd refuses to load the job)',
      launchd: 'refuses',
    });
  }
  const fileName = opts.fileName ?? file;
  const result = normalizeJob(value, { ...(opts.domain ? { domain: opts.domain } : {}), fileName });
  issues.push(...result.issues);
  const loadable = !issues.some((i) => i.severity === 'error');
  return { file, format, issues, loadable, verdict: issues.some(makesInvalid) ? 'invalid' : 'valid' };
}

/**
 * Reads and lints a file. An unreadable or oversized file is a parse error, not an exception;
 * an exception out of the model itself (a bug) is not caught here, so conformance counts it.
 */
export async function lintFile(path: string, opts: LintOptions = {}): Promise<LintResult> {
  const { maxBytes } = resolveLimits(opts.parse);
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (!st.isFile()) return readFailure(path, 'not a regular file');
    if (st.size > maxBytes) {
      return readFailure(path, `${st.size} bytes is more than the ${maxBytes}-byte limit`, 'too-large');
    }
    bytes = await readFile(path);
  } catch (e) {
    return readFailure(path, e instanceof Error ? e.message : String(e));
  }
  return lintBytes(path, bytes, opts);
}

function readFailure(
  file: string,
  message: string,
  code: 'too-large' | 'unreadable' = 'unreadable',
): LintResult {
  return {
    file,
    parseError: { code, message: code === 'unreadable' ? `cannot read: ${message}` : message },
    issues: [],
    loadable: false,
    verdict: 'invalid',
  };
}

/** The human-readable report: `path: OK`, or one line per problem, then a summary line. */
export function formatLintHuman(results: readonly LintResult[]): string {
  const lines: string[] = [];
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    if (r.parseError) {
      errors++;
      const tail = r.parseError.code === 'unreadable' ? '' : ' (launchd refuses to load the job)';
      lines.push(`${r.file}: error: ${formatParseError(r.parseError)}${tail}`);
      continue;
    }
    if (r.issues.length === 0) {
      lines.push(`${r.file}: OK`);
      continue;
    }
    for (const i of r.issues) {
      if (i.severity === 'error') errors++;
      else warnings++;
      lines.push(`${r.file}: ${i.severity}: ${i.keyPath === '' ? '(root)' : i.keyPath}: ${i.message}`);
    }
  }
  const loadable = results.filter((r) => r.loadable).length;
  lines.push(
    `${results.length} ${plural(results.length, 'file')}: ${loadable} loadable, ${results.length - loadable} refused; ` +
      `${errors} ${plural(errors, 'error')}, ${warnings} ${plural(warnings, 'warning')}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The stable JSON document for scripts (`--json`). */
export function lintJsonDocument(results: readonly LintResult[]): {
  readonly version: 1;
  readonly ok: boolean;
  readonly files: readonly LintResult[];
  readonly summary: {
    readonly files: number;
    readonly loadable: number;
    readonly errors: number;
    readonly warnings: number;
  };
} {
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    if (r.parseError) errors++;
    for (const i of r.issues) {
      if (i.severity === 'error') errors++;
      else warnings++;
    }
  }
  const loadable = results.filter((r) => r.loadable).length;
  return {
    version: 1,
    ok: loadable === results.length,
    files: results,
    summary: { files: results.length, loadable, errors, warnings },
  };
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}
