#!/usr/bin/env bash
# The web console's benchmark (issue 13): a real nats-server, the controller in its own process
# with the console on, the fleet simulator's agents (default 10,000, 3 % crash-looping) running
# one job; server time of the overview and a job's page, and how long Debian's chromium takes
# to show them complete, beside anchors measured in the same run.
#
#   scripts/bench-console.sh [--agents N] [--requests R] [--loads L] [--mix SPEC] [--start-rate N] [--enrol-minutes M]
#
# Holds /tmp/lf-suite.lock while it runs (the machine is shared). Results: test/bench/CONSOLE-RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nats-server >/dev/null || { echo "bench-console: nats-server is not installed (apt-get install nats-server)" >&2; exit 2; }
command -v chromium >/dev/null || { echo "bench-console: chromium is not installed (scripts/setup.sh)" >&2; exit 2; }
# One socket per simulated agent, both in the simulator and in nats-server.
ulimit -n "$(ulimit -Hn)"
npx tsc --build
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), node $(node --version), $(nats-server --version), $(chromium --version 2>/dev/null | head -1)"
echo "# command: scripts/bench-console.sh $*"
exec flock /tmp/lf-suite.lock node --conditions=launchfleet-testing test/dist/bench/console-bench.js "$@"
