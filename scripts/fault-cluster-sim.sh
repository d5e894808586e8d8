#!/usr/bin/env bash
# A 3-server cluster under load (issue 17, docs/fault-suite.md): three nats-servers (R3 buckets),
# the controller as its own process, N simulated agents (default 1,000). The desired-state
# stream's leader SIGKILLed mid-apply (the apply retried until it reports no failure), then a
# second server SIGKILLed (no quorum: applies must fail clearly) and both started again after
# --outage-s; every node must end on the last version, every key's history [v1, v2, v3].
#
#   scripts/fault-cluster-sim.sh [--nodes 1000] [--kill-at 0.3] [--outage-s 20] [--apply-concurrency 16] [--out FILE]
#
# Run it under /tmp/lf-suite.lock on a shared machine. Exit 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,10p' "$0"; exit 0 ;; esac
ulimit -n "$(ulimit -Hn)"
npx tsc --build
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, node $(node --version), $("${LF_NATS_SERVER_BIN:-nats-server}" --version)"
echo "# command: scripts/fault-cluster-sim.sh $*"
exec node --conditions=launchfleet-testing test/dist/bench/fault-cluster-sim.js "$@"
