import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesSelector, parseSelector } from './selector.ts';

const parse = (t: string) => {
  const r = parseSelector(t);
  assert.ok(r.ok, `${t}: ${r.ok ? '' : r.error}`);
  return r.value;
};

test('parses every requirement form and normalises the text', () => {
  const s = parse(' os = macos , site!=ams,gpu, !lab ,tier==prod');
  assert.deepEqual(s.requirements, [
    { op: 'eq', key: 'os', value: 'macos' },
    { op: 'ne', key: 'site', value: 'ams' },
    { op: 'exists', key: 'gpu' },
    { op: 'absent', key: 'lab' },
    { op: 'eq', key: 'tier', value: 'prod' },
  ]);
  assert.equal(s.text, 'os=macos,site!=ams,gpu,!lab,tier=prod');
  assert.deepEqual(parse('team=').requirements, [{ op: 'eq', key: 'team', value: '' }]);
});

test('matching: table of labels x selector', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['os=macos', { os: 'macos' }, true],
    ['os=macos', { os: 'linux' }, false],
    ['os=macos', {}, false],
    ['os!=macos', {}, true],
    ['os!=macos', { os: 'linux' }, true],
    ['os!=macos', { os: 'macos' }, false],
    ['gpu', { gpu: '' }, true],
    ['gpu', {}, false],
    ['!gpu', {}, true],
    ['!gpu', { gpu: 'yes' }, false],
    ['os=macos,site=ams', { os: 'macos', site: 'ams' }, true],
    ['os=macos,site=ams', { os: 'macos', site: 'fra' }, false],
    ['toString', {}, false],
    ['!constructor', {}, true],
  ];
  for (const [sel, labels, want] of cases)
    assert.equal(matchesSelector(parse(sel), labels), want, `${sel} on ${JSON.stringify(labels)}`);
});

test('bad selectors are refused with the term named', () => {
  for (const [t, re] of [
    ['', /empty selector/],
    ['   ', /empty selector/],
    ['a=b,,c', /empty term/],
    ['=b', /bad label key/],
    ['a=b=c', /bad operator/],
    ['a b=c', /bad label key in "a b=c"/],
    ['a=hello world', /bad label value/],
    ['!', /bad label key/],
    [Array(40).fill('a=b').join(','), /more than 32/],
    ['x'.repeat(5000), /longer than 4096/],
  ] as const) {
    const r = parseSelector(t);
    assert.ok(!r.ok, t);
    assert.match(r.error, re, t);
  }
  // `a!=` means "a is absent or not empty".
  assert.ok(parseSelector('a!=').ok);
});
