#!/usr/bin/env bash
# The project's test command (the one the README names and CI runs): every test of the
# workspace, then one closing line that sums them ("tests: N passed, N failed").
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The black-box suites also drive real JavaScript clients (tests/e2e/js, pinned by its lock
# file); without npm they say they skipped.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix tests/e2e/js --no-audit --no-fund --loglevel=error >/dev/null
else
  echo "npm not found: the JavaScript client suites will be skipped"
fi
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
