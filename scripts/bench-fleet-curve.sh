#!/usr/bin/env bash
# The fleet's cost curve: scripts/bench-fleet.sh once per fleet size, same options, then one table
# of every size side by side (test/src/bench/fleet-compare.ts), with CPU-seconds and memory per
# 1,000 agents for the sizing in docs/fleet-at-scale.md.
#
#   scripts/bench-fleet-curve.sh "1000 5000 10000 20000" [bench-fleet.sh options...]
#   e.g. LF_NATS_SERVER_BIN=$PWD/.tools/nats-server-2.10.27/usr/sbin/nats-server \
#        scripts/bench-fleet-curve.sh "1000 5000 10000 20000" --runs 2 --restarts 1 --start-rate 200 --steady-s 30
#
# Each size starts its own nats-server and controller; the simulators take 5,000 agents per process
# (bench-fleet.sh's default). Results: test/bench/FLEET-RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
sizes="$1"
shift
pairs=()
status=0
for n in $sizes; do
  log="$(mktemp "${TMPDIR:-/tmp}/lf-fleet-curve-$n-XXXXXX.txt")"
  bash scripts/bench-fleet.sh "$n" "$@" | tee "$log" || status=$?
  res="$(sed -n 's/^# raw results: \([^,]*\),.*/\1/p' "$log" | tail -1)"
  if [ -f "$res" ]; then pairs+=("$n=$res"); else echo "# no results for $n agents" >&2; fi
done
[ ${#pairs[@]} -eq 0 ] || node test/dist/bench/fleet-compare.js "${pairs[@]}"
exit "$status"
