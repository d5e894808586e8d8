import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestProblem, directoryProblem, pieceProblem, type PathFacts } from './native-check.ts';

const file = (uid: number, mode: number): PathFacts => ({ kind: 'file', uid, mode });
const dir = (uid: number, mode: number): PathFacts => ({ kind: 'directory', uid, mode });

test('a piece owned by root and writable by nobody else is used', () => {
  assert.equal(pieceProblem(file(0, 0o444), [0]), undefined);
  assert.equal(pieceProblem(file(0, 0o755), [0]), undefined);
  // An unprivileged development agent may use its own copies.
  assert.equal(pieceProblem(file(1000, 0o555), [0, 1000]), undefined);
});

test('a piece writable by group or others, owned by someone else, or not a file is refused', () => {
  assert.equal(pieceProblem(file(0, 0o557), [0]), 'is writable by group or others (mode 0557)');
  assert.equal(pieceProblem(file(0, 0o464), [0]), 'is writable by group or others (mode 0464)');
  assert.equal(pieceProblem(file(1000, 0o444), [0]), 'owned by uid 1000, not root');
  assert.equal(pieceProblem(file(1001, 0o444), [0, 1000]), 'owned by uid 1001, not root or uid 1000');
  assert.equal(
    pieceProblem({ kind: 'symlink', uid: 0, mode: 0o777 }, [0]),
    'is a symlink, not a regular file',
  );
  assert.equal(
    pieceProblem({ kind: 'directory', uid: 0, mode: 0o755 }, [0]),
    'is a directory, not a regular file',
  );
});

test('directories: the agent’s own must be private; above them a root-owned sticky directory is fine', () => {
  assert.equal(directoryProblem(dir(0, 0o700), [0], true), undefined);
  assert.equal(directoryProblem(dir(0, 0o755), [0], false), undefined);
  assert.equal(directoryProblem(dir(0, 0o1777), [0], false), undefined, '/tmp');
  assert.equal(directoryProblem(dir(0, 0o1777), [0], true), 'is writable by group or others (mode 01777)');
  assert.equal(directoryProblem(dir(0, 0o777), [0], false), 'is writable by group or others (mode 0777)');
  assert.equal(directoryProblem(dir(1000, 0o1777), [0], false), 'owned by uid 1000, not root');
  assert.equal(
    directoryProblem({ kind: 'symlink', uid: 0, mode: 0o777 }, [0], false),
    'is a symlink, not a directory',
  );
});

test('a digest that differs from the embedded copy’s is refused with both digests', () => {
  assert.equal(digestProblem('ab', 'ab'), undefined);
  assert.match(
    digestProblem('ab', 'cd') ?? '',
    /has SHA-256 ab, but the copy embedded in this binary has cd/,
  );
});
