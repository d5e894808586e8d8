#!/usr/bin/env bash
# The controller SIGKILLed mid-rollout over simulated nodes, a second controller running (issue 17,
# docs/fault-suite.md): the local fleet + the fleet simulator (N nodes, default 1,000) + a second
# controller; the rollout must finish once, every node's desired key written exactly once
# (counted on the broker) and its history [v1, v2].
#
#   scripts/fault-controller-sim.sh [--nodes 1000] [--kill-at 0.3] [--waves 25%] [--min-healthy 5s] [--out FILE]
#
# Run it under /tmp/lf-suite.lock on a shared machine. Exit 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,9p' "$0"; exit 0 ;; esac
ulimit -n "$(ulimit -Hn)"
npx tsc --build
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, node $(node --version), $("${LF_NATS_SERVER_BIN:-nats-server}" --version)"
echo "# command: scripts/fault-controller-sim.sh $*"
exec node --conditions=launchfleet-testing test/dist/bench/fault-controller-sim.js "$@"
