#!/usr/bin/env bash
# Load benchmark of the write path through the real server (release build, embedded store):
# for 300 and 3,000 persons, `{ __typename }`, the `person` query and `recordKnowledgeElements`
# (one element per request, random persons) at 1 / 32 / 64 connections, each with req/s, p50,
# p99 and errors (HTTP or GraphQL), and for writes the store's group commits during the row (appends
# per commit, mean time to durable, from /metrics); then the store's own 64-writer figure from the same run,
# and for diagnosis the store taking the write rows' own events (3,000 persons, the server's payload and metadata).
# Usage: scripts/bench-writes.sh [seconds per row, default 10]. Prints a Markdown table.
# PALIER_BIN=<path> runs that binary instead of building this checkout's (to compare builds).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
source scripts/bench/server.sh
palier_binary
export TOKEN=bench-token
rows=()
commits() { # the store's commit counters from /metrics: commits appends seconds
  curl -sf -H "authorization: Bearer $TOKEN" "${url%/graphql}/metrics" | awk '
    /^palier_store_commits_total / {c=$2} /^palier_store_commit_appends_total / {a=$2}
    /^palier_store_commit_duration_seconds_sum / {s=$2} END {print c, a, s}'
}
row() { # name persons connections script
  local out before after
  local threads=2; [ "$3" -lt 2 ] && threads=1   # wrk needs a connection per thread
  before=$(commits)
  out=$(wrk -t"$threads" -c"$3" -d"${seconds}s" --latency -s "$4" "$url" 2>/dev/null)
  after=$(commits)
  local rps p50 p99 non2xx gqlerr
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out"); non2xx=${non2xx:-0}
  gqlerr=$(awk '/graphql-errors/ {print $2}' <<<"$out"); gqlerr=${gqlerr:-0}
  # Group commits during the row: appends per commit and mean time to durable (writes only).
  local group
  group=$(awk -v b="$before" -v a="$after" 'BEGIN {split(b, x, " "); split(a, y, " ");
    c = y[1] - x[1]; if (c > 0) printf "%.1f / %.2f ms", (y[2] - x[2]) / c, (y[3] - x[3]) * 1000 / c; else print "–"}')
  rows+=("| $1 | $2 | $3 | $rps | $p50 | $p99 | $((non2xx + gqlerr)) | $group |")
  echo "${rows[-1]}" >&2
}
for persons in 300 3000; do
  start_server
  python3 scripts/bench/seed_persons.py "$url" "$TOKEN" "$persons" "$dir/ids.lua"
  export IDS_LUA=$dir/ids.lua
  wrk -t1 -c4 -d2s -s scripts/bench/person_query.lua "$url" >/dev/null # warm-up
  row '`{ __typename }`' "$persons" 64 scripts/bench/typename.lua
  row '`person` query' "$persons" 32 scripts/bench/person_query.lua
  for c in 1 32 64; do row '`recordKnowledgeElements`, 1 element' "$persons" "$c" scripts/bench/record_elements.lua; done
  stop_server
done
bench=$(PALIER_BENCH_SECONDS=3 PALIER_BENCH_EVENTS=100000 cargo bench -q -p palier-store --bench store 2>/dev/null)
store=$(awk -F'|' '/64 concurrent writer/ {gsub(/ /, "", $3); print $3}' <<<"$bench")
shaped=$(awk -F'|' '/the server.s events/ {gsub(/ /, "", $3); print $3}' <<<"$bench")
echo
echo "| load | persons | connections | req/s | p50 | p99 | errors | appends per commit / mean commit |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "store alone, durable single-event appends from 64 writers, same run: ${store} events/s"
echo "(diagnostic, not the aim's figure: the same 64 writers over 3,000 persons with the server's events: ${shaped} events/s)"
