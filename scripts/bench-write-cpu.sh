#!/usr/bin/env bash
# Server CPU time per one-element write, for comparing builds on a shared machine (req/s moves
# with the machine's load far more than the CPU a request costs). For each binary given, in
# turn, `rounds` times: start it on a fresh data directory, seed `persons` persons, warm up,
# then `recordKnowledgeElements` (one element, random persons) with wrk at `connections` for
# `seconds`; print req/s, p99, errors and the server's user+system CPU per request (from
# /proc/<pid>/stat), then each thread group's time running and waiting for a core per request
# (from /proc/<pid>/task/*/schedstat: on 2 shared cores the writer waits about as long as it
# runs). Usage:
#   scripts/bench-write-cpu.sh [persons=3000] [seconds=8] [connections=64] [rounds=3] BIN...
# e.g. scripts/bench-write-cpu.sh 3000 8 64 5 /tmp/palier-before target/release/palier
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${1:-3000}; seconds=${2:-8}; connections=${3:-64}; rounds=${4:-3}
shift 4 || true
[ "$#" -gt 0 ] || set -- "${CARGO_TARGET_DIR:-target}/release/palier"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
source scripts/bench/server.sh
export TOKEN=bench-token
tick=$(getconf CLK_TCK)
threads() { # thread name, ns running, ns waiting for a core (summed over threads of one name)
  for t in /proc/"$pid"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(cat "$t/schedstat" 2>/dev/null || echo 0 0 0)"
  done | awk '{r[$1] += $2; w[$1] += $3} END {for (k in r) print k, r[k], w[k]}' | sort
}
for round in $(seq "$rounds"); do
  for palier in "$@"; do
    start_server PALIER_RATE_LIMIT_PER_SECOND=0
    python3 scripts/bench/seed_persons.py "$url" "$TOKEN" "$persons" "$dir/ids.lua" >/dev/null
    export IDS_LUA=$dir/ids.lua
    wrk -t2 -c"$connections" -d2s -s scripts/bench/record_elements.lua "$url" >/dev/null
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    threads_before=$(threads)
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/bench/record_elements.lua "$url")
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    threads_after=$(threads)
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "round $round $palier: $(awk '/Requests\/sec/ {printf "%.0f req/s", $2}' <<<"$out"), p99 $(awk '$1 == "99%" {print $2}' <<<"$out"), errors $(awk '/graphql-errors/ {print $2}' <<<"$out"), server CPU $(python3 -c "print(round(($after - $before) / $tick * 1e6 / $requests, 1))") µs/request, load $(cut -d' ' -f1 /proc/loadavg)"
    # Threads that ended during the row (blocking-pool ones) would count negative: left out.
    join <(echo "$threads_before") <(echo "$threads_after") | awk -v n="$requests" '
      $4 > $2 {printf "    %-24s runs %6.1f µs, waits %6.1f µs for a core, per request\n", $1, ($4 - $2) / n / 1000, ($5 - $3) / n / 1000}'
    stop_server
  done
done
