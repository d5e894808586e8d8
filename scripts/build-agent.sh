#!/usr/bin/env bash
# Builds the agent as one file: a Node single-executable application (SEA) holding the bundled
# agent and lfctl, the native addon and the lf-exec shim (extracted and checked at start, see
# node-agent/src/sea/native-pieces.ts), and the control API schema.
#
#   scripts/build-agent.sh [--node NODE] [--out DIR]
#
#   --node NODE  the Node binary to embed (default: the pinned Node 24 LTS, .tools/node-24,
#                fetched by scripts/fetch-node.sh if missing). Its own headers build the addon.
#   --out DIR    where to write `launchfleet-agent` and `lfctl` (a symlink to it); default
#                build/agent. Intermediate files go to DIR/sea/.
#
# Needs the project built (`npm run build`; done here when node-agent/dist is missing) and
# node_modules (esbuild and postject are dev dependencies). On macOS it removes the Node
# binary's signature before injecting and signs the result ad hoc (scripts/macos/build-pkg.sh
# signs it with the Developer ID); on Linux nothing is signed.
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin=""
out="build/agent"
while [ $# -gt 0 ]; do
  case "$1" in
    --node) node_bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-agent: unknown argument $1 (try --help)" >&2; exit 64 ;;
  esac
done
if [ -z "$node_bin" ]; then
  node_bin="$(bash scripts/fetch-node.sh 24)"
fi
node_bin="$(cd "$(dirname "$node_bin")" && pwd)/$(basename "$node_bin")"
[ -x "$node_bin" ] || { echo "build-agent: $node_bin is not an executable" >&2; exit 1; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$out/sea"
rm -rf "$work"
mkdir -p "$work"

[ -d node_modules ] || { echo "build-agent: node_modules missing: run scripts/setup.sh (or npm ci)" >&2; exit 1; }
[ -f node-agent/dist/sea/sea-main.js ] || npm run --silent build
# shellcheck disable=SC2016 # a JavaScript template literal, for node
abi="$("$node_bin" -p '`node-v${process.versions.modules}-${process.platform}-${process.arch}`')"
if [ ! -f "node-agent/native/build-abi/$abi/lfnative.node" ]; then
  # build-native.mjs builds for the Node running it and for every Node under .tools/.
  "$node_bin" node-agent/scripts/build-native.mjs
fi

# 1. One CommonJS file, the assets and the SEA configuration.
node node-agent/scripts/bundle-agent.mjs --node "$node_bin" --out "$work"
# 2. The blob: made by the very Node it is injected into (the format is tied to the version).
"$node_bin" --experimental-sea-config "$work/sea-config.json" >/dev/null
# 3. A copy of that Node with the blob injected (postject, the tool Node's documentation names).
bin="$out/launchfleet-agent"
rm -f "$bin" "$bin.tmp"
cp "$node_bin" "$bin.tmp"
chmod 755 "$bin.tmp"
postject_args=("$bin.tmp" NODE_SEA_BLOB "$work/sea-prep.blob" --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2)
if [ "$(uname -s)" = Darwin ]; then
  codesign --remove-signature "$bin.tmp"
  postject_args+=(--macho-segment-name NODE_SEA)
fi
# postject's ELF library warns "Can't find string offset for section name '.note...'" on Node's
# binary; harmless. Its output is shown only when it fails.
if ! node node_modules/postject/dist/cli.js "${postject_args[@]}" >"$work/postject.log" 2>&1; then
  cat "$work/postject.log" >&2
  exit 1
fi
if [ "$(uname -s)" = Darwin ]; then
  codesign --sign - "$bin.tmp"
fi
mv "$bin.tmp" "$bin"
ln -sfn launchfleet-agent "$out/lfctl"
version="$("$bin" --version)"
size="$(du -m "$bin" | cut -f1)"
echo "build-agent: $bin ($version, ${size} MB, Node $("$node_bin" --version), native $abi)"
