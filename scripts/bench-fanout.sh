#!/usr/bin/env bash
# Subscription fan-out benchmark (issue 16), release build on the embedded store: for each
# count of subscribers, N graphql-ws clients in one Node process (tests/e2e/js/fanout.mjs, the
# pinned `graphql-ws` package) subscribe to personLevelChanged for one establishment, then one
# level change per round is fanned out to all of them; prints p50/p99/max (ms, from the
# mutation's send to each receipt), messages delivered, and the server's resident memory with
# the subscribers connected.
# Usage: scripts/bench-fanout.sh [subscriber counts, default "100 1000"] [rounds, default 5].
# FANOUT_NOISE=<writes/s> adds writes at another establishment meanwhile (see fanout.mjs);
# PALIER_BIN=<path> runs that binary instead of building this checkout's (to compare builds).
set -euo pipefail
cd "$(dirname "$0")/.."
counts=${1:-100 1000}
rounds=${2:-5}
source scripts/bench/server.sh
palier_binary
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"   # a socket per subscriber, on both sides
[ -d tests/e2e/js/node_modules ] || (cd tests/e2e/js && npm ci --silent --no-audit --no-fund)
TOKEN=bench-token
echo "| subscribers | noise (writes/s elsewhere) | rounds | delivered / expected | p50 | p99 | max | last subscriber per round (ms) | server RSS |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|---:|"
for n in $counts; do
  start_server PALIER_RATE_LIMIT_PER_SECOND=0
  # Resident memory sampled while the subscribers are connected (after the warm-up).
  ( sleep $(( 3 + n / 400 )); awk '/VmRSS/ {print $2}' "/proc/$pid/status" > "$dir/rss" ) & sampler=$!
  out=$(node tests/e2e/js/fanout.mjs "$url" "$TOKEN" "$n" "$rounds")
  wait "$sampler"
  rss=$(cat "$dir/rss" 2>/dev/null || echo 0)
  python3 - "$out" "$rss" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); rss = int(sys.argv[2] or 0)
print(f"| {r['subscribers']:,} | {r.get('noisePerSecond', 0):,} | {r['rounds']} | {r['delivered']:,} / {r['expected']:,} | {r['p50']} ms | {r['p99']} ms | {r['max']} ms | {', '.join(str(t) for t in r['lastPerRound'])} | {rss / 1024:.0f} MB |")
PY
  stop_server
done
