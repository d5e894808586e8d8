#!/usr/bin/env bash
# The one check CI runs for deploy/: Prometheus rules and their unit tests (real promtool),
# the Prometheus and Alertmanager configs, the Grafana dashboard's queries, the agent's
# LaunchDaemon (launchfleet lint) and systemd unit (systemd-analyze verify), the NATS config
# with its operator-mode auth include (made by `launchfleet-controller nats-auth`),
# the scratch NATS image's staged root, the compose stack and the Kubernetes manifests, and that
# both mount every path the controller's config names (scripts/check-mounts.mjs), the agent's
# packaging (check-packaging.mjs, xmllint, shellcheck) and the GitHub workflows (actionlint).
# One line per check: "ok", "FAIL" (with the tool's output below it) or "skip" (tool missing).
# Exits non-zero when any check fails. Run from anywhere; needs node_modules (yaml, plist).
set -uo pipefail
cd "$(dirname "$0")/.."
deploy=deploy
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# run NAME CMD...: runs CMD quietly, prints one line, shows the output only on failure.
run() {
  local name="$1"
  shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"
    sed 's/^/     | /' "$tmp/out"
    failures=$((failures + 1))
  fi
}
# node-check SUBCOMMAND [ARG]: check-deploy.mjs prints its own ok/FAIL/skip lines.
node_check() {
  node "$deploy/scripts/check-deploy.mjs" "$@" || failures=$((failures + 1))
}
skip() { echo "skip $1: $2"; }
has() { command -v "$1" >/dev/null 2>&1; }

