import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  formatConformanceHuman,
  parseManifest,
  parseReasons,
  runConformance,
  runConformanceFromFiles,
} from './conformance.ts';
import { jobPlist } from './fixtures/plist-text.ts';

const header = 'file\tsource_repo\tsource_path\tcommit_if_known\tformat\tkind\tkeys\texpected\tnote';
const row = (file: string, expected: string, kind = 'daemon'): string =>
  `${file}\tr\tp\t\txml\t${kind}\tLabel\t${expected}\tnote`;

describe('conformance', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lf-conf-'));
    writeFileSync(
      join(dir, 'a__com.example.ok.plist'),
      jobPlist(
        '',
        '<key>Label</key><string>com.example.ok</string><key>Program</key><string>/bin/x</string>',
      ),
    );
    writeFileSync(join(dir, 'b__bad-type.plist'), jobPlist('<key>Debug</key><dict/>'));
    writeFileSync(join(dir, 'c__broken.plist'), '<plist><dict>');
    writeFileSync(
      join(dir, 'd__template.plist'),
      jobPlist('<key>Program</key><string>%PREFIX%/bin/x</string>'),
    );
    writeFileSync(join(dir, 'e__unlisted.plist'), jobPlist(''));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees, skips unknown and unlisted rows, and reports missing files', async () => {
    const manifest = parseManifest(
      [
        header,
        row('a__com.example.ok.plist', 'valid'),
        row('b__bad-type.plist', 'invalid'),
        row('c__broken.plist', 'invalid'),
        row('d__template.plist', 'unknown'),
        row('z__gone.plist', 'valid'),
      ].join('\n'),
    );
    const report = await runConformance(dir, manifest);
    const outcome = Object.fromEntries(report.rows.map((r) => [r.file, r.outcome]));
    assert.deepEqual(outcome, {
      'a__com.example.ok.plist': 'agree',
      'b__bad-type.plist': 'agree',
      'c__broken.plist': 'agree',
      'd__template.plist': 'skipped',
      'e__unlisted.plist': 'skipped',
      'z__gone.plist': 'missing',
    });
    assert.equal(report.ok, false, 'a missing file fails the run');
  });
  it('a disagreement fails unless it has a written reason; stale reasons are noted', async () => {
    const manifest = parseManifest(
      [header, row('a__com.example.ok.plist', 'invalid'), row('b__bad-type.plist', 'invalid')].join('\n'),
    );
    const unexplained = await runConformance(dir, manifest);
    assert.equal(unexplained.ok, false);
    assert.equal(unexplained.summary.disagree, 1);
    assert.match(
      formatConformanceHuman(unexplained),
      /a__com\.example\.ok\.plist\tinvalid\tvalid\tUNEXPLAINED/,
    );
    const reasons = parseReasons(
      '# comment\na__com.example.ok.plist\tjudged differently, argued in the design notes\nb__bad-type.plist\tno longer needed\n',
    );
    const explained = await runConformance(dir, manifest, reasons);
    assert.equal(explained.ok, true);
    assert.deepEqual(explained.summary.staleReasons, ['b__bad-type.plist']);
    const text = formatConformanceHuman(explained);
    assert.match(text, /reason: judged differently/);
    assert.match(text, /1 disagree \(1 with a written reason\), 0 crashed/);
  });
  it('reads manifest and reasons from files, and rejects malformed ones', async () => {
    writeFileSync(join(dir, 'MANIFEST.tsv'), [header, row('a__com.example.ok.plist', 'valid')].join('\n'));
    const report = await runConformanceFromFiles(dir);
    assert.equal(report.summary.agree, 1);
    assert.throws(() => parseManifest('file\tnote\nx\ty'), /no "format" column/);
    assert.throws(() => parseManifest([header, row('x', 'maybe')].join('\n')), /not valid\/invalid\/unknown/);
    assert.throws(() => parseReasons('just-a-file\n'), /file<TAB>reason/);
  });
});
