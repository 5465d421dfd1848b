#!/usr/bin/env bash
# Load benchmark of the `person` query against the release binary on the embedded store:
# seeds N persons over GraphQL, then drives `person(id)` with wrk (random ids) and prints
# throughput and latency percentiles. Usage: scripts/bench-person-query.sh [N persons] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${1:-1000}
seconds=${2:-20}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
source scripts/bench/server.sh
palier_binary
start_server
trap stop_server EXIT
python3 scripts/bench/seed_persons.py "$url" "$TOKEN" "$persons" "$dir/ids.lua"
export IDS_LUA=$dir/ids.lua
wrk -t1 -c4 -d3s -s scripts/bench/person_query.lua "$url" >/dev/null # warm-up
wrk -t2 -c32 -d"${seconds}s" --latency -s scripts/bench/person_query.lua "$url" | tee "$dir/wrk.txt"
rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")
echo "| person query, $persons persons, 32 connections | ${rps} req/s | p99 ${p99} |"
