#!/usr/bin/env bash
# Builds a nats-server image FROM scratch out of the nats-server installed on this machine
# (Debian's package), for machines that reach no image registry. It stages the binary and every
# shared library `ldd` lists into a temporary build context, with the cluster config from
# deploy/nats, and runs `docker build -f nats.Dockerfile`.
#   usage: deploy/docker/build-nats-image.sh [image-tag]    (default launchfleet/nats:local)
#          deploy/docker/build-nats-image.sh --stage-only DIR  (stage the context into DIR, no build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stage_only=""
if [ "${1:-}" = "--stage-only" ]; then
  stage_only="${2:?--stage-only needs a directory}"
  tag=""
else
  tag="${1:-launchfleet/nats:local}"
fi
bin="$(command -v nats-server || true)"
[ -n "$bin" ] || { echo "build-nats-image: nats-server is not installed (apt-get install nats-server)" >&2; exit 1; }

if [ -n "$stage_only" ]; then
  mkdir -p "$stage_only"
  ctx="$(cd "$stage_only" && pwd)"
else
  command -v docker >/dev/null || { echo "build-nats-image: docker is not installed" >&2; exit 1; }
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
fi
root="$ctx/rootfs"
mkdir -p "$root/etc/nats" "$root/data" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$bin" "$root/nats-server"

# Copies a file with its absolute path under rootfs/, following symlinks (a scratch image has
# no package manager to resolve them later).
stage() { mkdir -p "$root$(dirname "$1")"; cp -L "$1" "$root$1"; }
# `ldd` lines are "name => /path (addr)" or "/path (addr)"; vdso has no file.
while read -r lib; do stage "$lib"; done < <(ldd "$bin" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }')

# busybox (its wget) for the compose healthcheck on /healthz, at the path the official alpine
# image has it: the same healthcheck serves both images. Scratch has no shell of its own.
busybox="$(command -v busybox || true)"
[ -n "$busybox" ] || { echo "build-nats-image: busybox is not installed (apt-get install busybox)" >&2; exit 1; }
mkdir -p "$root/bin"
cp -L "$busybox" "$root/bin/busybox"
while read -r lib; do stage "$lib"; done < <(ldd "$busybox" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }')
printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"

cp "$here/../nats/nats.conf" "$root/etc/nats/nats.conf"
cp "$here/nats.Dockerfile" "$ctx/Dockerfile"
if [ -n "$stage_only" ]; then echo "build-nats-image: staged $bin into $ctx"; exit 0; fi
echo "build-nats-image: $bin ($("$bin" --version)) -> $tag"
docker build -t "$tag" "$ctx"
