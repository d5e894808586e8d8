// Code comments point at docs/launchd-semantics.md by section (`§2.3`), behaviour (`row 7`), version
// question (`§7 D4`) and field observation (`E12`). This reads the document and the sources and checks
// that every such pointer lands on something the document has, that no source points at a document
// outside the repository, and that every file the document names exists.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchdKeys } from '../job/key-table.ts';

const DOC = 'docs/launchd-semantics.md';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, DOC)) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`${DOC} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

const root = repoRoot();
const doc = readFileSync(join(root, DOC), 'utf8');

/** Section numbers ("2", "2.3") with the text of each section (heading included), up to the next heading. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n');
  let current: string | undefined;
  for (const line of lines) {
    const m = /^#{2,3} (\d+(?:\.\d+)?)\.? /.exec(line);
    if (m?.[1] !== undefined) {
      current = m[1];
      out.set(current, `${line}\n`);
    } else if (current !== undefined) out.set(current, `${out.get(current) ?? ''}${line}\n`);
  }
  return out;
}

const docSections = sections(doc);
const behaviours = new Set(
  [...(docSections.get('6') ?? '').matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])),
);
const versionQuestions = new Set(
  [...(docSections.get('7') ?? '').matchAll(/^- \*\*D(\d+)\./gm)].map((m) => Number(m[1])),
);
const observations = new Set(
  [...(docSections.get('0.3') ?? '').matchAll(/^\| (E\d+) \|/gm)].map((m) => m[1]),
);

/** Source and documentation files of the project (not generated, built or installed ones). */
function projectFiles(): string[] {
  const skip = new Set(['node_modules', 'dist', 'build', 'gen', 'build-abi', '.tools', '.git']);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (skip.has(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|c|h|proto|md|mjs)$/.test(e.name)) out.push(p);
    }
  };
  for (const top of ['shared', 'node-agent', 'controller', 'test', 'proto', 'scripts']) walk(join(root, top));
  out.push(join(root, 'README.md'));
  return out;
}

/** `§N.M` pointers of a text, without those into other documents (XML 1.0 §2.11, ANCHORS §D.2). */
function sectionPointers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/§(\d+(?:\.\d+)?)/g)) {
    const before = text.slice(Math.max(0, (m.index ?? 0) - 16), m.index);
    if (/(XML 1\.0|ANCHORS[\w.-]*)\s*$/.test(before)) continue;
    if (m[1] !== undefined) out.push(m[1]);
  }
  return out;
}

const files = projectFiles().map((path) => ({
  path: relative(root, path),
  text: readFileSync(path, 'utf8'),
}));

describe(`${DOC}: the pointers in the code`, () => {
  it('the document has its sections, behaviours 1-44, D1-D21 and the E tags', () => {
    for (const n of ['0.3', '1', '1.1', '1.9', '2.1', '2.6', '3.3', '4.4', '5.4', '6', '7', '8'])
      assert.ok(docSections.has(n), `§${n}`);
    assert.deepEqual(
      [...behaviours],
      Array.from({ length: 44 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      [...versionQuestions],
      Array.from({ length: 21 }, (_, i) => i + 1),
    );
    assert.ok(observations.size > 0);
  });

  it('no file points at the spec outside the repository', () => {
    const bad = files.flatMap((f) =>
      f.text
        .split('\n')
        .map((line, i) => ({ line, at: `${f.path}:${i + 1}` }))
        .filter(({ line }) => /SPEC\.md|shared\/launchd|\bSPEC (§|D\d|rows?\b|behaviour)/.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    assert.deepEqual(bad, []);
  });

  it('every §, row, behaviour, D and E pointer lands on the document, and files with pointers name it', () => {
    const bad: string[] = [];
    let pointers = 0;
    for (const f of files) {
      if (f.path === DOC) continue;
      const secs = sectionPointers(f.text);
      const namesDoc = f.text.includes('launchd-semantics.md');
      if (secs.length > 0 && !namesDoc) bad.push(`${f.path}: § pointers without naming ${DOC}`);
      for (const s of secs) if (!docSections.has(s)) bad.push(`${f.path}: §${s} is not a section`);
      pointers += secs.length;
      if (!namesDoc) continue;
      for (const m of f.text.matchAll(/§7 D(\d+)((?:, D\d+)*)/g)) {
        for (const d of [m[1], ...(m[2] ?? '').split(', D').slice(1)]) {
          pointers++;
          if (!versionQuestions.has(Number(d))) bad.push(`${f.path}: §7 D${d} is not a version question`);
        }
      }
      for (const m of f.text.matchAll(/\b(?:rows?|behaviours?) (\d+(?:(?:-|\/|, | and )\d+)*)/g)) {
        for (const n of (m[1] ?? '').split(/-|\/|, | and /)) {
          pointers++;
          if (!behaviours.has(Number(n))) bad.push(`${f.path}: behaviour ${n} is not in §6`);
        }
      }
      for (const m of f.text.matchAll(/\b(E\d{1,2})\b/g)) {
        pointers++;
        if (!observations.has(m[1] ?? '')) bad.push(`${f.path}: ${m[1]} is not a field observation of §0.3`);
      }
    }
    assert.deepEqual(bad, []);
    assert.ok(pointers > 100, `only ${pointers} pointers found: is the walk reading the sources?`);
  });
});

describe(`${DOC}: what the document names`, () => {
  it('every repository path it names exists', () => {
    const paths = new Set(
      [
        ...doc.matchAll(
          /`((?:shared|node-agent|controller|test|docs|proto)\/[\w./-]+\.(?:ts|md|c|h|proto))`/g,
        ),
      ].map((m) => m[1] ?? ''),
    );
    assert.ok([...paths].filter((p) => p.endsWith('.test.ts')).length > 20);
    assert.deepEqual(
      [...paths].filter((p) => !existsSync(join(root, p))),
      [],
    );
  });

  it('every key of the key table is described in the section its `section` names', () => {
    const missing = launchdKeys
      .filter((k) => !(docSections.get(k.section) ?? '').includes(k.name))
      .map((k) => `${k.name} (§${k.section})`);
    assert.deepEqual(missing, []);
  });
});
