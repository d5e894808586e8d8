import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duration, table } from './table.ts';

test('tables align columns and durations read naturally', () => {
  assert.equal(
    table(
      ['node', 'state'],
      [
        ['a', 'running'],
        ['longer-name', 'x'],
      ],
    ),
    'NODE         STATE\na            running\nlonger-name  x\n',
  );
  assert.deepEqual([-1, 12, 1500, 65_000, 600_000, 7_500_000, 5 * 86_400_000].map(duration), [
    'never',
    '12ms',
    '2s',
    '65s',
    '10m',
    '2h5m',
    '5d',
  ]);
});
