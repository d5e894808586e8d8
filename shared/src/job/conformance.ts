/**
 * Conformance: run the job model over a directory of plists and compare each verdict with a
 * MANIFEST.tsv (columns `file`, `format`, `kind`, `expected`, `note`, found by header name).
 * `expected` is `valid`, `invalid` or `unknown` (compare nothing). A disagreement is acceptable
 * only with a written reason (`file<TAB>reason`, e.g. test/conformance-reasons.tsv). A crash is
 * any exception out of the model, which must never happen whatever the input.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatParseError } from '../plist/parse-error.ts';
import type { DomainKind } from './job-spec.ts';
import { makesInvalid } from './issue.ts';
import { lintFile, type LintResult } from './lint.ts';

/** One manifest row. */
export interface ManifestRow {
  readonly file: string;
  readonly format: string;
  readonly kind: string;
  readonly expected: 'valid' | 'invalid' | 'unknown';
  readonly note: string;
}

/** The outcome for one file. */
export interface ConformanceRow {
  readonly file: string;
  readonly expected: 'valid' | 'invalid' | 'unknown' | 'unlisted';
  readonly actual?: 'valid' | 'invalid';
  /** `agree`, `disagree`, `skipped` (expected unknown or not in the manifest), `crashed`, `missing` (listed, absent). */
  readonly outcome: 'agree' | 'disagree' | 'skipped' | 'crashed' | 'missing';
  /** The written reason for a disagreement, if any. */
  readonly reason?: string;
  /** Why the model said invalid: the parse error or the first invalidating issue. */
  readonly why?: string;
  readonly crash?: string;
}

export interface ConformanceReport {
  readonly rows: readonly ConformanceRow[];
  readonly summary: {
    readonly files: number;
    readonly agree: number;
    readonly disagree: number;
    readonly explained: number;
    readonly crashed: number;
    readonly skipped: number;
    readonly missing: number;
    /** Reasons whose file now agrees (or is not in the run): candidates for deletion. */
    readonly staleReasons: readonly string[];
  };
  /** False on any crash, missing file, or disagreement without a written reason. */
  readonly ok: boolean;
}

/** Parses MANIFEST.tsv text. Throws InvalidArgument-style Error on a missing required column. */
export function parseManifest(text: string): ManifestRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split('\t');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`manifest has no "${name}" column`);
    return i;
  };
  const [file, format, kind, expected, note] = ['file', 'format', 'kind', 'expected', 'note'].map(col) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return lines.slice(1).map((line, n) => {
    const cells = line.split('\t');
    const e = cells[expected] ?? '';
    if (e !== 'valid' && e !== 'invalid' && e !== 'unknown') {
      throw new Error(`manifest line ${n + 2}: expected is "${e}", not valid/invalid/unknown`);
    }
    return {
      file: cells[file] ?? '',
      format: cells[format] ?? '',
      kind: cells[kind] ?? '',
      expected: e,
      note: cells[note] ?? '',
    };
  });
}

/** Parses a reasons file: `file<TAB>reason` lines; `#` comments and blank lines are skipped. */
export function parseReasons(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const tab = line.indexOf('\t');
    if (tab <= 0 || line.slice(tab + 1).trim() === '')
      throw new Error(`reasons: "${line}" is not file<TAB>reason`);
    out.set(line.slice(0, tab), line.slice(tab + 1).trim());
  }
  return out;
}

/** Which domain a manifest `kind` means. */
function domainOf(kind: string): DomainKind | undefined {
  if (kind === 'daemon') return 'system';
  if (kind === 'agent') return 'gui';
  return undefined;
}

/** Corpus files are named `<source>__<original name>`: launchd's file-name check is about the original. */
function originalName(file: string): string {
  const i = file.indexOf('__');
  return i >= 0 ? file.slice(i + 2) : file;
}

function whyInvalid(r: LintResult): string | undefined {
  if (r.parseError) return formatParseError(r.parseError);
  const first = r.issues.find(makesInvalid);
  return first ? `${first.keyPath === '' ? '(root)' : first.keyPath}: ${first.message}` : undefined;
}

