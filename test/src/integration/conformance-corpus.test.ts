// The job model against the third-party plist corpus beside the project (../shared/corpus),
// read in place and never copied. Runs the library and the real `launchfleet` CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseReasons, runConformanceFromFiles } from '@launchfleet/shared';
import { handbookDir, repoRoot } from '../support/paths.ts';

const corpus = join(handbookDir, 'corpus', 'plists');
const reasonsFile = join(repoRoot, 'test', 'conformance-reasons.tsv');
const cli = join(repoRoot, 'controller', 'bin', 'launchfleet.js');
const skip = existsSync(join(corpus, 'MANIFEST.tsv')) ? false : `no plist corpus at ${corpus}`;

describe('conformance over the plist corpus', { skip }, () => {
  it('no crash and no disagreement without a written reason', async () => {
    const report = await runConformanceFromFiles(corpus, join(corpus, 'MANIFEST.tsv'), reasonsFile);
    const bad = report.rows.filter(
      (r) =>
        r.outcome === 'crashed' ||
        r.outcome === 'missing' ||
        (r.outcome === 'disagree' && r.reason === undefined),
    );
    assert.deepEqual(bad, []);
    assert.equal(report.summary.crashed, 0);
    assert.ok(report.summary.agree > 250, `only ${report.summary.agree} files agree`);
    assert.deepEqual(report.summary.staleReasons, []);
    assert.equal(report.ok, true);
  });
  it('the reasons file is well-formed and every reason names a corpus file', () => {
    const reasons = parseReasons(readFileSync(reasonsFile, 'utf8'));
    for (const file of reasons.keys()) assert.ok(existsSync(join(corpus, file)), file);
  });
  it('launchfleet conformance exits 0 and prints the summary', () => {
    const r = spawnSync(process.execPath, [cli, 'conformance', corpus, '--reasons', reasonsFile], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^\d+ files: \d+ agree, 0 disagree \(0 with a written reason\), 0 crashed/m);
  });
  it('launchfleet lint: exit 0 for loadable files, 1 when one is refused, JSON on request', () => {
    const ok = ['apple-cron-40__com.vix.cron.plist', 'ios-mrjlovetian__com.apple.printd.plist'].map((f) =>
      join(corpus, f),
    );
    const good = spawnSync(process.execPath, [cli, 'lint', ...ok], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(good.status, 0, good.stderr + good.stdout);
    const refused = join(corpus, 'apple-ntp-37__org.ntp.ntpd.plist');
    const bad = spawnSync(process.execPath, [cli, 'lint', '--json', ...ok, refused], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(bad.status, 1, bad.stderr);
    const doc = JSON.parse(bad.stdout) as {
      ok: boolean;
      summary: { files: number; loadable: number };
      files: Array<{ parseError?: { line?: number } }>;
    };
    assert.equal(doc.ok, false);
    assert.deepEqual(doc.summary.files, 3);
    assert.equal(doc.summary.loadable, 2);
    assert.equal(doc.files[2]?.parseError?.line, 2);
  });
});
