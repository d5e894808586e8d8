import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  execShimPath,
  loadAddon,
  NativeBuildMissingError,
  nativeBuildDir,
  nativeDir,
} from './native-build.ts';

test('the native build directory is found from the compiled module, per runtime when built so', () => {
  assert.match(
    nativeBuildDir,
    /node-agent\/native\/(build\/Release|build-abi\/node-v\d+-[a-z0-9]+-[a-z0-9]+)\/$/,
  );
  assert.equal(nativeDir(), nativeBuildDir);
  if (existsSync(`${nativeBuildDir}lf-exec`)) assert.equal(execShimPath(), `${nativeBuildDir}lf-exec`);
});

test('a per-runtime build was made with this runtime’s own headers (its ABI)', (t) => {
  const info = `${nativeBuildDir}build-info.json`;
  if (!existsSync(info)) {
    t.skip('no per-runtime build here (built by an older build-native.mjs, or the Docker layout)');
    return;
  }
  const built = JSON.parse(readFileSync(info, 'utf8')) as { node: string; modules: string };
  assert.equal(built.modules, process.versions.modules);
  assert.equal(built.node, process.version);
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
