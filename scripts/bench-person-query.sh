#!/usr/bin/env bash
# Load benchmark of the `person` query against the release binary on the embedded store:
# seeds N persons over GraphQL, then drives `person(id)` with wrk (random ids) and prints
# throughput and latency percentiles. Usage: scripts/bench-person-query.sh [N persons] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${1:-1000}
seconds=${2:-20}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p palier-api --bin palier
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TOKEN=bench-token
PALIER_DATA_DIR=$dir PALIER_BIND=127.0.0.1:$port PALIER_ADMIN_TOKEN=$TOKEN RUST_LOG=warn \
  target/release/palier serve & pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 scripts/bench/seed_persons.py "http://127.0.0.1:$port/graphql" "$TOKEN" "$persons" "$dir/ids.lua"
export IDS_LUA=$dir/ids.lua
wrk -t1 -c4 -d3s -s scripts/bench/person_query.lua "http://127.0.0.1:$port/graphql" >/dev/null # warm-up
wrk -t2 -c32 -d"${seconds}s" --latency -s scripts/bench/person_query.lua "http://127.0.0.1:$port/graphql" | tee "$dir/wrk.txt"
rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")
echo "| person query, $persons persons, 32 connections | ${rps} req/s | p99 ${p99} |"