# ---- Prometheus
if has promtool; then
  run "promtool check rules $deploy/prometheus/rules/launchfleet-alerts.yml" \
    promtool check rules "$deploy/prometheus/rules/launchfleet-alerts.yml"
  for t in "$deploy"/prometheus/tests/*.yml; do
    run "promtool test rules $t" promtool test rules "$t"
  done
  run "promtool check config $deploy/prometheus/prometheus.yml (rule paths resolve)" \
    promtool check config "$deploy/prometheus/prometheus.yml"
  # Debian's promtool is built without Kubernetes discovery: check the file as it is where
  # promtool knows kubernetes_sd_configs, otherwise everything else in it (relabelling, rules)
  # with the discovery swapped for a static target.
  if promtool check config "$deploy/prometheus/prometheus-k8s.yml" >"$tmp/k8s-prom.out" 2>&1; then
    echo "ok   promtool check config $deploy/prometheus/prometheus-k8s.yml"
  elif grep -q 'field kubernetes_sd_configs not found' "$tmp/k8s-prom.out"; then
    node_check k8s-prometheus "$tmp/prometheus-k8s-static.yml"
    run "promtool check config prometheus-k8s.yml with a static target (this promtool lacks Kubernetes SD)" \
      promtool check config "$tmp/prometheus-k8s-static.yml"
  else
    echo "FAIL promtool check config $deploy/prometheus/prometheus-k8s.yml"
    sed 's/^/     | /' "$tmp/k8s-prom.out"
    failures=$((failures + 1))
  fi
else
  echo "FAIL promtool not installed (apt-get install prometheus)"
  failures=$((failures + 1))
fi
node_check rules
node_check metrics
node_check dashboard "$tmp/dashboard-queries.yml"
if has promtool && [ -s "$tmp/dashboard-queries.yml" ]; then
  run "promtool parses every dashboard query" promtool check rules "$tmp/dashboard-queries.yml"
fi

# ---- Alertmanager
if has amtool; then
  run "amtool check-config $deploy/alertmanager/alertmanager.yml" \
    amtool check-config "$deploy/alertmanager/alertmanager.yml"
else
  skip "amtool check-config" "amtool not installed (apt-get install prometheus-alertmanager)"
fi

# ---- the agent's service definitions
node_check plist
lint_cli=controller/dist/cli/launchfleet.js
if [ -f "$lint_cli" ]; then
  run "launchfleet lint $deploy/agent/com.launchfleet.agent.plist" \
    node controller/bin/launchfleet.js lint "$deploy/agent/com.launchfleet.agent.plist"
else
  skip "launchfleet lint $deploy/agent/com.launchfleet.agent.plist" "lint not built ($lint_cli missing)"
fi
node_check systemd
if has systemd-analyze; then
  # verify needs the unit's ExecStart to exist and the standard units beside it: a scratch root
  # with the system's units and a stand-in for the agent binary. It reports problems as
  # warnings with exit 0, so any output counts as a failure.
  verify_unit() {
    local root="$tmp/sdroot"
    mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/usr/local/lib/launchfleet/bin"
    cp -r /lib/systemd/system "$root/usr/lib/systemd/system"
    printf '#!/bin/sh\n' >"$root/usr/local/lib/launchfleet/bin/launchfleet-agent"
    chmod 755 "$root/usr/local/lib/launchfleet/bin/launchfleet-agent"
    cp "$deploy/agent/launchfleet-agent.service" "$root/etc/systemd/system/"
    local out
    out="$(systemd-analyze verify --man=no --root="$root" launchfleet-agent.service 2>&1)" || {
      echo "$out"
      return 1
    }
    [ -z "$out" ] || {
      echo "$out"
      return 1
    }
  }
  run "systemd-analyze verify $deploy/agent/launchfleet-agent.service" verify_unit
else
  skip "systemd-analyze verify" "systemd-analyze not installed (the structural check above still ran)"
fi
node_check agent-config

# ---- the agent's packages: Debian (scripts/build-deb.sh, deploy/debian) and macOS
# (deploy/macos: pkg build script, LaunchDaemon, MDM profile). Nothing macOS-only runs here: the
# profile and entitlements are read by the project's own plist parser (plutil is macOS-only),
# xmllint checks they are well-formed XML, and shellcheck reads every packaging script.
node "$deploy/scripts/check-packaging.mjs" macos || failures=$((failures + 1))
node "$deploy/scripts/check-packaging.mjs" debian || failures=$((failures + 1))
if has xmllint; then
  for f in "$deploy/macos/launchfleet-agent.mobileconfig" "$deploy/macos/entitlements.plist" "$deploy/agent/com.launchfleet.agent.plist"; do
    run "xmllint --noout $f" xmllint --noout --nonet "$f"
  done
else
  skip "xmllint" "not installed (apt-get install libxml2-utils); the plist parser check above still ran"
fi
packaging_scripts=(scripts/build-agent.sh scripts/build-deb.sh scripts/fetch-node.sh
  "$deploy/debian/postinst" "$deploy/debian/prerm" "$deploy/debian/postrm"
  "$deploy/macos/build-pkg.sh" "$deploy/macos/scripts/preinstall" "$deploy/macos/scripts/postinstall")
if has shellcheck; then
  run "shellcheck ${packaging_scripts[*]}" shellcheck "${packaging_scripts[@]}"
else
  echo "FAIL shellcheck not installed (apt-get install shellcheck)"
  failures=$((failures + 1))
fi
# ---- CI workflows (GitHub Actions; the macOS one cannot run here)
node "$deploy/scripts/check-packaging.mjs" workflows || failures=$((failures + 1))

# ---- NATS
if has nats-server; then
  # nats.conf includes the operator-mode auth include (made from a key store by
  # `launchfleet-controller nats-auth`) by a path relative to itself: lay both out as a server
  # sees them, with the include made from a fresh key store, and let nats-server parse the lot
  # (operator JWT, system account, the `full` account resolver, preloaded account JWTs). -t
  # creates the resolver's directory, so it points into the scratch root, not at /data/jwt.
  # Without the include the same config must be refused (so -t really reads it).
  nats_include="$(sed -n 's/^[[:space:]]*include[[:space:]]\{1,\}"\{0,1\}\([^[:space:]";]*\).*/\1/p' "$deploy/nats/nats.conf" | head -n 1)"
  nats_with_auth() {
    local root="$tmp/nats-auth-root"
    mkdir -p "$root/etc/nats"
    cp "$deploy/nats/nats.conf" "$root/etc/nats/nats.conf"
    [ -n "$nats_include" ] || { echo "nats.conf has no include line"; return 1; }
    node controller/bin/launchfleet-controller.js nats-auth --keys "$root/keys" --create \
      --resolver-dir "$root/data/jwt" --out "$root/etc/nats/$nats_include" &&
      NATS_SERVER_NAME=nats-1 nats-server -t -c "$root/etc/nats/nats.conf"
  }
  nats_without_auth() {
    local root="$tmp/nats-no-auth-root"
    mkdir -p "$root/etc/nats"
    cp "$deploy/nats/nats.conf" "$root/etc/nats/nats.conf"
    ! NATS_SERVER_NAME=nats-1 nats-server -t -c "$root/etc/nats/nats.conf"
  }
  if [ -f controller/dist/main.js ]; then
    run "nats-server -t $deploy/nats/nats.conf with the auth include from launchfleet-controller nats-auth" nats_with_auth
  else
    skip "nats-server -t $deploy/nats/nats.conf with its auth include" "controller not built (controller/dist missing)"
  fi
  run "nats-server -t refuses $deploy/nats/nats.conf without its auth include ($nats_include)" nats_without_auth
  # The scratch image's root, staged as build-nats-image.sh does for docker build: both
  # binaries must start inside it with nothing but what was staged.
  stage_and_run() {
    bash "$deploy/docker/build-nats-image.sh" --stage-only "$tmp/nats-ctx" &&
      chroot "$tmp/nats-ctx/rootfs" /nats-server --version &&
      chroot "$tmp/nats-ctx/rootfs" /bin/busybox --list | grep -qx wget
  }
  if [ "$(id -u)" -eq 0 ] && has chroot; then
    run "nats image root staged by build-nats-image.sh runs nats-server and the healthcheck's busybox wget (chroot)" stage_and_run
  else
    skip "nats image root" "needs root for chroot"
  fi
