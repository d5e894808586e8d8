import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { jobPlist } from './fixtures/plist-text.ts';
import { formatLintHuman, lintBytes, lintFile, lintJsonDocument } from './lint.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('lint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-lint-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a clean file is OK and loadable', () => {
    const r = lintBytes('com.example.job.plist', enc(jobPlist('')));
    assert.equal(r.loadable, true);
    assert.equal(r.verdict, 'valid');
    assert.equal(
      formatLintHuman([r]),
      'com.example.job.plist: OK\n1 file: 1 loadable, 0 refused; 0 errors, 0 warnings\n',
    );
  });
  it('a type warning keeps the file loadable but makes the corpus verdict invalid', () => {
    const r = lintBytes(
      'com.example.job.plist',
      enc(
        jobPlist(
          '<key>StartCalendarInterval</key><array><dict/><dict><key>Hour</key><integer>24</integer></dict></array>',
        ),
      ),
    );
    assert.equal(r.loadable, true);
    assert.equal(r.verdict, 'invalid');
    assert.equal(
      formatLintHuman([r]).split('\n')[0],
      'com.example.job.plist: warning: StartCalendarInterval[1].Hour: expected integer 0-23, got 24 (launchd ignores this calendar entry and loads the job)',
    );
  });
  it('an unknown key is a warning that leaves the verdict valid', () => {
    const r = lintBytes('com.example.job.plist', enc(jobPlist('<key>JetsamProperties</key><dict/>')));
    assert.equal(r.verdict, 'valid');
    assert.equal(r.issues.length, 1);
  });
  it('errors make the file not loadable; parse errors are reported with line and column', () => {
    const refused = lintBytes(
      'x.plist',
      enc(
        jobPlist(
          '',
          '<key>Label</key><string>com.apple.launchd.x</string><key>Program</key><string>/bin/x</string>',
        ),
      ),
    );
    assert.equal(refused.loadable, false);
    const broken = lintBytes('y.plist', enc('<plist><dict><!-- a -- b --></dict></plist>'));
    assert.equal(broken.loadable, false);
    assert.equal(broken.parseError?.code, 'not-well-formed');
    const text = formatLintHuman([refused, broken]);
    assert.match(
      text,
      /^x\.plist: error: Label: Label starts with the reserved prefix "com\.apple\.launchd" \(launchd refuses to load the job\)$/m,
    );
    assert.match(text, /^y\.plist: error: line 1, column 21: a comment contains "--"/m);
    assert.match(text, /^2 files: 0 loadable, 2 refused; 2 errors, 0 warnings$/m);
  });
  it('JSON is refused as launchd refuses it, unless allowed for the API', () => {
    const json = enc('{"Label": "com.example.job", "ProgramArguments": ["/bin/true"]}');
    const refused = lintBytes('com.example.job.plist', json);
    assert.equal(refused.loadable, false);
    assert.equal(refused.issues[0]?.code, 'not-launchd-format');
    assert.equal(lintBytes('com.example.job.plist', json, { allowJson: true }).loadable, true);
  });
  it('the JSON document is stable', () => {
    const doc = lintJsonDocument([
      lintBytes('com.example.job.plist', enc(jobPlist('<key>Nice</key><integer>99</integer>'))),
    ]);
    assert.equal(doc.version, 1);
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.summary, { files: 1, loadable: 1, errors: 0, warnings: 1 });
    assert.deepEqual(doc.files[0]?.issues[0], {
      severity: 'warning',
      code: 'out-of-range',
      keyPath: 'Nice',
      value: '99',
      expected: 'integer -20..20',
      message: 'expected integer -20..20, got 99 (launchd ignores this value and loads the job)',
      launchd: 'ignores-value',
    });
  });
  it('lintFile: missing files, directories and oversized files are errors, not exceptions', async () => {
    const missing = await lintFile(join(dir, 'nope.plist'));
    assert.equal(missing.parseError?.code, 'unreadable');
    mkdirSync(join(dir, 'sub.plist'));
    assert.equal((await lintFile(join(dir, 'sub.plist'))).parseError?.code, 'unreadable');
    const big = join(dir, 'big.plist');
    writeFileSync(big, Buffer.alloc(5000, 0x20));
    assert.equal((await lintFile(big, { parse: { maxBytes: 4096 } })).parseError?.code, 'too-large');
    const good = join(dir, 'com.example.job.plist');
    writeFileSync(good, jobPlist(''));
    const ok = await lintFile(good);
    assert.equal(ok.loadable, true);
    assert.deepEqual(ok.issues, []);
  });
});
