#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs (scripts/setup.sh),
# builds, lints, checks the plist model against the corpus beside the project (when present),
# and runs every test tier. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== setup"
bash scripts/setup.sh
echo "== lint"
npm run --silent lint
echo "== conformance over ../shared/corpus/plists"
if [ -d ../shared/corpus/plists ]; then
  node controller/bin/launchfleet.js conformance ../shared/corpus/plists --reasons test/conformance-reasons.tsv
else
  echo "no corpus beside the project: skipped"
fi
echo "== deploy checks (promtool, plist lint, unit, compose, manifests)"
bash deploy/check.sh
echo "== tests (runtime matrix: scripts/test-matrix.mjs)"
node scripts/run-tests.mjs --matrix "$@"
