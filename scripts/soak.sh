#!/usr/bin/env bash
# The soak (issue 17, docs/fault-suite.md "Soak"): the local fleet (real nats-server, controller and
# two real agents) plus N simulated nodes for a duration, with churn (a new job version applied to
# every node, a crash-looping job, rollouts, agent restarts); RSS and CPU of the agent, the
# controller and nats-server sampled every minute, the trend (bytes per hour, least squares) printed
# at the end and every sample written to a JSON results file.
#
#   scripts/soak.sh [--nodes 200] [--duration-min 60] [--sample-s 60] [--apply-every-s 120]
#                   [--rollout-every-s 600] [--restart-every-s 300]
#                   [--mix healthy=85,crash=5,slow=5,churn=5] [--out FILE]
#                   [--agent-mem [--heap-snapshot-at-min 5]]
#
# Defaults: 200 simulated nodes for one hour. LF_NATS_SERVER_BIN picks the broker (as in the
# tests). Exit 1 when an apply or rollout could not be started, the simulator died or not every node
# enrolled; the figures are printed either way. Run it under /tmp/lf-suite.lock on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,14p' "$0"; exit 0 ;; esac
ulimit -n "$(ulimit -Hn)"
npx tsc --build
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, node $(node --version), $("${LF_NATS_SERVER_BIN:-nats-server}" --version)"
echo "# command: scripts/soak.sh $*"
# Not exec'd: a soak process that ends for any reason, even SIGKILL, leaves its exit status here.
set +e
node --conditions=launchfleet-testing test/dist/bench/soak.js "$@"
rc=$?
if [ "$rc" -gt 128 ]; then
  echo "# $(date -u +%FT%TZ) the soak's node process was killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo "$((rc - 128))") (status $rc)" >&2
else
  echo "# $(date -u +%FT%TZ) the soak's node process exited with status $rc" >&2
fi
exit "$rc"
