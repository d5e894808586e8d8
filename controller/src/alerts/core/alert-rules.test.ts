import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertNames, alertSeverity, defaultAlertSettings, parseDurationMs } from './alert-rules.ts';

/** The alerts only an outside observer can raise: a controller cannot report its own absence. */
const outsideOnly = ['LaunchfleetControllerAbsent', 'LaunchfleetControllerDown'];

/** A file of the repository's deploy/ folder, found from this file up (src/ or dist/). */
function deployFile(...path: string[]): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'deploy', ...path);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  throw new Error(`deploy/${path.join('/')} not found above this file`);
}
const rulesFile = () => deployFile('prometheus', 'rules', 'launchfleet-alerts.yml');

/** Each rule's name, `for:` (undefined when absent) and severity label, in file order. */
function rules(text: string): { name: string; for: string | undefined; severity: string | undefined }[] {
  const out: { name: string; for: string | undefined; severity: string | undefined }[] = [];
  for (const line of text.split('\n')) {
    const alert = /^\s*- alert:\s*(\S+)\s*$/.exec(line);
    if (alert?.[1] !== undefined) out.push({ name: alert[1], for: undefined, severity: undefined });
    const cur = out[out.length - 1];
    if (!cur) continue;
    const f = /^\s+for:\s*(\S+)\s*$/.exec(line);
    if (f) cur.for = f[1];
    const sev = /^\s+severity:\s*(\S+)\s*$/.exec(line);
    if (sev) cur.severity = sev[1];
  }
  return out;
}

test('the controller raises every alert of the Prometheus rules except the two about controllers themselves', () => {
  const fromFile = rules(rulesFile());
  assert.ok(fromFile.length >= 10, 'the rules file parsed');
  for (const name of outsideOnly)
    assert.ok(
      fromFile.some((r) => r.name === name),
      name,
    );
  assert.deepEqual(
    [...alertNames].sort(),
    fromFile
      .map((r) => r.name)
      .filter((n) => !outsideOnly.includes(n))
      .sort(),
  );
});

test('each alert has the severity and, as its default hold-down, the `for:` of its rule', () => {
  for (const r of rules(rulesFile())) {
    const name = alertNames.find((n) => n === r.name);
    if (!name) continue;
    assert.equal(alertSeverity[name], r.severity, `${name} severity`);
    const d = parseDurationMs(r.for ?? '0');
    assert.ok(d.ok, `${name} for: ${r.for}`);
    assert.equal(defaultAlertSettings.holdDownMs[name], d.value, `${name} hold-down`);
  }
});

test('deploy/README.md "Alerts without Prometheus" names every alert the controller raises and the two it cannot', () => {
  const readme = deployFile('README.md');
  const start = readme.indexOf('## Alerts without Prometheus');
  assert.ok(start >= 0, 'the section exists');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const named = new Set(section.match(/Launchfleet[A-Za-z]+/g) ?? []);
  assert.deepEqual([...named].sort(), [...alertNames, ...outsideOnly].sort());
});
