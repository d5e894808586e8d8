#!/usr/bin/env bash
# A real Launchfleet fleet on this one machine: nats-server (JetStream, operator mode, data in
# .launchfleet/nats), the controller (gRPC over TLS with a throwaway CA, /metrics), and one
# agent (as root, or unprivileged as the current user). It rolls out an example KeepAlive job,
# waits until the job runs on the node, shows its fleet-wide health and the node list, and then
# keeps everything running until Ctrl-C (which stops all three cleanly).
#
#   ./scripts/local-fleet.sh            # keep running; the CLI commands to try are printed
#   ./scripts/local-fleet.sh --check    # stop after showing the health (CI, tests); exit 0 if the job ran
#   LAUNCHFLEET_SKIP_SETUP=1 ./scripts/local-fleet.sh --check   # skip scripts/setup.sh (already built)
#
# Everything it writes is under .launchfleet/ (recreated on every run). Ports: 4222 (NATS),
# 7400 (gRPC), 7443 (web console, HTTPS), 9470 (controller /metrics), 9469 (agent /metrics), or free
# ones when those are taken.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHECK=0
for a in "$@"; do
  case "$a" in
    --check) CHECK=1 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "local-fleet: unknown argument $a (try --help)" >&2; exit 64 ;;
  esac
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "local-fleet: $*" >&2; exit 1; }

if [ "${LAUNCHFLEET_SKIP_SETUP:-0}" = 1 ]; then
  say "setup skipped (LAUNCHFLEET_SKIP_SETUP=1)"
else
  say "setup (Debian packages, npm ci, build)"
  bash scripts/setup.sh
fi

