/**
 * The checks of a job dictionary that put nothing into the spec: which top-level keys are
 * launchd's (unknown, miscased, repeated, deprecated, not on Linux), combinations that are legal
 * but do not do what they seem to, and the file's name. Each reports warnings only;
 * normalize-job.ts calls them in its one pass.
 */
import type { KeepAliveSpec, PlistDict, PlistValue } from './job-spec.ts';
import { lookupKey, suggestKey, type KeySpec } from './key-table.ts';
import { hasKeepAliveCondition } from './read-keep-alive.ts';
import type { ValueReader } from './value-reader.ts';

/** Matches top-level keys to launchd's, reporting unknown, deprecated, miscased and repeated keys. */
export function matchTopLevelKeys(r: ValueReader, dict: PlistDict): Map<string, PlistValue> {
  const out = new Map<string, PlistValue>();
  for (const [key, value] of Object.entries(dict)) {
    const spec = lookupKey(key);
    if (spec === undefined) {
      const suggestion = suggestKey(key);
      r.issues.add({
        severity: 'warning',
        code: 'unknown-key',
        keyPath: key,
        value,
        what: `"${key}" is not a launchd.plist(5) key${suggestion ? ` (did you mean ${suggestion}?)` : ''}; kept as written`,
        launchd: 'ignores-key',
      });
      continue;
    }
    if (spec.name !== key) {
      r.issues.add({
        severity: 'warning',
        code: 'key-case',
        keyPath: spec.name,
        what: `key spelled "${key}", launchd's spelling is "${spec.name}"`,
        launchd: 'warns',
        because: 'launchd matches keys case-insensitively and loads the job',
      });
    }
    if (out.has(spec.name)) {
      r.issues.add({
        severity: 'warning',
        code: 'duplicate-key',
        keyPath: spec.name,
        what: `"${key}" repeats ${spec.name} in another case; Launchfleet uses the first`,
        launchd: 'warns',
        because: 'launchd keeps one of them and loads the job',
      });
      continue;
    }
    out.set(spec.name, value);
    reportKeyStatus(r, spec);
  }
  return out;
}

function reportKeyStatus(r: ValueReader, spec: KeySpec): void {
  if (spec.deprecated !== undefined) {
    r.issues.add({
      severity: 'warning',
      code: 'deprecated-key',
      keyPath: spec.name,
      what: `${spec.name} is deprecated: ${spec.deprecated}${spec.mapsTo !== undefined ? `; Launchfleet maps it onto ${spec.mapsTo}` : ''}`,
      launchd: spec.name === 'OnDemand' ? 'warns' : 'ignores-key',
      ...(spec.name === 'OnDemand' ? { because: 'launchd still honours it and loads the job' } : {}),
    });
  }
  if (spec.notOnLinux !== undefined) {
    r.issues.add({
      severity: 'warning',
      code: 'not-on-linux',
      keyPath: spec.name,
      what: `${spec.name} has no effect under Launchfleet: ${spec.notOnLinux}`,
      launchd: 'warns',
    });
  }
}

/**
 * Combinations that are legal but do not do what they seem to (docs/launchd-semantics.md §1.2-§1.4,
 * behaviours 13 and 41).
 */
export function checkCombinations(
  r: ValueReader,
  keys: Map<string, PlistValue>,
  keepAlive: KeepAliveSpec,
  bools: Map<string, boolean>,
  strings: Map<string, string>,
): void {
  const note = (keyPath: string, what: string, launchd: 'warns' | 'ignores-key' = 'warns'): void =>
    r.issues.add({ severity: 'warning', code: 'meaningless-combination', keyPath, what, launchd });
  const domain = r.ctx.domain;
  if (strings.has('UserName') && (domain === 'gui' || domain === 'user')) {
    r.issues.add({
      severity: 'warning',
      code: 'ignored-in-domain',
      keyPath: 'UserName',
      what: "UserName is ignored for agents: they run as the domain's user",
      launchd: 'ignores-key',
    });
  }
  if (keys.has('InitGroups') && !strings.has('UserName')) {
    note('InitGroups', 'InitGroups is ignored when UserName is not set', 'ignores-key');
  }
  if (bools.get('LaunchOnlyOnce') === true && hasKeepAliveCondition(keepAlive)) {
    note(
      'LaunchOnlyOnce',
      'LaunchOnlyOnce with KeepAlive: the job runs once and is then removed, never kept alive',
    );
  }
  if (bools.get('EnablePressuredExit') === true && keepAlive.always) {
    note('EnablePressuredExit', 'EnablePressuredExit is not honoured when KeepAlive is true');
  }
  if (keys.has('inetdCompatibility') && !keys.has('Sockets')) {
    note('inetdCompatibility', 'inetdCompatibility without Sockets: there is no socket to hand to the job');
  }
  if (keepAlive.afterInitialDemand && (bools.get('RunAtLoad') === true || keys.has('StartInterval'))) {
    note(
      'KeepAlive.AfterInitialDemand',
      'AfterInitialDemand holds the job until its first real demand: RunAtLoad and StartInterval do not start it before that (behaviour 13)',
    );
  }
}

/** launchd.plist(5): the file should be named `<Label>.plist`. */
export function checkFileName(r: ValueReader, label: string | undefined): void {
  const fileName = r.ctx.fileName;
  if (fileName === undefined || label === undefined) return;
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  if (base === `${label}.plist`) return;
  r.issues.add({
    severity: 'warning',
    code: 'file-name-mismatch',
    keyPath: 'Label',
    value: base,
    expected: `${label}.plist`,
    what: `the file is named "${base}", launchd.plist(5) expects "${label}.plist"`,
    launchd: 'warns',
  });
}
