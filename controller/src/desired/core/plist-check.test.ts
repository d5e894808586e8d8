import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkJobPlist } from './plist-check.ts';

const plist = (body: string) => `<?xml version="1.0"?><plist version="1.0"><dict>${body}</dict></plist>`;
const ok = plist(
  '<key>Label</key><string>com.acme.backup</string><key>ProgramArguments</key><array><string>/bin/true</string></array>',
);

test('a loadable job passes with its label; warnings are kept', () => {
  const r = checkJobPlist(ok, 'system');
  assert.ok(r.ok);
  assert.equal(r.value.label, 'com.acme.backup');
  const w = checkJobPlist(ok.replace('</dict>', '<key>NoSuchKey</key><true/></dict>'), 'gui/*');
  assert.ok(w.ok);
  assert.ok(w.value.warnings.some((x) => x.includes('NoSuchKey')));
  const json = checkJobPlist('{"Label":"com.acme.j","ProgramArguments":["/bin/true"]}', 'user/501');
  assert.ok(json.ok, 'JSON plists are accepted by the API');
});

test('refusals say why, before anything is signed', () => {
  const cases: [string, string, RegExp][] = [
    ['', 'system', /empty/],
    ['<plist>', 'system', /does not parse/],
    [plist('<key>Label</key><string>x</string>'), 'system', /launchd would refuse/],
    [ok, 'gui/abc', /domain/],
    [ok, 'pid/1', /domain/],
    [
      plist('<key>Label</key><string></string><key>Program</key><string>/bin/true</string>'),
      'system',
      /Label|refuse/,
    ],
    ['x'.repeat(300 * 1024), 'system', /longer than/],
  ];
  for (const [text, domain, re] of cases) {
    const r = checkJobPlist(text, domain);
    assert.ok(!r.ok, `${text.slice(0, 40)} ${domain}`);
    assert.match(r.error, re);
  }
});
