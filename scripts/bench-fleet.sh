#!/usr/bin/env bash
# Fleet benchmarks (issue 9): a real nats-server, the controller in its own process, the fleet
# simulator (test/src/sim) in one or more processes, measured side by side with the anchors.
#
#   scripts/bench-fleet.sh <ci|1000|5000|10000|N> [--runs R] [--sim-procs P] [--mix SPEC]
#                          [--anchor-clients M] [--restarts K] [--health-queries Q] [--fast]
#                          [--cluster S] [--servers A,B] [--profile DIR]
#                          [--converge-timeout-s C] [--reconnect-timeout-s W] [--sim-connect-gate G]
#                          [--heartbeat-s S] [--roll-apply during|after] [--roll-pause-s P]
#
#   ci          300 agents, every profile (healthy, crash-looping, slow-start, churn), test
#               timings, one run (< 90 s): the harness's smoke test
#   1000 ...    all-healthy agents with production link timings; --runs applies (default 3)
#   --cluster S a cluster of S servers (R3 buckets), agents spread over them; each --restarts is
#               then a rolling restart (one server at a time, lame-duck mode first)
#   --servers A,B  one run per nats-server binary, same size and options, then a side-by-side
#               table (e.g. --servers nats-server,.tools/nats-server-2.10.27/usr/sbin/nats-server:
#               Debian 12's 2.9.10 and Debian 13's 2.10.27 from scripts/fetch-nats-server.sh)
#   --profile   V8 CPU profiles of the controller and simulator processes into DIR, and their
#               top frames printed at the end
#   --sim-connect-gate G  each simulator process admits at most G NATS connects in flight, none
#               while its loop lags (test/src/sim/connect-gate.ts): lets one box host more agents
#               than its loop can authenticate at once; latencies then include the gate's waits
#   --heartbeat-s S  the agents' heartbeat (and link ping) period, and the controller's, instead
#               of 10 s (offline after 90 s or 3 beats): what a large fleet's operator may choose
#   --roll-apply during|after  with --cluster: a rolling restart's apply is made after its first
#               server is back (during, the default) or once the roll is over and every session is
#               back (after: the agents' moves measured without the simulated apply's load beside them)
#   --roll-pause-s P  with --cluster: a rolling restart waits P s after a server is healthy before
#               the next one goes into lame-duck mode (an operator's pause between servers; agents
#               return to their home server 1-5 min after a move, so 300 s lets each step start
#               from an even spread)
#   --apply-profile DIR  V8 CPU profiles of the simulators over each apply and each broker-restart
#               wave only (what agents spend on them, without enrolment), top frames at the end
#
# Prints one FLEET-BENCH {json} line and a table per measurement; the raw results of the run
# are written as JSON to the file printed at the end. Results: test/bench/FLEET-RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { sed -n '2,37p' "$0" >&2; exit 2; }
size="$1"
shift
profile=""
apply_profile=""
servers=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --profile=*) profile="${1#--profile=}"; shift ;;
    --apply-profile) apply_profile="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --servers=*) servers="${1#--servers=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

# One socket per simulated agent, both in the simulator and in nats-server.
ulimit -n "$(ulimit -Hn)"
# One nats-server holds every agent's connection: past its open-files limit it cannot accept
# (connects time out, and so does its own monitoring port), which reads as a stalled broker.
# 2026-12-07: 20,000 agents on one server under this box's hard limit of 20,000 did exactly that.
case "$size" in
  ci) ;;
  *)
    if [[ " ${args[*]:-} " != *" --cluster "* ]] && [ "$(ulimit -n)" != unlimited ] && [ "$size" -gt $(($(ulimit -n) - 200)) ]; then
      echo "bench-fleet: $size agents on one nats-server need more than this shell's open-files limit of $(ulimit -n) (one per connection, plus the server's own); raise the hard limit (ulimit -Hn, LimitNOFILE) or spread them with --cluster 3" >&2
      exit 2
    fi
    ;;
esac

# The server matrix: this script once per binary, then the runs side by side.
if [ -n "$servers" ]; then
  npx tsc --build
  IFS=',' read -r -a bins <<<"$servers"
  pairs=()
  status=0
  for bin in "${bins[@]}"; do
    command -v "$bin" >/dev/null || { echo "bench-fleet: $bin not found" >&2; exit 2; }
    # A path is made absolute: the servers start in their own directories.
    case "$bin" in */*) bin="$(realpath "$bin")" ;; esac
    log="$(mktemp "${TMPDIR:-/tmp}/lf-fleet-bench-run-XXXXXX.txt")"
    LF_NATS_SERVER_BIN="$bin" bash "$0" "$size" "${args[@]}" ${profile:+--profile "$profile"} ${apply_profile:+--apply-profile "$apply_profile"} | tee "$log" || status=$?
    res="$(sed -n 's/^# raw results: \([^,]*\),.*/\1/p' "$log" | tail -1)"
    [ -f "$res" ] && pairs+=("$("$bin" --version | tr ' ' '_')=$res") || echo "# no results from $bin" >&2
  done
  [ ${#pairs[@]} -eq 0 ] || node test/dist/bench/fleet-compare.js "${pairs[@]}"
  exit "$status"
fi
# LF_NATS_SERVER_BIN picks the broker (as in the tests), e.g. scripts/fetch-nats-server.sh's 2.10.27.
nats="${LF_NATS_SERVER_BIN:-nats-server}"
command -v "$nats" >/dev/null || { echo "bench-fleet: $nats is not installed (apt-get install nats-server, or scripts/fetch-nats-server.sh)" >&2; exit 2; }
npx tsc --build

out="$(mktemp -d "${TMPDIR:-/tmp}/lf-fleet-bench-XXXXXX")"
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), node $(node --version), $("$nats" --version)"
echo "# command: scripts/bench-fleet.sh $size ${args[*]:-} ${profile:+--profile $profile}"
if [ -n "$profile" ]; then
  mkdir -p "$profile"
  export LF_FLEET_CPU_PROF="$(cd "$profile" && pwd)"
fi
if [ -n "$apply_profile" ]; then
  mkdir -p "$apply_profile"
  export LF_FLEET_APPLY_PROF="$(cd "$apply_profile" && pwd)"
fi
status=0
node --conditions=launchfleet-testing test/dist/bench/fleet-main.js "$size" "${args[@]}" --out "$out/results.json" | tee "$out/output.txt" || status=$?
for d in $profile $apply_profile; do
  for f in "$d"/*.cpuprofile; do
    [ -e "$f" ] || continue
    echo "# profile $f"
    node test/dist/bench/cpu-profile-top.js "$f" --top=15 || true
  done
done
echo "# raw results: $out/results.json, output: $out/output.txt"
exit "$status"
