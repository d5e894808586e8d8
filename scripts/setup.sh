#!/usr/bin/env bash
# Installs everything Launchfleet needs on a fresh Debian 12 machine (idempotent):
# Debian packages for the real servers the tests and the local fleet use, the pinned Node 24
# and 22 under .tools/, then npm ci
# (which builds the native helper and the TypeScript through the root "prepare" script).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v nats-server >/dev/null || need+=(nats-server)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v setpriv >/dev/null || need+=(util-linux)
command -v cc >/dev/null || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
# TLS for the local fleet and the gRPC tests.
command -v openssl >/dev/null || need+=(openssl)
# A Docker engine for the testcontainers suites (started by the tests themselves; no registry needed).
command -v dockerd >/dev/null || need+=(docker.io)
# Linters for the agent's packaging scripts and the macOS profile (deploy/check.sh).
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v xmllint >/dev/null || need+=(libxml2-utils)
[ -x /usr/sbin/lighttpd ] || need+=(lighttpd)
[ -x /usr/sbin/micro-httpd ] || need+=(micro-httpd)
# busybox: the compose healthcheck's wget, staged into the fallback NATS image (deploy/check.sh).
command -v busybox >/dev/null || need+=(busybox)
# A real launchctl client for the launchctl-compatibility test (community.general.launchd).
command -v ansible-playbook >/dev/null || need+=(ansible)
# libfaketime: fault-time steps a real agent's wall clock with it (LD_PRELOAD, never the machine's clock).
dpkg -s libfaketime >/dev/null 2>&1 || need+=(libfaketime)
# A real browser for the web console's end-to-end tests (driven by npm's playwright-core, which downloads none).
command -v chromium >/dev/null || need+=(chromium fonts-liberation)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to apt-get install ${need[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# A second nats-server (Debian 13's 2.10.27) beside Debian 12's, for the suites' server matrix.
bash scripts/fetch-nats-server.sh >/dev/null
# The supported Node (24 LTS) and Node 22 beside the machine's Node, from the npm registry into
# .tools/ (scripts/fetch-node.sh; nothing on the system changes). The native build below compiles
# the addon once per runtime, and the test matrix (scripts/test-matrix.mjs) runs on each.
bash scripts/fetch-node.sh 24 >/dev/null
bash scripts/fetch-node.sh 22 >/dev/null
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run build
fi
