import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { execShimPath, loadAddon, NativeBuildMissingError, nativeBuildDir } from './native-build.ts';

test('the native build directory is node-agent/native/build/Release, found from the compiled module', () => {
  assert.match(nativeBuildDir, /node-agent\/native\/build\/Release\/$/);
  if (existsSync(`${nativeBuildDir}lf-exec`)) assert.equal(execShimPath(), `${nativeBuildDir}lf-exec`);
});

test('a missing native piece is a NativeBuildMissingError that says how to build it', () => {
  assert.throws(
    () => loadAddon('no-such-addon'),
    (err: unknown) =>
      err instanceof NativeBuildMissingError &&
      err.path.endsWith('no-such-addon.node') &&
      err.message.includes('npm run build'),
  );
});
