import assert from 'node:assert/strict';
import { test } from 'node:test';
import { absolutePaths, parseFlags } from './args.ts';

test('combined short flags, long flags, values and operands', () => {
  const p = parseFlags(['-kp', '--json', 'system/x'], 'kp', ['json']);
  assert.deepEqual([...p.flags].sort(), ['json', 'k', 'p']);
  assert.deepEqual(p.rest, ['system/x']);
  assert.equal(p.unknown, undefined);
  const v = parseFlags(['--domain', 'gui/501', 'label'], '', [], ['domain']);
  assert.equal(v.values.get('domain'), 'gui/501');
  assert.deepEqual(v.rest, ['label']);
  assert.equal(parseFlags(['--domain=system'], '', [], ['domain']).values.get('domain'), 'system');
});

test('unknown flags are reported; -- ends the flags', () => {
  assert.equal(parseFlags(['-x'], 'kp').unknown, '-x');
  assert.equal(parseFlags(['--nope'], 'kp').unknown, '--nope');
  assert.equal(parseFlags(['--domain'], '', [], ['domain']).unknown, '--domain needs a value');
  assert.deepEqual(parseFlags(['--', '-k'], 'k').rest, ['-k']);
});

test('paths are made absolute from the caller directory', () => {
  assert.deepEqual(absolutePaths('/home/u', ['a.plist', '/etc/b.plist', '../c']), [
    '/home/u/a.plist',
    '/etc/b.plist',
    '/home/c',
  ]);
});