LF=.launchfleet
# Throwaway: stop anything a previous run left behind, then start from scratch.
for f in "$LF"/*.pid; do
  [ -e "$f" ] || continue
  pid=$(cat "$f"); kill "$pid" 2>/dev/null || true
done
rm -rf "$LF"
mkdir -p "$LF"/tls "$LF"/agent/LaunchDaemons "$LF"/agent/LaunchAgents "$LF"/logs
chmod 700 "$LF"

port() { # the default port if free, else any free loopback port
  node -e '
    const net = require("net");
    const tryPort = (p) => new Promise((res) => { const s = net.createServer(); s.once("error", () => res(0));
      s.listen(p, "127.0.0.1", () => { const a = s.address().port; s.close(() => res(a)); }); });
    (async () => { console.log((await tryPort(Number(process.argv[1]))) || (await tryPort(0))); })();' "$1"
}
NATS_PORT=$(port 4222); NATS_MON=$(port 8222); GRPC_PORT=$(port 7400); METRICS_PORT=$(port 9470); AGENT_METRICS=$(port 9469)
CONSOLE_PORT=$(port 7443)

say "TLS: a throwaway CA and a certificate for 127.0.0.1"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout $LF/tls/ca.key -out $LF/tls/ca.crt -days 30 -subj /CN=launchfleet-local-ca 2>/dev/null
openssl req "${ec[@]}" -keyout $LF/tls/server.key -out $LF/tls/server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > $LF/tls/san.ext
openssl x509 -req -in $LF/tls/server.csr -CA $LF/tls/ca.crt -CAkey $LF/tls/ca.key -CAcreateserial \
  -out $LF/tls/server.crt -days 30 -extfile $LF/tls/san.ext 2>/dev/null
chmod 600 $LF/tls/*.key

say "configuration: keys, NATS operator JWTs, controller config, an admin API token"
node controller/bin/launchfleet.js init-local "$LF" --nats-port "$NATS_PORT" --nats-monitor-port "$NATS_MON" \
  --grpc-port "$GRPC_PORT" --metrics-port "$METRICS_PORT" --console-port "$CONSOLE_PORT" \
  --tls-cert $LF/tls/server.crt --tls-key $LF/tls/server.key --offline-after 30

export LAUNCHFLEET_SERVER=127.0.0.1:$GRPC_PORT
export LAUNCHFLEET_CA=$ROOT/$LF/tls/ca.crt
LAUNCHFLEET_TOKEN=$(cat $LF/admin-token)
export LAUNCHFLEET_TOKEN
launchfleet() { node "$ROOT/controller/bin/launchfleet.js" "$@"; }

PIDS=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [ ${#PIDS[@]} -gt 0 ]; then
    say "stopping the agent, the controller and nats-server"
    # Reverse start order: the agent stops its jobs first, NATS goes last.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
      pid=${PIDS[$i]}
      kill -TERM "$pid" 2>/dev/null || continue
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f $LF/*.pid
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() { # name, then the command; logs to .launchfleet/logs/<name>.log
  local name=$1; shift
  "$@" >"$LF/logs/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  echo "$pid" >"$LF/$name.pid"
  echo "started $name (pid $pid, log $LF/logs/$name.log)"
}
wait_for() { # seconds, description, command...
  local t=$1 what=$2; shift 2
  for _ in $(seq 1 $((t * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { tail -n 30 "$LF"/logs/*.log >&2; die "a process died while waiting for $what"; }; done
    sleep 0.2
  done
  tail -n 30 "$LF"/logs/*.log >&2
  die "timed out waiting for $what"
}

say "nats-server (JetStream, data in $LF/nats/data)"
start nats "${LF_NATS_SERVER_BIN:-nats-server}" -c $LF/nats/nats.conf
wait_for 20 "nats-server" node -e "fetch('http://127.0.0.1:$NATS_MON/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

say "launchfleet-controller (gRPC 127.0.0.1:$GRPC_PORT over TLS, metrics 127.0.0.1:$METRICS_PORT)"
start controller node controller/bin/launchfleet-controller.js --config $LF/controller/controller.json
wait_for 30 "the controller's API" launchfleet nodes list

say "a bootstrap token for the agent"
launchfleet tokens create --ttl 1h --uses 1 --json >$LF/token.json
node -e '
  const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  require("fs").writeFileSync(process.argv[2], t.token + "\n" + t.enrollCredentials, { mode: 0o600 });' \
  $LF/token.json $LF/agent/bootstrap-token
rm -f $LF/token.json

if [ "$(id -u)" -eq 0 ]; then AS="root (system domain)"; else AS="$(id -un), unprivileged (jobs run as $(id -un))"; fi
cat >$LF/agent/agent.json <<JSON
{
  "stateDir": "state",
  "runDir": "run",
  "daemonDirectories": ["LaunchDaemons"],
  "agentDirectories": ["LaunchAgents"],
  "loadHomeAgents": false,
  "sessions": { "source": "none" },
  "metricsListen": "127.0.0.1:$AGENT_METRICS",
  "controller": { "natsUrls": ["nats://127.0.0.1:$NATS_PORT"], "bootstrapTokenFile": "bootstrap-token" }
}
JSON
say "launchfleet-agent as $AS"
# The bin itself, not `node` on it: its #! line carries the agent's Node flags.
start agent node-agent/bin/launchfleet-agent.js --config $LF/agent/agent.json
wait_for 60 "the agent to enrol" test -s $LF/agent/state/node.json
NODE_ID=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).nodeId)' $LF/agent/state/node.json)
echo "enrolled as $NODE_ID"

say "rolling out com.example.hello (KeepAlive) to $NODE_ID"
cat >$LF/com.example.hello.plist <<'PLIST'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>com.example.hello</string>
  <key>ProgramArguments</key>
  <array>
    <string>/bin/sh</string>
    <string>-c</string>
    <string>echo "hello from launchfleet, pid $$"; while :; do sleep 60; done</string>
  </array>
  <key>KeepAlive</key>
  <true/>
</dict>
</plist>
PLIST
launchfleet jobs apply $LF/com.example.hello.plist --nodes "$NODE_ID"

running() {
  launchfleet jobs health com.example.hello --json |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.exit((JSON.parse(s).subStates||{}).running>=1?0:1))'
}
wait_for 60 "com.example.hello to run on $NODE_ID" running

say "launchfleet jobs health com.example.hello"
launchfleet jobs health com.example.hello
say "launchfleet nodes list"
launchfleet nodes list

console_up() { # the console's sign-in page over HTTPS, trusting only the throwaway CA
  node -e '
    const [url, ca] = process.argv.slice(1);
    require("https").get(url, { ca: require("fs").readFileSync(ca) }, (r) => process.exit(r.statusCode === 200 ? 0 : 1))
      .on("error", () => process.exit(1));' "https://127.0.0.1:$CONSOLE_PORT/login" "$LAUNCHFLEET_CA"
}
wait_for 20 "the web console" console_up
say "web console: https://127.0.0.1:$CONSOLE_PORT/"

if [ "$CHECK" -eq 1 ]; then
  say "check passed: the job runs on the node"
  exit 0
fi

cat <<TXT

The fleet is running.

Web console: https://127.0.0.1:$CONSOLE_PORT/
  sign in with the admin token:  cat $ROOT/$LF/admin-token
  (the certificate comes from the throwaway CA $LAUNCHFLEET_CA: trust it, or accept the warning once)
  more tokens:  npx launchfleet api-tokens add --file $ROOT/$LF/controller/api-tokens.json --name NAME --role viewer|operator|admin
  (the controller reads its tokens file when it starts)

In another shell:

  export LAUNCHFLEET_SERVER=$LAUNCHFLEET_SERVER LAUNCHFLEET_CA=$LAUNCHFLEET_CA
  export LAUNCHFLEET_TOKEN=\$(cat $ROOT/$LF/admin-token)
  npx launchfleet jobs health com.example.hello
  npx launchfleet nodes describe $NODE_ID
  npx launchfleet events --follow
  npx lfctl --run-dir $ROOT/$LF/agent/run print system/com.example.hello
  curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep '^launchfleet_'

Logs are in $LF/logs/. Press Ctrl-C to stop everything.
TXT
while :; do
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "process $p stopped; see $LF/logs/"; done
  sleep 2
done
