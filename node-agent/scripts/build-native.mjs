#!/usr/bin/env node
// Builds node-agent/native (the spawn shim and the socket addon) with node-gyp, if present.
// Runs from `npm run build` so a fresh clone builds it without any download: node-gyp uses
// the Node headers that ship with this Node installation (nodedir), or fails with a clear error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const here = dirname(new URL(import.meta.url).pathname);
const nativeDir = join(here, '..', 'native');
if (!existsSync(join(nativeDir, 'binding.gyp'))) process.exit(0);
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', '--directory', nativeDir];
const nodedir = process.env.npm_config_nodedir ?? guessNodeDir();
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);

function guessNodeDir() {
  // Node's own headers live next to the binary on standard installs (<prefix>/include/node).
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}
