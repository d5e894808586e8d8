#!/usr/bin/env bash
# Builds the Debian package of the agent with dpkg-deb: the single-file agent, the systemd unit,
# a default configuration and the maintainer scripts in deploy/debian/.
#
#   scripts/build-deb.sh [--binary FILE] [--version VERSION] [--out DIR] [--fast]
#
#   --binary FILE      the single-file agent (default: build it with scripts/build-agent.sh into
#                      build/agent)
#   --version VERSION  the package version (default: node-agent/package.json's version)
#   --out DIR          where the .deb goes (default build/deb); prints its path on stdout
#   --fast             gzip -1 instead of xz (tests: same contents, quicker to build)
#
# Layout of the package:
#   /usr/lib/launchfleet/bin/launchfleet-agent   the single-file agent (Node embedded)
#   /usr/bin/lfctl                               -> the same binary, run as lfctl
#   /lib/systemd/system/launchfleet-agent.service  deploy/agent's unit, pointed at the binary
#   /etc/launchfleet/agent.json                  default configuration (a conffile: kept on
#                                                upgrade, removed on purge), standalone until an
#                                                admin adds "controller"
#   /usr/share/doc/launchfleet-agent/            INSTALL.md, copyright
# postinst creates /var/lib/launchfleet (0700), /var/log/launchfleet and
# /etc/launchfleet/Launch{Daemons,Agents}, and enables and starts the unit only where systemd
# runs; prerm stops the agent cleanly; purge removes state, logs and /etc/launchfleet.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
version=""
out="build/deb"
compress=(-Zxz)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --fast) compress=(-Zgzip -z1); shift ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "build-deb: unknown argument $1 (try --help)" >&2; exit 64 ;;
  esac
done
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found (a Debian machine builds the package)" >&2; exit 1; }
if [ -z "$binary" ]; then
  bash scripts/build-agent.sh --out build/agent >&2
  binary=build/agent/launchfleet-agent
fi
[ -x "$binary" ] || { echo "build-deb: $binary is not an executable" >&2; exit 1; }
[ -n "$version" ] || version="$(node -p 'require("./node-agent/package.json").version')"
arch="$(dpkg --print-architecture)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
root="$(mktemp -d "$out/.root.XXXXXX")"
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"

install -d -m 755 "$root/DEBIAN" "$root/usr/lib/launchfleet/bin" "$root/usr/bin" "$root/lib/systemd/system" \
  "$root/etc/launchfleet" "$root/usr/share/doc/launchfleet-agent"
install -m 755 "$binary" "$root/usr/lib/launchfleet/bin/launchfleet-agent"
ln -s ../lib/launchfleet/bin/launchfleet-agent "$root/usr/bin/lfctl"
# The unit of deploy/agent (checked by deploy/check.sh), with the packaged binary's path.
sed -e 's#/usr/local/lib/launchfleet/bin/launchfleet-agent#/usr/lib/launchfleet/bin/launchfleet-agent#' \
  -e 's#^Documentation=.*#Documentation=file:///usr/share/doc/launchfleet-agent/INSTALL.md#' \
  -e 's#^\# /etc/systemd/system/launchfleet-agent.service; see INSTALL.md.#\# /lib/systemd/system/launchfleet-agent.service by the Debian package.#' \
  deploy/agent/launchfleet-agent.service >"$root/lib/systemd/system/launchfleet-agent.service"
grep -q '^ExecStart=/usr/lib/launchfleet/bin/launchfleet-agent ' "$root/lib/systemd/system/launchfleet-agent.service" ||
  { echo "build-deb: the unit's ExecStart was not rewritten (deploy/agent/launchfleet-agent.service changed?)" >&2; exit 1; }
install -m 644 deploy/debian/agent.json "$root/etc/launchfleet/agent.json"
install -m 644 deploy/agent/INSTALL.md "$root/usr/share/doc/launchfleet-agent/INSTALL.md"
cat >"$root/usr/share/doc/launchfleet-agent/copyright" <<'TXT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: launchfleet

Files: *
License: Apache-2.0
 The single-file agent embeds Node.js (MIT and the licenses of its dependencies, listed in
 Node's LICENSE file) and the npm packages the agent depends on (their licenses are kept at
 the end of the bundled script).
TXT
for s in postinst prerm postrm; do install -m 755 "deploy/debian/$s" "$root/DEBIAN/$s"; done
echo /etc/launchfleet/agent.json >"$root/DEBIAN/conffiles"

# The oldest glibc the binaries need (the embedded Node, the addon and the shim).
glibc=2.28
if command -v objdump >/dev/null; then
  glibc="$(objdump -T "$binary" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
  # The native pieces are embedded as assets: scan the build they were taken from too.
  for f in build/agent/sea/lfnative.node build/agent/sea/lf-exec "$(dirname "$binary")"/sea/lfnative.node "$(dirname "$binary")"/sea/lf-exec; do
    [ -f "$f" ] || continue
    g="$(objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
    [ -z "$g" ] || glibc="$(printf '%s\n%s\n' "$glibc" "$g" | sort -V | tail -n 1)"
  done
fi
size_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CTL
Package: launchfleet-agent
Version: $version
Architecture: $arch
Maintainer: Launchfleet <launchfleet@localhost>
Section: admin
Priority: optional
Installed-Size: $size_kb
Depends: libc6 (>= $glibc), libstdc++6, libgcc-s1
Description: Launchfleet agent: launchd-semantics job supervisor for a fleet
 Runs launchd jobs (LaunchDaemons and per-user LaunchAgents) with launchd's semantics and,
 when a controller is configured, joins a Launchfleet fleet over NATS. A single executable
 with Node.js embedded; lfctl is the same binary.
CTL
deb="$out/launchfleet-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compress[@]}" --build "$root" "$deb" >&2
echo "$deb"