else
  skip "nats-server -t" "nats-server not installed"
fi
run "bash -n $deploy/check.sh $deploy/docker/build-nats-image.sh" \
  bash -c "bash -n '$deploy/check.sh' && bash -n '$deploy/docker/build-nats-image.sh'"
node_check dockerfiles

# ---- compose
# Compose prints what it would ignore (e.g. swarm-only keys) as warnings with exit 0: any
# output counts as a failure.
compose_config() {
  local out
  out="$("$@" -f "$deploy/compose/compose.yml" config -q 2>&1)" || {
    echo "$out"
    return 1
  }
  [ -z "$out" ] || {
    echo "$out"
    return 1
  }
}
if docker compose version >/dev/null 2>&1; then
  run "docker compose config $deploy/compose/compose.yml" compose_config docker compose
elif has docker-compose; then
  run "docker-compose config $deploy/compose/compose.yml" compose_config docker-compose
else
  skip "docker compose config" "neither docker compose nor docker-compose installed (structural check below)"
fi
node_check compose
node "$deploy/scripts/check-mounts.mjs" compose || failures=$((failures + 1))

# ---- Kubernetes
if has kubectl; then
  run "kubectl kustomize $deploy/k8s" kubectl kustomize "$deploy/k8s"
else
  skip "kubectl kustomize" "kubectl not installed (structural check below)"
fi
node_check k8s
node "$deploy/scripts/check-mounts.mjs" k8s || failures=$((failures + 1))

if [ "$failures" -gt 0 ]; then
  echo "deploy/check.sh: $failures check(s) failed"
  exit 1
fi
echo "deploy/check.sh: all checks passed"