/** Runs the model over `dir` and compares with the manifest. Reads files; never throws for a bad plist. */
export async function runConformance(
  dir: string,
  manifest: readonly ManifestRow[],
  reasons: ReadonlyMap<string, string> = new Map(),
): Promise<ConformanceReport> {
  const present = new Set(
    (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name),
  );
  const listed = new Map(manifest.map((m) => [m.file, m]));
  const rows: ConformanceRow[] = [];
  const names = [...new Set([...listed.keys(), ...present])].filter((n) => n !== 'MANIFEST.tsv').sort();
  for (const file of names) {
    const row = listed.get(file);
    if (!present.has(file)) {
      rows.push({ file, expected: row?.expected ?? 'unlisted', outcome: 'missing' });
      continue;
    }
    let result: LintResult;
    try {
      const domain = domainOf(row?.kind ?? '');
      result = await lintFile(join(dir, file), {
        fileName: originalName(file),
        ...(domain ? { domain } : {}),
      });
    } catch (e) {
      rows.push({
        file,
        expected: row?.expected ?? 'unlisted',
        outcome: 'crashed',
        crash: e instanceof Error ? (e.stack ?? e.message) : String(e),
      });
      continue;
    }
    const actual = result.verdict;
    const why = whyInvalid(result);
    const base = { file, actual, ...(why !== undefined ? { why } : {}) };
    if (row === undefined || row.expected === 'unknown') {
      rows.push({ ...base, expected: row?.expected ?? 'unlisted', outcome: 'skipped' });
    } else if (row.expected === actual) {
      rows.push({ ...base, expected: row.expected, outcome: 'agree' });
    } else {
      const reason = reasons.get(file);
      rows.push({
        ...base,
        expected: row.expected,
        outcome: 'disagree',
        ...(reason !== undefined ? { reason } : {}),
      });
    }
  }
  const count = (o: ConformanceRow['outcome']): number => rows.filter((r) => r.outcome === o).length;
  const disagreeing = rows.filter((r) => r.outcome === 'disagree');
  const explained = disagreeing.filter((r) => r.reason !== undefined).length;
  const disagreeSet = new Set(disagreeing.map((r) => r.file));
  const staleReasons = [...reasons.keys()].filter((f) => !disagreeSet.has(f));
  const summary = {
    files: rows.length,
    agree: count('agree'),
    disagree: disagreeing.length,
    explained,
    crashed: count('crashed'),
    skipped: count('skipped'),
    missing: count('missing'),
    staleReasons,
  };
  return {
    rows,
    summary,
    ok: summary.crashed === 0 && summary.missing === 0 && explained === disagreeing.length,
  };
}

/** The human report: a table of disagreements, crashes and missing files, then the summary line. */
export function formatConformanceHuman(report: ConformanceReport): string {
  const lines: string[] = [];
  const notable = report.rows.filter(
    (r) => r.outcome === 'disagree' || r.outcome === 'crashed' || r.outcome === 'missing',
  );
  if (notable.length > 0) {
    lines.push(['file', 'expected', 'actual', 'detail'].join('\t'));
    for (const r of notable) {
      const detail =
        r.outcome === 'crashed'
          ? `CRASH: ${(r.crash ?? '').split('\n')[0] ?? ''}`
          : r.outcome === 'missing'
            ? 'listed in the manifest but not in the directory'
            : r.reason !== undefined
              ? `reason: ${r.reason}`
              : `UNEXPLAINED${r.why !== undefined ? `: ${r.why}` : ''}`;
      lines.push([r.file, r.expected, r.actual ?? '-', detail].join('\t'));
    }
  }
  const s = report.summary;
  for (const f of s.staleReasons) lines.push(`note: the reason for ${f} is no longer needed`);
  lines.push(
    `${s.files} files: ${s.agree} agree, ${s.disagree} disagree (${s.explained} with a written reason), ${s.crashed} crashed` +
      (s.skipped > 0 ? `, ${s.skipped} not compared (expected unknown or unlisted)` : '') +
      (s.missing > 0 ? `, ${s.missing} missing` : ''),
  );
  return `${lines.join('\n')}\n`;
}

/** Reads the manifest and reasons files and runs the comparison. */
export async function runConformanceFromFiles(
  dir: string,
  manifestPath: string = join(dir, 'MANIFEST.tsv'),
  reasonsPath?: string,
): Promise<ConformanceReport> {
  const manifest = parseManifest(await readFile(manifestPath, 'utf8'));
  const reasons =
    reasonsPath === undefined ? new Map<string, string>() : parseReasons(await readFile(reasonsPath, 'utf8'));
  return runConformance(dir, manifest, reasons);
}
