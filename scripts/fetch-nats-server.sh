#!/usr/bin/env bash
# Fetches a second nats-server, Debian 13's 2.10.27, into .tools/ of the project (idempotent),
# so the integration suite and the fleet benchmark run on 2.9.10 (Debian 12's, on the PATH) and
# on 2.10.27 side by side. The machine's apt sources are not changed: apt-get reads a private
# sources list and keeps its lists and cache under .tools/apt. The trixie .deb needs only
# libc6 >= 2.34, which Debian 12 has (2.36).
#
# Prints the binary's path on stdout. Nothing newer than 2.10.27 can be had here (no Go module
# proxy, no image registry); deploy/README.md says what 2.11+ changes and why we do not rely on it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.10.27
dest=".tools/nats-server-$version"
bin="$dest/usr/sbin/nats-server"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "v$version"; then
  echo "$PWD/$bin"
  exit 0
fi
apt_dir="$PWD/.tools/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dest"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { echo "fetch-nats-server: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
echo "deb [signed-by=$keyring] http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o Debug::NoLocking=1
)
apt-get "${opts[@]}" -qq update >&2
# `apt-get download` writes into the current directory; the version is pinned so a newer trixie
# upload cannot change what the suite runs against without a commit here.
candidate=$(apt-cache "${opts[@]}" madison nats-server | awk -v v="$version" '$3 ~ "^"v"-" {print $3; exit}')
[ -n "$candidate" ] || { echo "fetch-nats-server: no nats-server $version in trixie" >&2; exit 1; }
(cd "$apt_dir" && rm -f nats-server_*.deb && apt-get "${opts[@]}" -qq download "nats-server=$candidate" >&2)
dpkg -x "$apt_dir"/nats-server_*.deb "$dest"
"$bin" --version >&2
echo "$PWD/$bin"
