#!/usr/bin/env bash
# A/B of one supervisor benchmark (issue 19): an old built tree against this one, alternating
# run by run (A B, B A, A B, ...), so that the machine's noise over time hits both alike. Every
# run has its anchor in it (the benchmark's own, e.g. systemd-socket-activate), so each side is
# judged on its own ratios; the summary prints the medians over each side's runs.
#
#   scripts/bench-ab.sh <base-dir> <socket-activation|spawn-overhead|inetd-overhead|...> <rounds> [bench args...]
#
#   base-dir   a built checkout of the old tree (e.g. `git archive <commit> | tar -x -C DIR`, node_modules
#              copied in, `npm run build`); this checkout is B
#   rounds     pairs of runs (1..30)
#
# AB_ARGS_A / AB_ARGS_B (optional, split on blanks): more benchmark args for that side only, after
# the common ones. With base-dir = this checkout, an A/B of a benchmark's own definition on one
# build, e.g. `AB_ARGS_B=--settle-ms=10 scripts/bench-ab.sh . socket-activation 10` (the default
# definition as A, a 10 ms settle time as B).
#
# Root, as scripts/bench.sh (which installs what the benchmarks need: run it once first). Hold
# /tmp/lf-suite.lock around it. Raw output of every run is kept in the directory it prints; each
# run's line gives the 1-minute load at its start.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: scripts/bench-ab.sh <base-dir> <bench> <rounds> [bench args...]" >&2; exit 2; }
base="$(cd "$1" && pwd)"
bench="$2"
rounds="$3"
shift 3
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] && [ "$rounds" -le 30 ] || { echo "bench-ab: rounds must be 1..30" >&2; exit 2; }
here="$(pwd)"
for d in "$base" "$here"; do
  [ -f "$d/test/dist/bench/$bench.js" ] || { echo "bench-ab: $d/test/dist/bench/$bench.js missing (build that tree)" >&2; exit 1; }
done
echo "A (old) = $base ($(git -C "$base" rev-parse --short HEAD 2>/dev/null || cat "$base/.ab-commit" 2>/dev/null || echo '?'))"
echo "B (new) = $here ($(git rev-parse --short HEAD))"
read -r -a args_a <<<"${AB_ARGS_A:-}"
read -r -a args_b <<<"${AB_ARGS_B:-}"
[ ${#args_a[@]} -eq 0 ] || echo "A's own args: ${args_a[*]}"
[ ${#args_b[@]} -eq 0 ] || echo "B's own args: ${args_b[*]}"
out="$(mktemp -d "${TMPDIR:-/tmp}/lf-bench-ab-XXXXXX")"
status=0
run() { # side dir i [bench args...]
  local side="$1" dir="$2" i="$3"
  shift 3
  echo "== $bench $side run $i $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  if ! (cd "$dir" && node --conditions=launchfleet-testing "test/dist/bench/$bench.js" "$@" >"$out/$side.$i.out" 2>"$out/$side.$i.err"); then
    echo "bench-ab: $side run $i failed:" >&2
    tail -20 "$out/$side.$i.err" >&2
    status=1
  fi
}
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2 == 1)); then
    run A "$base" "$i" "$@" "${args_a[@]}"
    run B "$here" "$i" "$@" "${args_b[@]}"
  else
    run B "$here" "$i" "$@" "${args_b[@]}"
    run A "$base" "$i" "$@" "${args_a[@]}"
  fi
done
for side in A B; do
  echo "===== $side: medians over $rounds run(s)"
  node test/dist/bench/summarize-runs.js "$out/$side".*.out || status=1
done
echo "raw output: $out"
exit $status
