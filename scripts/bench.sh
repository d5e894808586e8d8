#!/usr/bin/env bash
# Supervisor benchmarks (issue 9), each side by side with its anchor in the same run.
#
#   scripts/bench.sh <supervisor-jobs-1000|spawn-overhead|spawn-rate-lag|socket-activation|inetd-overhead|agent-memory|all> [--quick] [--runs=R] [--profile]
#
#   --quick     small sizes, one run each: the CI mode (under 60 s in total once built)
#   --runs=R    repeat each benchmark R times (default 3; --quick: 1) and report medians over runs
#   --profile   also write V8 CPU profiles of the measured processes and print their top frames
#
# agent-memory (where the agent's memory goes; not part of `all`) measures another built checkout
# beside this one when LF_BENCH_BASE names it (e.g. main before a change, from `git archive`).
#
# Installs what it needs (supervisor for the supervisord anchor, a C compiler for the bare
# posix_spawn loop and the socket benchmarks' responder, Debian's systemd package for the socket
# anchor `systemd-socket-activate` only if that is missing; Debian, as root), builds (native
# helper + TypeScript), runs, and prints the medians. Raw output of every run is kept in the
# directory it prints at the end.
# Results are recorded in test/bench/RESULTS.md with the machine, date and command.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/bench.sh <supervisor-jobs-1000|spawn-overhead|spawn-rate-lag|socket-activation|inetd-overhead|agent-memory|all> [--quick] [--runs=R] [--profile]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
which="$1"
shift
quick=0
runs=""
profile=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --runs=*) runs="${a#--runs=}" ;;
    --profile) profile=1 ;;
    *) usage ;;
  esac
done
case "$which" in
  all) benches=(supervisor-jobs-1000 spawn-overhead spawn-rate-lag socket-activation inetd-overhead) ;;
  supervisor-jobs-1000 | spawn-overhead | spawn-rate-lag | socket-activation | inetd-overhead | agent-memory) benches=("$which") ;;
  *) usage ;;
esac
if [ -z "$runs" ]; then runs=$([ "$quick" = 1 ] && echo 1 || echo 3); fi
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || { echo "bench: --runs must be 1..99" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then echo "bench: run as root (system-domain jobs, apt-get)" >&2; exit 1; fi

# --- what the benchmarks need -------------------------------------------------------------------
need=()
command -v supervisord >/dev/null || need+=(supervisor)
command -v cc >/dev/null || need+=(build-essential)
command -v getconf >/dev/null || need+=(libc-bin)
# The socket benchmarks' anchor; it runs without systemd as PID 1 and no service is started.
if [[ " ${benches[*]} " == *" socket-activation "* || " ${benches[*]} " == *" inetd-overhead "* ]]; then
  command -v systemd-socket-activate >/dev/null || need+=(systemd)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  # Debian starts a package's service on install; supervisord must never run as a system
  # service here (the benchmark runs its own on a temporary socket). policy-rc.d 101 = "do not
  # start"; a policy already in place is left alone.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# --- build ---------------------------------------------------------------------------------------
if [ ! -x node-agent/native/build/Release/lf-exec ]; then
  echo "== building the native helper"
  npm run --silent build:native --workspace=@launchfleet/node-agent
fi
echo "== tsc --build"
npx --no-install tsc --build

# --- run -----------------------------------------------------------------------------------------
out="$(mktemp -d "${TMPDIR:-/tmp}/lf-bench-XXXXXX")"
flags=()
[ "$quick" = 1 ] && flags+=(--quick)
if [ "$profile" = 1 ]; then
  mkdir -p "$out/profiles"
  export LF_BENCH_CPU_PROF="$out/profiles"
fi
status=0
for b in "${benches[@]}"; do
  for ((i = 1; i <= runs; i++)); do
    echo "== $b run $i/$runs $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    node_flags=(--conditions=launchfleet-testing)
    # spawn-overhead measures in its own process (the driver hosts the supervisor).
    if [ "$profile" = 1 ] && [ "$b" = spawn-overhead ]; then
      node_flags+=(--cpu-prof "--cpu-prof-dir=$out/profiles")
    fi
    if ! node "${node_flags[@]}" "test/dist/bench/$b.js" "${flags[@]}" >"$out/$b.$i.out" 2>"$out/$b.$i.err"; then
      echo "bench: $b run $i failed:" >&2
      cat "$out/$b.$i.err" >&2
      status=1
    fi
    grep -v '^BENCH_RESULT ' "$out/$b.$i.out" || true
  done
done

echo "===== medians over $runs run(s)"
for b in "${benches[@]}"; do
  files=("$out/$b".*.out)
  node test/dist/bench/summarize-runs.js "${files[@]}" || status=1
done
if [ "$profile" = 1 ]; then
  echo "===== CPU profiles (top frames)"
  node test/dist/bench/cpu-profile-top.js "$out/profiles" --top=12 || true
fi
echo "raw output: $out"
exit $status
