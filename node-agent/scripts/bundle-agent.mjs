#!/usr/bin/env node
// Step 1 of scripts/build-agent.sh: everything a Node single-executable application needs
// except the injection into the node binary.
//
//   node node-agent/scripts/bundle-agent.mjs --node NODE --out DIR
//
// Writes into DIR:
//   agent.cjs           node-agent/dist/sea/sea-main.js and everything it imports (shared/,
//                       @grpc/*, @nats-io/*, commander, prom-client) bundled by esbuild into one
//                       CommonJS file: SEA runs one script and its require() loads built-in
//                       modules only
//   build-info.json     { version, node, builtAt } (the agent's --version and enrol inventory)
//   control-proto.json  proto/launchfleet/agent/v1/control.proto as protobufjs JSON (lfctl and
//                       the control server read no .proto file at run time)
//   lfnative.node, lf-exec   the native pieces built for NODE's ABI (build-native.mjs)
//   sea-config.json     the SEA configuration naming the above as assets
// The node-agent/ TypeScript must be built (npm run build) and the native pieces built for NODE.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const here = dirname(new URL(import.meta.url).pathname);
const agentRoot = join(here, '..');
const repoRoot = join(agentRoot, '..');
const require = createRequire(import.meta.url);

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
function fail(text) {
  console.error(`bundle-agent: ${text}`);
  process.exit(1);
}

const node = resolve(arg('--node') ?? fail('--node NODE is required'));
const out = resolve(arg('--out') ?? fail('--out DIR is required'));
mkdirSync(out, { recursive: true });

const id = JSON.parse(
  spawnSync(
    node,
    [
      '-p',
      'JSON.stringify({version: process.version, modules: process.versions.modules, platform: process.platform, arch: process.arch})',
    ],
    {
      encoding: 'utf8',
    },
  ).stdout || fail(`${node} does not run`),
);
const entry = join(agentRoot, 'dist', 'sea', 'sea-main.js');
if (!existsSync(entry)) fail(`${entry} is missing: run npm run build first`);
const nativeDir = join(agentRoot, 'native', 'build-abi', `node-v${id.modules}-${id.platform}-${id.arch}`);
if (!existsSync(join(nativeDir, 'lfnative.node')))
  fail(
    `${nativeDir} is missing: run node-agent/scripts/build-native.mjs (it builds for every Node under .tools/)`,
  );

// One CommonJS file. import.meta.url (native-build.ts, proto.ts, package.json reads) has no
// meaning in CommonJS: it becomes the binary's own file URL, and the code that needs a real file
// takes the SEA path instead (sea-assets.ts).
const esbuild = require('esbuild');
const result = await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${id.version.slice(1).split('.')[0]}`,
  outfile: join(out, 'agent.cjs'),
  define: { 'import.meta.url': '__lfImportMetaUrl' },
  banner: { js: 'const __lfImportMetaUrl = require("node:url").pathToFileURL(process.execPath).href;' },
  // The dist files were compiled from TypeScript; their source maps are not carried along.
  sourcemap: false,
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length > 0) fail('esbuild failed');
const inputs = Object.keys(result.metafile.inputs);
const external = inputs.filter((p) => p.includes('node_modules')).length;

const pkg = JSON.parse(readFileSync(join(agentRoot, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'build-info.json'),
  JSON.stringify({ version: pkg.version, node: id.version, builtAt: new Date().toISOString() }) + '\n',
);

const protobuf = require('protobufjs');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(repoRoot, 'proto', target);
root.loadSync(join('launchfleet', 'agent', 'v1', 'control.proto'));
writeFileSync(join(out, 'control-proto.json'), JSON.stringify(root.toJSON()));

for (const f of ['lfnative.node', 'lf-exec']) copyFileSync(join(nativeDir, f), join(out, f));

// The agent's Node flags (node-agent/src/agent/node-flags.ts, the one list): the single file runs
// with them as if they were on its command line (SEA execArgv: Node 22 and 24 honour it, Node 20
// ignores it, and the agent then sets at its start those it can).
const { AGENT_NODE_FLAGS: execArgv } = await import(join(agentRoot, 'dist', 'agent', 'node-flags.js'));

writeFileSync(
  join(out, 'sea-config.json'),
  JSON.stringify(
    {
      main: join(out, 'agent.cjs'),
      output: join(out, 'sea-prep.blob'),
      disableExperimentalSEAWarning: true,
      execArgv,
      useSnapshot: false,
      useCodeCache: false,
      assets: Object.fromEntries(
        ['build-info.json', 'control-proto.json', 'lfnative.node', 'lf-exec'].map((f) => [f, join(out, f)]),
      ),
    },
    null,
    2,
  ) + '\n',
);
console.log(
  `bundle-agent: ${inputs.length} modules (${external} from node_modules) -> ${join(out, 'agent.cjs')}; Node ${id.version}`,
);
